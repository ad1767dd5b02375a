"""Who is calling: users from the settings, checked with argon2id (CONTRACT §8).

Unknown users and wrong passwords are indistinguishable — same error, and the same work, since an
unknown name is checked against a decoy hash. A memory-hard check costs tens of milliseconds, so a
successful check is remembered briefly (keyed by a keyed digest of the password, never the password).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from typing import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import Unauthenticated
from .authorization import Principal

# OWASP's argon2id minimum: 19 MiB, two passes, one lane.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
REMEMBER_S = 60.0


def hash_password(password: str) -> str:
    return HASHER.hash(password)


class Authenticator:
    def __init__(self, users: Iterable) -> None:  # config.settings.User items
        self._users = {user.name: user for user in users}
        self._decoy = HASHER.hash(os.urandom(16).hex())
        self._key = os.urandom(32)
        self._lock = threading.Lock()
        self._remembered: dict[tuple[str, bytes], tuple[float, Principal]] = {}

    @property
    def enabled(self) -> bool:
        return bool(self._users)

    def authenticate(self, name: str, password: str) -> Principal:
        """The principal, or Unauthenticated — the same for an unknown user and a wrong password."""
        digest = hmac.new(self._key, password.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
        key = (name, digest)
        held = self._remembered.get(key)  # one dict read, no lock for every request thread to queue on
        if held is not None and held[0] > time.monotonic():
            return held[1]
        user = self._users.get(name)
        if not self._verify(user.password_hash if user else self._decoy, password) or user is None:
            raise Unauthenticated("unknown user or wrong password")
        principal = Principal(user.name, frozenset(user.roles))
        with self._lock:
            if len(self._remembered) > 10_000:
                self._remembered.clear()
            self._remembered[key] = (time.monotonic() + REMEMBER_S, principal)
        return principal

    @staticmethod
    def _verify(stored: str, password: str) -> bool:
        try:
            return HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
