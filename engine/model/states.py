"""Execution states, health states and the other closed vocabularies of CONTRACT §3."""
from __future__ import annotations

from enum import Enum

from ..errors import InvalidParameter


class ExecutionState(str, Enum):
    CREATED = "CREATED"
    READY = "READY"
    RUNNING = "RUNNING"
    WAITING = "WAITING"
    PAUSED = "PAUSED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    TERMINATED = "TERMINATED"

    @property
    def active(self) -> bool:
        return self in ACTIVE_STATES

    @property
    def ended(self) -> bool:
        return self in END_STATES


ACTIVE_STATES = frozenset({ExecutionState.READY, ExecutionState.RUNNING})
END_STATES = frozenset({ExecutionState.FINISHED, ExecutionState.FAILED, ExecutionState.TERMINATED})
INACTIVE_STATES = frozenset(ExecutionState) - ACTIVE_STATES


class HealthState(str, Enum):
    OK = "OK"
    LOST = "LOST"
    BROKEN = "BROKEN"
    DEFINITION_CONFLICT = "DEFINITION_CONFLICT"
    CORRUPT = "CORRUPT"
    KILLED = "KILLED"


class AutoDispose(str, Enum):
    NEVER = "never"
    FETCH = "fetch"
    ENDED_NOT_FAILED = "endedNotFailed"
    ENDED_OR_FAILED = "endedOrFailed"

    def disposes_at_end(self, state: ExecutionState) -> bool:
        """Whether a process with this setting is disposed the moment it reaches `state`."""
        if self is AutoDispose.ENDED_OR_FAILED:
            return state.ended
        if self is AutoDispose.ENDED_NOT_FAILED:
            return state in (ExecutionState.FINISHED, ExecutionState.TERMINATED)
        return False


class Privilege(str, Enum):
    READ = "read"
    WRITE = "write"
    EXECUTE = "execute"
    DISPOSE = "dispose"
    ADMIN = "admin"


# The names each vocabulary accepts on the wire, for the doors' parameter checks and descriptions.
STATE_NAMES = tuple(s.value for s in ExecutionState)
HEALTH_NAMES = tuple(h.value for h in HealthState)
AUTO_DISPOSE_NAMES = tuple(m.value for m in AutoDispose)
LOG_LEVELS = ("off", "error", "warning", "info", "debug", "trace")
DATA_LEVELS = ("none", "summary", "full")
NODE_SELECTIONS = ("all", "self", "specified")  # setEngineOnline's `param`
CONNECTION_STATUSES = ("connected", "disconnecting", "disconnected", "connectionLost")  # a node's in the cluster
ONLINE_RULES = ("allOnline", "allOffline", "noChange")  # what a maintenance level does to the instances
SERVICE_STATES = ("running", "stopped")
FEATURE_STATES = ("active", "inactive", "disabled")


def parse_enum(enum: type[Enum], value: str, what: str) -> Enum:
    """The member of `enum` named by `value`, or InvalidParameter naming the allowed values."""
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise InvalidParameter(what, f"{value!r} is not one of {allowed}") from None
