"""The house's walls (issue 16), as import-linter contracts in pyproject.toml: the engine imports no
door, wire format or configuration; only storage speaks SQL; the doors and the command line reach storage
only through the engine's operations; no package's modules import each other in a circle. The cycles still to break are listed there, and a listed import that is gone fails the check too."""
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
    assert "0 broken" in done.stdout and "4 kept" in done.stdout, done.stdout
