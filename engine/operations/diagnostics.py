"""The operations of the spec's "Diagnostic Operations" section; admin only (CONTRACT §8).

The checks and telemetry types are those of `engine.features.diagnostics`, whose docstring maps the spec's
names (ZooKeeper, task manager) onto this engine's stores. `checks` and `types` take names repeated or
as one comma-separated item; an unknown name is refused before anything runs.
"""
from __future__ import annotations

from typing import Iterable

from ..features.history import audited
from ..features.diagnostics import checks as sanity, garbage, telemetry
from ..features.diagnostics.probe import choose
from .shared import timeout_seconds
from ..model.results import SanityReport, TelemetryData
from ..runtime.node import ProcessEngine
from ..security.authorization import Principal, require_admin


def check_sanity(pe: ProcessEngine, principal: Principal, checks: Iterable[str] | None = None) -> SanityReport:
    """Run the named checks (the standard ones when none is named); the report lists what they found,
    and is empty of problems when nothing was."""
    require_admin(principal, "checkSanity")
    chosen = choose(checks, tuple(sanity.CHECKS), sanity.STANDARD_CHECKS, "checks")
    return sanity.check_sanity(pe, chosen)


def get_telemetry_data(pe: ProcessEngine, principal: Principal, types: Iterable[str] | None = None) -> TelemetryData:
    """Telemetry of the named types (all of them when none is named)."""
    require_admin(principal, "getTelemetryData")
    chosen = choose(types, tuple(telemetry.TELEMETRY), telemetry.STANDARD_TYPES, "types")
    return telemetry.telemetry(pe, chosen)


def get_node_figures(pe: ProcessEngine) -> telemetry.NodeFigures:
    """This node's figures for a metrics scrape (CONTRACT §1; the door decides who may scrape)."""
    return telemetry.node_figures(pe)


@audited("garbageCollect", "engine")
def garbage_collect(pe: ProcessEngine, principal: Principal, timeout: int = -1) -> None:
    """Run the clean-up now rather than at the housekeeper's next round: purge disposed instances past
    their retention, delete orphaned log rows, finish obsolete watchers. Returns when it is done or when
    `timeout` milliseconds have passed (-1 blocks, capped by `engine.max_timeout_ms`)."""
    require_admin(principal, "garbageCollect")
    garbage.collect_garbage(pe, timeout_seconds(pe, timeout))
