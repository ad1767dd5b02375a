"""glibc's allocator, told how a worker uses memory (issue 15: a 10 MB data store's memory goes back).

Where the C library is not glibc, nothing here does anything.
"""
from __future__ import annotations

from contextlib import contextmanager
import ctypes
import ctypes.util
import os
import sys
import threading
import tracemalloc
from typing import Any, Callable, Iterator

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


class _Allocator(ctypes.Structure):
    """CPython's PyMemAllocatorEx: a context and four C functions."""

    _fields_ = [("ctx", ctypes.c_void_p), ("malloc", ctypes.c_void_p), ("calloc", ctypes.c_void_p),
                ("realloc", ctypes.c_void_p), ("free", ctypes.c_void_p)]


_RAW, _MEM, _OBJ = 0, 1, 2  # PyMemAllocatorDomain


class SmallObjectsOnMalloc:
    """While held, Python's small objects come from the C allocator instead of pymalloc's arenas.

    pymalloc returns an arena (1 MB) to the system only once every object in it is freed. A 10 MB data
    store is read into some 100,000 small objects; the few that outlive the call and were made
    meanwhile — by any thread: a cache entry, a connection's state, a housekeeping statement — each pin
    an arena of the store's, and a worker kept about 1.3x the document after every such call (issue
    15). Read on malloc, the store's objects are freed into glibc's heap, whose free pages go back page
    by page (`malloc_trim`), whatever survives beside them.

    It only swaps where new blocks come from. Frees and reallocs stay pymalloc's, which hands a block
    that is not its own to the C allocator, as it does for every block over 512 bytes: whichever
    allocator made a block, it is freed correctly. Only where the interpreter runs plain pymalloc
    (release build, no PYTHONMALLOC, no -X dev, no tracemalloc or other hook installed since start).
    """

    def __init__(self) -> None:
        api = ctypes.pythonapi
        get, put = api.PyMem_GetAllocator, api.PyMem_SetAllocator
        get.argtypes = put.argtypes = [ctypes.c_int, ctypes.POINTER(_Allocator)]
        get.restype = put.restype = None
        self._put, self._get = put, get
        raw = self._current(_RAW)
        self._pymalloc = {domain: self._current(domain) for domain in (_MEM, _OBJ)}
        self._on_malloc = {domain: _Allocator(None, raw.malloc, raw.calloc, held.realloc, held.free)
                           for domain, held in self._pymalloc.items()}
        self._lock, self._holders = threading.Lock(), 0

    def _current(self, domain: int) -> _Allocator:
        found = _Allocator()
        self._get(domain, ctypes.byref(found))
        return found

    def _install(self, table: dict[int, _Allocator], expected: dict[int, _Allocator]) -> None:
        """Put `table` in place of `expected`; nothing if something else (a profiler) took over meanwhile."""
        if all(self._current(domain).malloc == held.malloc for domain, held in expected.items()):
            for domain, allocator in table.items():
                self._put(domain, ctypes.byref(allocator))

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            self._holders += 1
            if self._holders == 1:
                self._install(self._on_malloc, self._pymalloc)
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if not self._holders:
                    self._install(self._pymalloc, self._on_malloc)


def small_objects_on_malloc() -> SmallObjectsOnMalloc | None:
    """The switch, where it is sound: CPython with plain pymalloc, on glibc (whose heap `malloc_trim`
    gives back); None elsewhere."""
    if (_libc() is None or sys.implementation.name != "cpython" or hasattr(sys, "gettotalrefcount")
            or os.environ.get("PYTHONMALLOC", "pymalloc") != "pymalloc" or sys.flags.dev_mode
            or tracemalloc.is_tracing()):
        return None
    switch = SmallObjectsOnMalloc()
    mem, obj = switch._pymalloc[_MEM], switch._pymalloc[_OBJ]
    if mem.malloc != obj.malloc or mem.ctx or obj.ctx:  # pymalloc serves both domains, without context
        return None
    return switch
