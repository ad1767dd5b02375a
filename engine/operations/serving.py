"""What the server around the doors asks of the engine beyond the spec's operations: that a request
thread drive the asynchronous starts it answered, once its answer is out (see
`runtime.executor.Executor.defer_hand_overs` for why and for how long)."""
from __future__ import annotations

from ..runtime.node import ProcessEngine


def defer_hand_overs(pe: ProcessEngine) -> None:
    """Keep what this thread hands over to a pool until `drive_deferred`: call it before the request,
    only where the server calls `drive_deferred` after the answer is sent, whatever happens."""
    pe.executor.defer_hand_overs()


def drive_deferred(pe: ProcessEngine) -> None:
    """Drive what this thread handed over since `defer_hand_overs`, briefly, then hand over as usual."""
    pe.executor.drive_deferred()
