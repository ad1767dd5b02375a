"""The toolkits of other ecosystems that the client tests drive (JAX-WS, PHP's SoapClient, gSOAP, npm
packages), installed from Debian's packages or the npm registry when the machine lacks them, so a fresh
machine and CI need nothing by hand. A toolkit that cannot be installed fails the test that needs it: it
is never skipped."""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

_installing = threading.Lock()


def require(commands: list[str], packages: list[str]) -> dict[str, str]:
    """The paths of `commands`, installing `packages` with apt-get first when one is missing."""
    with _installing:
        if any(shutil.which(command) is None for command in commands):
            apt_install(packages)
        found = {command: shutil.which(command) for command in commands}
    missing = [command for command, path in found.items() if path is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} still missing after installing {', '.join(packages)}")
    return found  # type: ignore[return-value]


def apt_install(packages: list[str]) -> None:
    """Install Debian packages (as root, or through passwordless sudo); a failure fails the test."""
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = [*prefix, "apt-get", "install", "-y", "-q", *packages]
    done = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900)
    if done.returncode:  # the package lists may be missing or stale on a fresh machine
        subprocess.run([*prefix, "apt-get", "update", "-q"], capture_output=True, env=env, timeout=900)
        done = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900)
    if done.returncode:
        pytest.fail(f"apt-get could not install {', '.join(packages)}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def npm_ci(folder: Path, marker: str) -> dict[str, str]:
    """`node`, `npm` and the folder's npm packages, installed from its lock file when `marker` (a
    package the lock installs) is missing under node_modules."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail("the Node.js tools need node (>= 20.19) and npm on the PATH")
    with _installing:
        if not (folder / "node_modules" / marker).is_dir():
            done = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=folder,
                                  capture_output=True, text=True, timeout=600)
            if done.returncode:
                pytest.fail(f"npm ci in {folder} failed:\n{done.stdout}\n{done.stderr}")
    return {"node": node, "npm": npm}
