"""`process-engine serve` and its safe default (CONTRACT §8): without users, every caller is the
administrator, so the service refuses to listen beyond loopback unless the operator says `--insecure`."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from engine.security.authentication import hash_password
from tests.support.common import ROOT
from tests.support.server import free_port


def serve(tmp_path: Path, *args: str, toml: str = "", env: dict[str, str] | None = None) -> subprocess.Popen:
    config = tmp_path / "settings.toml"
    config.write_text(f'services = []\n[storage]\nurl = "sqlite:///{tmp_path / "engine.db"}"\n{toml}')
    return subprocess.Popen([sys.executable, "-m", "config.cli", "--config", str(config), "serve", *args],
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def came_up(port: int, process: subprocess.Popen) -> bool:
    """Whether the service came up on 127.0.0.1:port (it listens on every address)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        try:
            return requests.get(f"http://127.0.0.1:{port}/infinica-process-engine/health/live",
                                timeout=5).status_code == 200
        except requests.ConnectionError:
            time.sleep(0.2)
    return False


def answers(port: int, process: subprocess.Popen) -> bool:
    """Whether the service came up, which is stopped then."""
    try:
        return came_up(port, process)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


@pytest.mark.parametrize("how", [["--host", "0.0.0.0"], ["--host", "::"], ["--host", "192.0.2.7"], []],
                         ids=["any-ipv4", "any-ipv6", "an-address", "PE_HOST"])
def test_without_users_a_non_loopback_bind_is_refused(tmp_path, how):
    port = free_port()
    process = serve(tmp_path, *how, "--port", str(port), env={} if how else {"PE_HOST": "0.0.0.0"})
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "refusing to listen" in err and "--insecure" in err and "[[auth.users]]" in err
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/infinica-process-engine/health/live", timeout=5)


def test_insecure_lets_the_operator_bind_everywhere_without_users(tmp_path):
    port = free_port()
    assert answers(port, serve(tmp_path, "--host", "0.0.0.0", "--port", str(port), "--insecure"))


def test_with_users_any_address_is_allowed(tmp_path):
    port = free_port()
    users = f'[[auth.users]]\nname = "root"\npassword_hash = "{hash_password("s3cret-root")}"\nroles = ["admin"]\n'
    assert answers(port, serve(tmp_path, "--host", "0.0.0.0", "--port", str(port), toml=users))


def idle_connection_closed(port: int, idle_s: float) -> bool:
    """Whether the service closed a kept-alive connection left idle for `idle_s` after one answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"GET /infinica-process-engine/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += conn.recv(4096)
        head, _, body = answer.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
        while len(body) < length:
            body += conn.recv(4096)
        time.sleep(idle_s)
        conn.settimeout(0.5)
        try:
            return conn.recv(1) == b""
        except socket.timeout:
            return False  # still open: nothing to read yet


@pytest.mark.parametrize("keepalive_s, closed", [(1, True), (30, False)])
def test_an_idle_connection_is_kept_for_server_keepalive_s(tmp_path, keepalive_s, closed):
    port = free_port()
    process = serve(tmp_path, "--port", str(port), toml=f"[server]\nkeepalive_s = {keepalive_s}\n")
    try:
        assert came_up(port, process)
        assert idle_connection_closed(port, 3.0) is closed
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
