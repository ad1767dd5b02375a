"""What only HTTP has: parameters REST adds to an operation's declared ones (`schemas.signatures`)."""
from __future__ import annotations

from .params import Param

IDEMPOTENCY_KEY = Param("Idempotency-Key", where="header", arg="idempotency_key",
                        description="A key of the caller's: repeating it returns the execution created first.")
