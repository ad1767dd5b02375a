"""Random identifiers: UUIDs of version 4 for executions and watchers.

`uuid.uuid4()` asks the operating system for 16 random bytes each time, and each of those system calls
lets another request thread take the GIL and makes this one wait to get it back. These come from the
same source (`os.urandom`), read in blocks. Each thread reads its own blocks: a block shared behind a
lock made every request thread queue on that lock whenever its holder was switched away. A forked
child forgets the blocks it inherited, so that gunicorn's workers never hand out the same identifier.
"""
from __future__ import annotations

import os
import threading

_BLOCK = 4096
_VERSION_4 = 0x4000 << 64                    # the version nibble (bits 76-79)
_VERSION_MASK = 0xF000 << 64
_VARIANT = 0x8000 << 48                      # RFC 4122 variant (bits 62-63: 10)
_VARIANT_MASK = 0xC000 << 48


class _Block(threading.local):
    generation = -1   # the process generation its bytes were read in
    data = b""
    taken = 0


_block = _Block()
_generation = 0       # bumped in a forked child, which must not reuse its parent's bytes


def random_uuid() -> str:
    """A random UUID (version 4, RFC 4122 variant) in its canonical text form."""
    block = _block
    if block.taken >= len(block.data) or block.generation != _generation:
        block.data, block.taken, block.generation = os.urandom(_BLOCK), 0, _generation
    taken = block.taken
    raw = block.data[taken:taken + 16]
    block.taken = taken + 16
    number = (int.from_bytes(raw, "big") & ~_VERSION_MASK & ~_VARIANT_MASK) | _VERSION_4 | _VARIANT
    text = f"{number:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _forget() -> None:
    global _generation
    _generation += 1


os.register_at_fork(after_in_child=_forget)
