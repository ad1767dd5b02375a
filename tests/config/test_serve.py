"""`process-engine serve` and its safe default (CONTRACT §8): without users, every caller is the
administrator, so the service refuses to listen beyond loopback unless the operator says `--insecure`."""
from __future__ import annotations

import os
import signal
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


def answers(port: int, process: subprocess.Popen) -> bool:
    """Whether the service came up on 127.0.0.1:port (it listens on every address)."""
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                return requests.get(f"http://127.0.0.1:{port}/infinica-process-engine/health/live",
                                    timeout=5).status_code == 200
            except requests.ConnectionError:
                time.sleep(0.2)
        return False
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
