"""What every diagnostic looks at (`Probe`), how the names asked for are chosen, and what the checks and
the telemetry both read of this node's executor."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Iterable, Sequence

from ...support import clock
from ...errors import InvalidParameter
from ...storage.database import Connection

if TYPE_CHECKING:
    from ...runtime.driver import Driver
    from ...runtime.node import ProcessEngine

BATCH = 500              # rows per statement when reading values or deleting in batches


@dataclass(frozen=True)
class Probe:
    """What a check or collector looks at: the engine, one read transaction, and the moment."""

    pe: "ProcessEngine"
    conn: Connection
    now: datetime


# -- choosing checks and types -------------------------------------------------------------------------
def choose(names: Iterable[str] | str | None, known: Sequence[str], standard: Sequence[str],
           parameter: str) -> tuple[str, ...]:
    """The names asked for (each item may be a comma-separated list; case does not matter), in the
    order given without repeats; `standard` when none is given. InvalidParameter for an unknown one."""
    if isinstance(names, str):
        names = [names]
    by_key = {name.lower(): name for name in known}
    chosen: list[str] = []
    for item in names or ():
        if not isinstance(item, str):
            raise InvalidParameter(parameter, f"{item!r} is not a name")
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            name = by_key.get(part.lower())
            if name is None:
                raise InvalidParameter(parameter, f"{part!r} is not one of {', '.join(known)}")
            if name not in chosen:
                chosen.append(name)
    return tuple(chosen) or tuple(standard)



# -- this node ---------------------------------------------------------------------------------------
def timestamp_text(moment: datetime | None) -> str:
    return clock.format_timestamp(moment) if moment is not None else ""



def drivers_here(pe: "ProcessEngine") -> dict[str, "Driver"]:
    """The drivers running on this node now (a copy)."""
    return dict(getattr(pe.executor, "drivers", {}))


def held_here(pe: "ProcessEngine") -> tuple[set[str], set[str]]:
    """(queued or running here, running here) execution IDs of this node's executor."""
    running = set(pe.executor.controls)
    return pe.executor.active_ids() | running, running


def volatile_ids(pe: "ProcessEngine") -> set[str]:
    return {key for key, driver in drivers_here(pe).items() if driver.pending_insert}


def pool_of(pe: "ProcessEngine", pool_id: str | None) -> str:
    """The pool an instance with `pool_id` runs in (an unknown pool falls back to `default`)."""
    name = pool_id or "default"
    return name if name in pe.executor.pools else "default"

