"""Authentication (CONTRACT §8): argon2id checks, an unknown user indistinguishable from a wrong
password, and a short memory of successful checks — so that a memory-hard hash does not cap throughput,
without ever remembering a wrong password or a password after it expired."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from engine.security import authentication
from engine.security.authentication import Authenticator, hash_password
from engine.errors import Unauthenticated


@dataclass(frozen=True)
class User:
    name: str
    password_hash: str
    roles: tuple[str, ...] = ()


@pytest.fixture
def counted(monkeypatch):
    """The argon2 verifications that actually ran."""
    calls: list[str] = []
    verify = Authenticator._verify

    def counting(stored: str, password: str) -> bool:
        calls.append(password)
        return verify(stored, password)
    monkeypatch.setattr(Authenticator, "_verify", staticmethod(counting))
    return calls


@pytest.fixture
def auth() -> Authenticator:
    return Authenticator([User("ada", hash_password("lovelace-1843"), ("admin",)), User("bob", hash_password("b0b"))])


def test_the_hash_is_argon2id_at_owasp_parameters():
    assert hash_password("x").startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_a_user_is_their_name_and_roles(auth):
    principal = auth.authenticate("ada", "lovelace-1843")
    assert (principal.name, principal.roles) == ("ada", frozenset({"admin"}))
    assert auth.authenticate("bob", "b0b").roles == frozenset()


def test_an_unknown_user_and_a_wrong_password_fail_alike_and_cost_the_same(auth, counted):
    failures = []
    for name, password in (("ada", "wrong"), ("nobody", "lovelace-1843"), ("", "")):
        with pytest.raises(Unauthenticated) as raised:
            auth.authenticate(name, password)
        failures.append((type(raised.value), raised.value.message))
    assert len(set(failures)) == 1
    assert len(counted) == 3  # the unknown users were checked against a decoy hash too


def test_a_successful_check_is_remembered_briefly(auth, counted, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(authentication.time, "monotonic", lambda: now[0])
    for _ in range(5):
        assert auth.authenticate("ada", "lovelace-1843").name == "ada"
    assert len(counted) == 1
    now[0] += authentication.REMEMBER_S + 1
    auth.authenticate("ada", "lovelace-1843")
    assert len(counted) == 2  # expired: checked again


def test_a_wrong_password_is_never_remembered_nor_answered_from_memory(auth, counted):
    auth.authenticate("ada", "lovelace-1843")
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            auth.authenticate("ada", "lovelace-1844")
    with pytest.raises(Unauthenticated):
        auth.authenticate("bob", "lovelace-1843")  # another user with a remembered password
    assert len(counted) == 5


def test_no_users_means_no_authentication():
    assert not Authenticator([]).enabled and Authenticator([User("a", hash_password("p"))]).enabled
