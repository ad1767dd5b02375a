"""One error hierarchy for the whole engine.

Each class carries a stable `type` string that both doors put on the wire unchanged (CONTRACT §6), and
the facts a client needs to fix its request — never a traceback. The doors map these classes to HTTP
statuses and SOAP faults in exactly one place each.
"""
from __future__ import annotations

import uuid
from typing import Any


def shown(value: Any) -> str:
    """A value from outside, quoted for a message and cut short: it may be huge."""
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**40 else "a huge integer"
    return text if len(text) <= 60 else text[:57] + "..."


class EngineError(Exception):
    """Base of every error the engine reports to a caller."""

    type = "InternalError"
    client_fault = False  # True: the caller's mistake (4xx, soap:Client)
    incident: str | None = None  # set for a fault of the service itself: the ID its log entry carries

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InternalError(EngineError):
    """A fault of the service itself (CONTRACT §6): a generic message and a new incident ID, which the
    place that raises it writes to the log with what went wrong."""

    def __init__(self) -> None:
        self.incident = uuid.uuid4().hex[:12]
        super().__init__(f"internal error (incident {self.incident})")


class InvalidInput(EngineError):
    """Malformed or wrong input; the message names the part and why."""

    type = "InvalidParameter"
    client_fault = True


class InvalidParameter(InvalidInput):
    type = "InvalidParameter"

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.parameter = name


class InvalidDataStore(InvalidInput):
    type = "InvalidDataStore"


class InvalidQuery(InvalidInput):
    type = "InvalidQuery"


class InvalidDefinition(InvalidInput):
    """A process definition that cannot be loaded; carries line and column when they are known."""

    type = "InvalidDefinition"

    def __init__(self, message: str, line: int | None = None, column: int | None = None,
                 uri: str | None = None) -> None:
        where = ""
        if line is not None:
            where = f"line {line}" + (f", column {column}" if column is not None else "")
        prefix = ", ".join(p for p in (uri, where) if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.line, self.column, self.uri, self.detail = line, column, uri, message


class MultiError(InvalidInput):
    """Per-entity failures of an operation that touches several named entities (spec: multi-error)."""

    type = "InvalidParameter"

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


class PayloadTooLarge(InvalidInput):
    """A request body over the configured limit (server.max_request_bytes)."""

    type = "PayloadTooLarge"


class UnsupportedMediaType(InvalidInput):
    """A request body of a type the operation does not take."""

    type = "UnsupportedMediaType"


class NotAcceptable(InvalidInput):
    """An answer the caller's accepted types (HTTP Accept) cannot hold."""

    type = "NotAcceptable"


class NotFound(EngineError):
    type = "NotFound"
    client_fault = True

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"unknown {kind}: {key}")
        self.kind, self.key = kind, key


class InvalidState(EngineError):
    """The operation does not fit the current state of the process (409)."""

    type = "InvalidState"
    client_fault = True


class Unauthenticated(EngineError):
    type = "Unauthenticated"
    client_fault = True


class AuthorizationError(EngineError):
    type = "AuthorizationException"
    client_fault = True

    def __init__(self, user_id: str, permission: str, resource_name: str, resource_id: str) -> None:
        super().__init__(f"user {user_id!r} lacks {permission!r} on {resource_name} {resource_id}")
        self.user_id, self.permission_name = user_id, permission
        self.resource_name, self.resource_id = resource_name, resource_id


class Unavailable(EngineError):
    """The engine or a feature it needs is not available now (503); the caller may retry."""

    type = "EngineOffline"
    client_fault = False


class EngineOffline(Unavailable):
    type = "EngineOffline"


class DatabaseUnavailable(EngineOffline):
    """The database cannot be reached now (a connection cut, a failover, a restart): the caller may
    retry. A process the node was running is handed back when the database answers again, never failed."""

    def __init__(self) -> None:
        super().__init__("the database cannot be reached now; retry in a moment")


class FeatureUnavailable(Unavailable):
    type = "FeatureUnavailable"

    def __init__(self, feature: str, state: str) -> None:
        super().__init__(f"feature {feature!r} is {state}")
        self.feature = feature
