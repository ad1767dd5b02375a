"""Random identifiers: UUIDs of version 4 for executions and watchers.

`uuid.uuid4()` asks the operating system for 16 random bytes each time, and each of those system calls
lets another request thread take the GIL and makes this one wait to get it back. These come from the
same source (`os.urandom`), read in blocks. A forked child forgets the block it inherited, so that
gunicorn's workers never hand out the same identifier.
"""
from __future__ import annotations

import os
import threading

_BLOCK = 4096
_VERSION_4 = 0x4000 << 64                    # the version nibble (bits 76-79)
_VERSION_MASK = 0xF000 << 64
_VARIANT = 0x8000 << 48                      # RFC 4122 variant (bits 62-63: 10)
_VARIANT_MASK = 0xC000 << 48

_lock = threading.Lock()
_pool = b""
_taken = 0


def random_uuid() -> str:
    """A random UUID (version 4, RFC 4122 variant) in its canonical text form."""
    global _pool, _taken
    with _lock:
        if _taken >= len(_pool):
            _pool, _taken = os.urandom(_BLOCK), 0
        raw = _pool[_taken:_taken + 16]
        _taken += 16
    number = (int.from_bytes(raw, "big") & ~_VERSION_MASK & ~_VARIANT_MASK) | _VERSION_4 | _VARIANT
    text = f"{number:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _forget() -> None:
    global _pool, _taken
    _pool, _taken = b"", 0


os.register_at_fork(after_in_child=_forget)
