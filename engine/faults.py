"""Failures inside a running process (as opposed to errors an operation reports to its caller).

A Fault is what `onError` catches and what an unhandled failure leaves in the snapshot's
`exceptionReport`: a type, a message, the full ID of the element it came from, and an optional cause.
"""
from __future__ import annotations

from dataclasses import dataclass


class Fault(Exception):
    def __init__(self, type: str, message: str, source: str | None = None,
                 cause: "Fault | None" = None) -> None:
        super().__init__(message)
        self.type, self.message, self.source, self.cause = type, message, source, cause

    def at(self, source: str) -> "Fault":
        """Attach the element this fault happened in, unless it already names one."""
        if self.source is None:
            self.source = source
        return self

    def to_dict(self) -> dict:
        return {"type": self.type, "message": self.message, "source": self.source,
                "cause": self.cause.to_dict() if self.cause else None}

    @classmethod
    def from_dict(cls, data: dict) -> "Fault":
        cause = cls.from_dict(data["cause"]) if data.get("cause") else None
        return cls(data["type"], data["message"], data.get("source"), cause)


@dataclass(frozen=True)
class TerminateRequest:
    """What a caller asked of `terminateProcess`; carried in the saved state until handled."""

    kill: bool = False
    fail: bool = False
    message: str | None = None
