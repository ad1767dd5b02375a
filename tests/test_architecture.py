"""The house's walls (issue 16), as import-linter contracts in pyproject.toml: the engine imports no door, wire
format or configuration; its model and support modules are pure (no storage, runtime or SQL); only storage
speaks SQL; the doors and the command line use only the engine's public
modules; no package's modules import each other in a circle (none is excused; an excused import that is gone
would fail the check too)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.common import ROOT


def test_the_import_contracts_hold():
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint), "--no-logo", "--no-cache", "pyproject.toml"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout and "5 kept" in done.stdout, done.stdout


def test_every_module_of_the_engine_is_public_or_kept_from_the_doors():
    """A new module of the engine is either listed as the doors' to use, or walled off from them."""
    import tomllib

    import engine

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    walled = next(c for c in contracts if c["name"].startswith("the doors and the command line use only"))
    kept_off = {name.removeprefix("engine.") for name in walled["forbidden_modules"] if name.count(".") == 1}
    modules = {path.stem for path in (ROOT / "engine").glob("*.py") if path.stem != "__init__"} | \
        {path.parent.name for path in (ROOT / "engine").glob("*/__init__.py")}
    assert not set(engine.__all__) & kept_off
    assert modules == set(engine.__all__) | kept_off, modules ^ (set(engine.__all__) | kept_off)


def test_the_engine_is_the_host_its_runtime_parts_name(tmp_path):
    """The runtime's parts type their engine as runtime.host.Host: the engine must have all of it."""
    import inspect

    from config.settings import load_settings
    from engine.runtime.node import ProcessEngine
    from engine.runtime.host import Host

    settings = load_settings({}).with_overrides(storage={"url": f"sqlite:///{tmp_path / 'host.db'}"}, services=())
    pe = ProcessEngine(settings)
    try:
        for name in Host.__annotations__:
            assert hasattr(pe, name), name
        for name, member in vars(Host).items():
            if inspect.isfunction(member) and not name.startswith("_"):
                assert list(inspect.signature(getattr(pe, name)).parameters) == \
                    list(inspect.signature(member).parameters)[1:], name
    finally:
        pe.db.dispose()
