"""How a worker allocates (issue 15): the megabytes of a large call go back to the system when freed."""
from __future__ import annotations

import os
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


# 200,000 small strings read while a survivor of their size is made every 2,000 (another thread's cache
# entry, a connection's state): the strings are freed, the survivors stay. Printed: what stays
# resident, in MB.
SURVIVORS = """
import ctypes, sys
from contextlib import nullcontext
from pathlib import Path
from config.allocator import small_objects_on_malloc

def resident():
    return next(int(line.split()[1]) // 1024 for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith("VmRSS:"))

switch = small_objects_on_malloc() if sys.argv[1] == "on malloc" else None
assert (switch is None) == (sys.argv[1] == "pymalloc")
kept, bulk = [], []
before = resident()
with switch.held() if switch else nullcontext():
    for i in range(200_000):
        bulk.append("value %07d " % i + "x" * 100)
        if i % 2_000 == 0:
            kept.append("survivor %07d " % i + "y" * 100)
del bulk
ctypes.CDLL("libc.so.6").malloc_trim(0)
print(resident() - before)
"""

# Blocks made by either allocator and freed, grown or shrunk under the other, of every small size.
CROSSING = """
from config.allocator import small_objects_on_malloc

switch = small_objects_on_malloc()
made = [bytes(n) for n in range(600)] + [[0] * n for n in range(70)]
with switch.held():
    made_on_malloc = [bytes(n) for n in range(600)] + [[0] * n for n in range(70)]
    for items in made[600:]:
        items.extend(range(50))  # realloc of pymalloc's blocks
    del made[:300]
for items in made_on_malloc[600:]:
    items.extend(range(50))  # realloc of malloc's blocks
    del items[10:]
del made, made_on_malloc
with switch.held():
    with switch.held():  # nested holders (two large calls at once)
        inner = [str(n) for n in range(10_000)]
    outer = [str(n) for n in range(10_000)]
del inner, outer
print("ok")
"""


def run_python(script: str, *args: str, env: dict[str, str] | None = None, flags: tuple[str, ...] = ()) -> str:
    done = subprocess.run([sys.executable, *flags, "-c", script, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


GLIBC = pytest.mark.skipif(allocator.small_objects_on_malloc() is None or not Path("/proc/self/status").exists(),
                           reason="CPython with pymalloc on glibc and Linux only")


@GLIBC
def test_small_objects_read_on_malloc_go_back_though_some_made_meanwhile_survive():
    assert int(run_python(SURVIVORS, "pymalloc")) >= 16  # each survivor pins a pymalloc arena
    assert int(run_python(SURVIVORS, "on malloc")) <= 4


@GLIBC
def test_blocks_made_by_either_allocator_are_freed_and_resized_under_the_other():
    assert run_python(CROSSING) == "ok"


@GLIBC
@pytest.mark.parametrize("setting", ["PYTHONMALLOC=malloc", "PYTHONMALLOC=pymalloc_debug", "-X dev",
                                     "-X tracemalloc"])
def test_the_switch_is_not_offered_where_pymalloc_is_not_plain(setting):
    env, flags = dict(os.environ), ()
    if setting.startswith("PYTHONMALLOC"):
        env["PYTHONMALLOC"] = setting.split("=")[1]
    else:
        flags = tuple(setting.split())
    script = "from config.allocator import small_objects_on_malloc; print(small_objects_on_malloc())"
    assert run_python(script, env=env, flags=flags) == "None"
