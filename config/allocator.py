"""glibc's allocator, told how a worker uses memory (issue 15: a 10 MB data store's memory goes back).

Where the C library is not glibc, nothing here does anything.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import Any, Callable

# mallopt's parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
LARGE = 1 << 20
KEPT_FREE = 4 << 20
# The operator's own choice, in glibc's environment variables, is left as it is.
OPERATOR_SETTINGS = ("GLIBC_TUNABLES", "MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def _libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def for_a_worker() -> bool:
    """Settle how a request-serving process allocates; call it before the process starts threads.

    - One arena for every thread. By default each thread that meets contention gets an arena of its
      own, up to eight per core, and what a request thread frees mostly stays in its arena: a worker
      that had taken a 10 MB data store through a few of its threads kept 2.7x the document, against
      0.3x with one arena. The request threads take turns holding the GIL, so they rarely contend.
    - Blocks of `LARGE` and more mapped apart, and given back as soon as they are freed. By default
      glibc raises that threshold to the largest block freed so far, up to 32 MB, and from then on a
      body's or an answer's megabytes stay in the heap beside the next call's.
    - Up to `KEPT_FREE` of free memory kept at the top of the heap for the next calls; the rest goes
      back when a large call has ended (`config.wsgi._ReturnsMemory`).

    Nothing is changed where the operator tuned glibc through its environment (`OPERATOR_SETTINGS`).
    """
    libc = _libc()
    if libc is None or any(name in os.environ for name in OPERATOR_SETTINGS):
        return False
    return all([libc.mallopt(_M_ARENA_MAX, 1), libc.mallopt(_M_MMAP_THRESHOLD, LARGE),
                libc.mallopt(_M_TRIM_THRESHOLD, KEPT_FREE)])


def malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, which hands freed memory back to the system."""
    libc = _libc()
    return libc.malloc_trim if libc is not None else None
