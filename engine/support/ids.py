"""Identifiers of executions and watchers: UUIDs of version 7 (RFC 9562), time-ordered.

The first 48 bits are the Unix time in milliseconds, the rest random. Every table keyed or indexed by
execution ID (the instances, the history's records, readers, trails and calls) gets each new ID at the
end of its index, as it does a new time, instead of at a random leaf: with 300,000 records held, a
random (version 4) ID made the history cost 0.69x the run without it, a time-ordered one 0.84x (issue
17, `tests/bench/history.py`). 74 random bits remain: an ID is never guessed, and it is no secret either
(the permissions guard a process, not its ID).

`uuid.uuid4()` asks the operating system for random bytes each time, and each of those system calls
lets another request thread take the GIL and makes this one wait to get it back. These come from the
same source (`os.urandom`), read in blocks. Each thread reads its own blocks: a block shared behind a
lock made every request thread queue on that lock whenever its holder was switched away. A forked
child forgets the blocks it inherited, so that gunicorn's workers never hand out the same identifier.
(Python 3.14's `uuid.uuid7` reads the system's source for each ID; `uuid-utils`' keeps one generator
that a forked child goes on drawing from where its parent was.)
"""
from __future__ import annotations

import os
import threading
import time

_BLOCK = 4096
_RANDOM = 10                                 # bytes an ID draws: 74 of their bits are used
_VERSION_7 = 0x7 << 76                       # the version nibble (bits 76-79)
_VARIANT = 0b10 << 62                        # RFC 9562 variant (bits 62-63: 10)
_RAND_A = 0xFFF << 64                        # the 12 random bits after the version
_RAND_B = (1 << 62) - 1                      # the 62 random bits after the variant


class _Block(threading.local):
    generation = -1   # the process generation its bytes were read in
    data = b""
    taken = 0


_block = _Block()
_generation = 0       # bumped in a forked child, which must not reuse its parent's bytes


def time_ordered_uuid() -> str:
    """A new UUID (version 7, RFC 9562 variant) in its canonical text form: later ones sort after it,
    but for those drawn within the same millisecond."""
    block = _block
    if block.taken + _RANDOM > len(block.data) or block.generation != _generation:
        block.data, block.taken, block.generation = os.urandom(_BLOCK), 0, _generation
    taken = block.taken
    random = int.from_bytes(block.data[taken:taken + _RANDOM], "big")
    block.taken = taken + _RANDOM
    number = (time.time_ns() // 1_000_000) << 80 | _VERSION_7 | (random >> 2) & _RAND_A | _VARIANT | random & _RAND_B
    text = f"{number:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _forget() -> None:
    global _generation
    _generation += 1


os.register_at_fork(after_in_child=_forget)
