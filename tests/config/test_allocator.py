"""How a worker allocates (issue 15): the megabytes of a large call go back to the system when freed."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config import allocator

ROOT = Path(__file__).resolve().parents[2]

# A request thread takes a large body once (glibc then raises its mapping threshold to that size), then
# 10 MB more in 2 MB pieces, frees them, and keeps something small. Printed: what stays resident, in MB.
CALLS = """
import sys, threading
from pathlib import Path
from config.allocator import for_a_worker

def resident():
    return next(int(line.split()[1]) // 1024 for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith("VmRSS:"))

if sys.argv[1] == "worker":
    assert for_a_worker()
kept = []

def call():
    body = b"b" * (30 << 20)
    del body
    pieces = [b"x" * (2 << 20) for _ in range(5)]
    kept.append(b"k" * 1000)
    del pieces

before = resident()
thread = threading.Thread(target=call)
thread.start()
thread.join()
print(resident() - before)
"""


def kept_mb(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", CALLS, mode], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=True)
    return int(done.stdout)


@pytest.mark.skipif(allocator.malloc_trim() is None or not Path("/proc/self/status").exists(),
                    reason="glibc on Linux only: elsewhere the allocator is left as it is")
def test_a_worker_hands_back_the_megabytes_a_large_call_freed():
    assert kept_mb("default") >= 8  # glibc's own settings keep them: the reason for_a_worker exists
    assert kept_mb("worker") <= 2


@pytest.mark.skipif(allocator.malloc_trim() is None or not Path("/proc/self/status").exists(),
                    reason="glibc on Linux only: elsewhere the allocator is left as it is")
def test_an_operators_own_glibc_settings_are_left_as_they_are():
    done = subprocess.run([sys.executable, "-c", "from config.allocator import for_a_worker; print(for_a_worker())"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
                          env={"PATH": "/usr/bin:/bin", "MALLOC_ARENA_MAX": "4"})
    assert done.stdout.strip() == "False"
