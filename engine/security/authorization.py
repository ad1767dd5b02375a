"""Principals and privileges on process instances (CONTRACT §8).

The `admin` role may do everything. Anyone else works on an instance by privilege: its owner holds all
of them, an ACE grants privileges to a user or a role by name, and the `admin` privilege implies the
others (whoever may set permissions could grant them anyway).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from ..errors import AuthorizationError
from ..model.states import Privilege
from ..storage import codec
from ..storage.instances import InstanceRecord

ADMIN_ROLE = "admin"


@dataclass(frozen=True)
class Principal:
    name: str
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles

    @property
    def names(self) -> frozenset[str]:
        """Every name an ACE may grant this principal privileges under."""
        return self.roles | {self.name}


# The caller when no users are configured: everyone is the administrator (CONTRACT §8).
ANONYMOUS_ADMIN = Principal("admin", frozenset({ADMIN_ROLE}))
# The engine acting on its own (autostarting services), the owner of what it starts. Not "admin": a
# configured user of that name without the admin role would own those instances. A user name with a
# colon cannot sign in by HTTP Basic (RFC 7617); only a user configured under this very name could.
ENGINE = Principal("engine:autostart", frozenset({ADMIN_ROLE}))


def has_privilege(principal: Principal, record: InstanceRecord, privilege: Privilege) -> bool:
    if principal.is_admin or record.owner == principal.name:
        return True
    acl: dict[str, list[str]] = codec.loads(record.permissions, {})
    wanted = {privilege.value, Privilege.ADMIN.value}
    return any(wanted.intersection(acl.get(name, ())) for name in principal.names)


def require(principal: Principal, record: InstanceRecord, privilege: Privilege) -> None:
    if not has_privilege(principal, record, privilege):
        raise AuthorizationError(principal.name, privilege.value, "processInstance", record.execution_id)


def require_admin(principal: Principal, operation: str) -> None:
    if not principal.is_admin:
        raise AuthorizationError(principal.name, ADMIN_ROLE, "operation", operation)


def require_role(principal: Principal, roles: Iterable[str], permission: str, resource: str) -> None:
    if not (principal.is_admin or principal.roles.intersection(roles)):
        raise AuthorizationError(principal.name, permission, "operation", resource)
