"""Signals from operations to an instance running on this node, read by its driver between steps."""
from __future__ import annotations

from ..faults import TerminateRequest


class Control:
    """`dirty` is the one flag the driver polls every step; the others say what happened."""

    __slots__ = ("dirty", "kill", "terminate", "refresh", "release")

    def __init__(self) -> None:
        self.dirty = False
        self.kill = False
        self.terminate: TerminateRequest | None = None
        self.refresh = False
        self.release = False

    def signal(self, *, kill: bool = False, terminate: TerminateRequest | None = None,
               refresh: bool = False, release: bool = False) -> None:
        self.kill |= kill
        self.terminate = terminate or self.terminate
        self.refresh |= refresh
        self.release |= release
        self.dirty = True
