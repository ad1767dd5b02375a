"""Served processes: a real `process-engine serve` (gunicorn) started on a free port, and its accounts.

A test module and database get one (the `server` fixture of tests/conftest.py), driven over real HTTP.
The server runs on a free port with settings of its own (a repository of test definitions beside the
samples, quick timers, a short maximum timeout). On PostgreSQL each server has a schema of its own,
but the tests of a module share their server: they filter by their own externalIds.
"""
from __future__ import annotations

import base64
from contextlib import contextmanager
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import requests

from tests.support.common import ROOT, SAMPLES, write_definition

ROOT_PATH = "/infinica-process-engine"
SERVICES = "[[services]]\nid = 'report'\nprocessUri = 'services/report.ipd'\n"
USERS = {"root": ("root-secret", ["admin"]), "clerk": ("clerk-secret", ["clerks"])}  # the `secured` fixture's

DEFINITIONS = {
    "hold.ipd": '<assign id="a" name="x">1</assign><wait id="hold"/><assign id="b" name="after" select="concat($x, \'!\')"/>',
    "done.ipd": '<endElement id="end"/>',
    "echo.ipd": '<assign id="a" name="out" select="concat(\'echo \', $in)"/>',
    "spin.ipd": '<assign id="i" name="i">0</assign><while id="w" test="true()"><assign id="n" name="i" select="$i + 1"/>'
                '<invoke id="nap" module="util" operation="sleep"><param name="ms">5</param></invoke></while>',
    "fail.ipd": '<fail id="f" type="Broken" message="it broke"/>',
    # 50 rounds of 100 ms; `trail` grows by one mark a round, so a round run twice or lost shows
    "count.ipd": '<assign id="i0" name="i">0</assign><assign id="t0" name="trail">x</assign>'
                 '<while id="w" test="$i &lt; 50"><assign id="n" name="i" select="$i + 1"/>'
                 '<assign id="t" name="trail" select="concat($trail, \'.\')"/>'
                 '<invoke id="nap" module="util" operation="sleep"><param name="ms">100</param></invoke></while>',
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A running service: `url(path)` is {root}/rest/{path}; `root(path)` is {root}/{path}."""

    def __init__(self, base: str, process: subprocess.Popen, log: Path) -> None:
        self.base, self.process, self.log = base, process, log
        self.session = requests.Session()

    def url(self, path: str) -> str:
        return f"{self.base}{ROOT_PATH}/rest/{path.lstrip('/')}"

    def root(self, path: str) -> str:
        return f"{self.base}{ROOT_PATH}/{path.lstrip('/')}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        return self.session.request(method, self.url(path), **kwargs)

    def workers(self) -> list[int]:
        """The process IDs of the gunicorn master's workers."""
        children: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            children += [int(p) for p in (task / "children").read_text().split()]
        return children

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_server(folder: Path, storage_url: str, extra_toml: str = "", env: dict[str, str] | None = None) -> Server:
    repo = folder / "repo"
    shutil.copytree(SAMPLES, repo, dirs_exist_ok=True)
    for name, body in DEFINITIONS.items():
        write_definition(repo, name, body, '<parameter name="in">nobody</parameter>' if name == "echo.ipd" else "")
    port = free_port()
    config = folder / "settings.toml"
    config.write_text(f'''[storage]\nurl = "{storage_url}"\n[repository]\npath = "{repo}"\n'''
                      f'''[engine]\ntimer_poll_ms = 100\nmax_timeout_ms = 20000\nsave_interval_ms = 200\n'''
                      f'''node_id = "rest-{uuid.uuid4().hex[:6]}"\n[cluster]\nheartbeat_ms = 200\n{extra_toml}''')
    log = folder / "server.log"
    # Kept-alive connections outlive any pause between a module's tests: at gunicorn's 5 s, a request
    # sent on one just as the server closed it was reset unread (a CI run lost a test so). The tests'
    # shared session keeps one connection, and so one worker, for calls that expect the same node.
    # Its temporary files (large bodies, spooled) go to a folder of its own, where tests can see them.
    (folder / "tmp").mkdir(exist_ok=True)
    env = dict(os.environ, PROCESS_ENGINE_CONFIG=str(config), PYTHONPATH=str(ROOT), PE_THREADS="16",
               PE_KEEPALIVE="75", TMPDIR=str(folder / "tmp"), **(env or {}))
    process = subprocess.Popen([sys.executable, "-m", "config.cli", "--config", str(config), "serve",
                                "--port", str(port)], cwd=folder, env=env, stdout=log.open("w"),
                               stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{log.read_text()}")
            try:
                if requests.get(server.root("health/ready"), timeout=10).status_code == 200:
                    return server
            except requests.RequestException:  # not listening yet, or slow on a busy machine
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not get ready:\n{log.read_text()}")
    except BaseException:
        server.stop()  # never leave a server behind
        raise


@contextmanager
def sqlite_server(factory: Any, name: str, extra_toml: str = "") -> Iterator[Server]:
    """A served node of its own on a fresh SQLite file, with `extra_toml` settings (a module fixture's,
    for what the shared servers must not change: limits, accounts); stopped however the module ends."""
    folder = factory.mktemp(name)
    running = start_server(folder, f"sqlite:///{folder / 'engine.db'}", extra_toml)
    try:
        yield running
    finally:
        running.stop()


def unique() -> str:
    """An externalId of this test's own, to find its processes among others'."""
    return f"t-{uuid.uuid4().hex[:12]}"


def basic(name: str, password: str | None = None) -> dict[str, str]:
    """The Authorization header of HTTP Basic for one of USERS (with its password unless one is given)."""
    token = base64.b64encode(f"{name}:{USERS[name][0] if password is None else password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}
