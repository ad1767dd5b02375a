"""The parameters several endpoints share, declared once (spec wording in the descriptions)."""
from __future__ import annotations

from engine.states import AUTO_DISPOSE_NAMES, STATE_NAMES

from .params import Param

EXECUTION_ID = Param("executionId", where="path", required=True, description="The process execution ID.")
PEEK = Param("peek", "boolean", default=False,
             description="true: handing out the snapshot does not dispose an ended process.")
INSPECT = Param("inspectPipeline", "boolean", default=False, description="Include the pipeline in the snapshot.")
TIMEOUT = Param("timeout", "timeout", default=-1,
                description="Milliseconds to wait: -1 blocks (capped by the engine's maximum), 0 returns at once.")
STATES = Param("states", many=True, choices=STATE_NAMES,
               description="Execution states to wait for (repeated or comma-separated).")
WAIT_ONLINE = Param("waitOnline", "boolean", description="The online state to wait for.")
SET_ONLINE = Param("setOnline", "boolean",
                   description="Set the process online first (default: true when the call is synchronous).")
STATE_CHANGE_INDEX = Param("stateChangeIndex", "integer",
                           description="React only to changes with a higher state change index.")
PROCESS_URI = Param("processUri", description="The definition's path in the repository.")
EXTERNAL_ID = Param("externalId", description="A key of the caller's own for the process.")
CACHE = Param("cache", "boolean", default=True, description="The definition may come from the cache.")
THREAD_POOL = Param("threadPoolId", description="The thread pool to run the process in.")
DEBUG = Param("debug", "boolean", description="Debug mode: snapshots always hold the pipeline.")
AUTO_DISPOSE = Param("autoDispose", choices=AUTO_DISPOSE_NAMES,
                     description="When an ended process is disposed.")
LOCKED = Param("locked", "boolean", default=False, description="Lock the process to the node that runs it.")
REPORT_IDS = Param("reportExecutionIds", "boolean", default=False, description="List the execution IDs too.")
IDEMPOTENCY_KEY = Param("Idempotency-Key", where="header", arg="idempotency_key",
                        description="A key of the caller's: repeating it returns the execution created first.")
