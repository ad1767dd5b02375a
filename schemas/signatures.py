"""Every operation's parameters, declared once for both doors: wire name, type, whether required, default,
choices and description, in the spec's order. REST builds its query, path and form parameters from them
(`rest.endpoint`), SOAP its `@rpc` signature and the parsing of what a stub sends (`soap.types`); the
OpenAPI document and the WSDL are written from the same declarations. Where the doors differ, the
declaration says so: `simpleDataStore` and `remove` exist on SOAP only (REST negotiates the data store
form with a header, and removes a breakpoint with DELETE); REST adds what only HTTP has (a header for
idempotency keys) itself. Value rules (timeouts, states) live in the engine; this says which applies.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from engine.model.states import (AUTO_DISPOSE_NAMES, DATA_LEVELS, HEALTH_NAMES, LOG_LEVELS, NODE_SELECTIONS,
                           STATE_NAMES)

# What a parameter holds: text, true/false, a whole number, milliseconds to wait (CONTRACT §2), an ISO 8601
# timestamp, a data store or a query document (CONTRACT §5), or a process definition's bytes.
KINDS = ("string", "boolean", "integer", "timeout", "timestamp", "datastore", "query", "ipd")


@dataclass(frozen=True)
class Parameter:
    name: str                         # as the spec writes it, on both wires
    kind: str = "string"
    required: bool = False
    default: Any = None               # what an absent value is (None: absent, for the engine to decide)
    many: bool = False                # a list: repeated, or one comma-separated value
    choices: tuple[str, ...] = ()
    enum: str | None = None           # the WSDL's name for the choices' type, where stubs get an enum
    description: str = ""             # where the operation's documentation (operations.toml) says nothing
    soap_only: bool = False
    records: str = "processes"        # a query's: what it selects, so which fields it names (schemas.query.LANGUAGES)
    arg: str | None = None            # the handler's keyword, where snake_case of the name cannot be one (`from`)

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind

    @property
    def document(self) -> bool:
        """Whether it is a whole document (a data store, a query, a definition): REST carries it as a body."""
        return self.kind in ("datastore", "query", "ipd")

    @property
    def keyword(self) -> str:
        """The handler's keyword for it: the spec's names on the wire, snake_case in Python."""
        return self.arg or snake_case(self.name)


def snake_case(name: str) -> str:
    """`executionId` → `execution_id`."""
    return _CAMEL_HUMP.sub("_", name).lower()


_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _p(name: str, kind: str = "string", **keywords: Any) -> Parameter:
    return Parameter(name, kind, **keywords)


EXECUTION_ID = _p("executionId", required=True, description="The process execution ID.")
PEEK = _p("peek", "boolean", default=False,
          description="true: handing out the snapshot does not dispose an ended process.")
INSPECT = _p("inspectPipeline", "boolean", default=False, description="Include the pipeline in the snapshot.")
TIMEOUT = _p("timeout", "timeout", default=-1,
             description="Milliseconds to wait: -1 blocks (capped by the engine's maximum), 0 returns at once.")
STATES = _p("states", many=True, choices=STATE_NAMES,
            description="Execution states to wait for (repeated or comma-separated).")
WAIT_ONLINE = _p("waitOnline", "boolean", description="The online state to wait for.")
SET_ONLINE = _p("setOnline", "boolean",
                description="Set the process online first (default: true when the call is synchronous).")
SET_ONLINE_NOT = _p("setOnline", "boolean", default=False)
STATE_CHANGE_INDEX = _p("stateChangeIndex", "integer",
                        description="React only to changes with a higher state change index.")
PROCESS_URI = _p("processUri", description="The definition's path in the repository.")
EXTERNAL_ID = _p("externalId", description="A key of the caller's own for the process.")
CACHE = _p("cache", "boolean", default=True, description="The definition may come from the cache.")
THREAD_POOL = _p("threadPoolId", description="The thread pool to run the process in.")
DEBUG = _p("debug", "boolean", description="Debug mode: snapshots always hold the pipeline.")
AUTO_DISPOSE = _p("autoDispose", choices=AUTO_DISPOSE_NAMES, enum="AutoDispose",
                  description="When an ended process is disposed.")
LOCKED = _p("locked", "boolean", default=False, description="Lock the process to the node that runs it.")
REPORT_IDS = _p("reportExecutionIds", "boolean", default=False, description="List the execution IDs too.")
PROCESS = _p("process", "ipd")
PROCESS_PARAMS = _p("processParams", "datastore")
QUERY = _p("query", "query", required=True)
OPTIONAL_QUERY = _p("query", "query")
SIMPLE = _p("simpleDataStore", "boolean", default=True, soap_only=True,
            description="true: data stores in the answer are simple ones; false: standard ones.")
SERVICE_ID = _p("serviceId", required=True)
WATCHER_ID = _p("watcherId", required=True)
ELEMENT_ID = _p("elementId", required=True, description="Full ID, e.g. root.start")
HISTORY_QUERY = _p("query", "query", records="history")
OPERATION_QUERY = _p("query", "query", records="operations")

SIGNATURES: dict[str, tuple[Parameter, ...]] = {
    # -- Lifecycle Management
    "disposeProcess": (EXECUTION_ID, SIMPLE),
    "disposeProcesses": (QUERY, REPORT_IDS),
    "instantiate": (PROCESS_URI, EXTERNAL_ID, CACHE, THREAD_POOL, PROCESS, DEBUG, AUTO_DISPOSE, LOCKED, SIMPLE),
    "reload": (EXECUTION_ID, PROCESS_URI, SET_ONLINE_NOT, PROCESS, SIMPLE),
    "recoverProcess": (EXECUTION_ID, SET_ONLINE_NOT, _p("updateCredentials", "boolean", default=False), SIMPLE),
    "recoverProcesses": (SET_ONLINE_NOT, OPTIONAL_QUERY, REPORT_IDS),
    "run": (_p("processUri", required=True), EXTERNAL_ID, CACHE, THREAD_POOL, PROCESS_PARAMS, PEEK, TIMEOUT, STATES,
            WAIT_ONLINE, INSPECT, SET_ONLINE, DEBUG, AUTO_DISPOSE, LOCKED, SIMPLE),
    "setAttribute": (EXECUTION_ID, _p("name", required=True), _p("value", required=True)),
    "setBreakpoint": (EXECUTION_ID, ELEMENT_ID, _p("remove", "boolean", default=False, soap_only=True), TIMEOUT,
                      SIMPLE),
    "setInstanceConstants": (EXECUTION_ID, _p("constants", "datastore", required=True), SIMPLE),
    "setLogSettings": (EXECUTION_ID, _p("diagnosticLevel", choices=LOG_LEVELS, enum="logLevel"),
                       _p("dataLevel", choices=DATA_LEVELS, enum="dataLevel"), _p("trace", "boolean"), SIMPLE),
    "setOnline": (EXECUTION_ID, _p("online", "boolean", required=True), TIMEOUT, PEEK, STATES, WAIT_ONLINE, SIMPLE),
    "setOwner": (EXECUTION_ID, _p("owner", required=True), SIMPLE),
    "setPermissions": (EXECUTION_ID, _p("name", required=True, description="A user or role name."),
                       _p("privileges", many=True), SIMPLE),
    "startProcess": (EXECUTION_ID, PROCESS_PARAMS, PEEK, TIMEOUT, STATES, WAIT_ONLINE, INSPECT, SET_ONLINE, SIMPLE),
    "terminateProcess": (EXECUTION_ID, _p("kill", "boolean", default=False), _p("fail", "boolean", default=False),
                         _p("message"), TIMEOUT, PEEK, STATES, WAIT_ONLINE, INSPECT, SET_ONLINE_NOT,
                         STATE_CHANGE_INDEX, SIMPLE),
    "updateCredentials": (EXECUTION_ID, SIMPLE),
    # -- Process State Queries
    "getAttributes": (EXECUTION_ID, _p("name", many=True, description="Only these attributes.")),
    "getInstanceConstants": (EXECUTION_ID, SIMPLE),
    "getProcessSnapshot": (EXECUTION_ID, PEEK, INSPECT, SIMPLE),
    "findExecutions": (OPTIONAL_QUERY, INSPECT, SIMPLE),
    "countExecutions": (OPTIONAL_QUERY,),
    "validate": (_p("processUri"), CACHE, PROCESS),
    "waitForProcess": (EXECUTION_ID, TIMEOUT, PEEK,
                       _p("afterTimestamp", "timestamp", description="React only to changes from then on."),
                       INSPECT, STATES, WAIT_ONLINE, STATE_CHANGE_INDEX, SIMPLE),
    # -- Process Watchers
    "createWatcher": (_p("executionId", required=True), _p("groupId"),
                      _p("expectedState", many=True, choices=STATE_NAMES), _p("expectedOnlineState", "boolean"),
                      _p("expectedStateChangeIndex", "integer"),
                      _p("expectedHealthState", many=True, choices=HEALTH_NAMES), _p("expectedElement"),
                      _p("peek", "boolean", default=False), _p("inspectPipeline", "boolean", default=True), SIMPLE),
    "getWatcher": (WATCHER_ID, _p("finish", "boolean", default=False),
                   _p("timeout", "timeout", default=0, description=TIMEOUT.description),
                   _p("updateTimeout", "integer", description="Deprecated; ignored."), SIMPLE),
    "deleteWatcher": (WATCHER_ID,),
    # -- Administration
    "clearCache": (_p("cachePaths", many=True,
                      description="definitions, definitions/<uri>, registrations; none: all."),),
    "getBrokerUri": (),
    "getConstants": (_p("path", description="A partition path."), SIMPLE),
    "getFeatures": (),
    "getMaintenanceLevel": (),
    "getModules": (_p("lang", description="e.g. en or de"),),
    "getNodeState": (),
    "getNodeStates": (),
    "getTaskManagerUrl": (),
    "listProcessDefinitions": (),
    "listServices": (),
    "setEngineOnline": (_p("online", "boolean", required=True),
                        _p("param", choices=NODE_SELECTIONS, default="all", enum="nodeSelection"),
                        _p("node", many=True, description="Node IDs, with param=specified.")),
    "setMaintenanceLevel": (_p("levelId", required=True),),
    "uncacheProcesses": (_p("executionId", many=True), _p("owner", many=True), _p("processUri", many=True),
                         _p("states", many=True, choices=STATE_NAMES), _p("health", many=True, choices=HEALTH_NAMES),
                         _p("timestamp", "timestamp"), _p("engineId", many=True)),
    "version": (),
    "waitForNoRunningProcesses": (TIMEOUT,),
    # -- Service Management
    "getServiceSnapshot": (SERVICE_ID, PEEK, INSPECT, SIMPLE),
    "startService": (SERVICE_ID, PEEK, INSPECT, SIMPLE),
    # -- Cluster Control and Diagnostics
    "clusterConnect": (TIMEOUT,),
    "clusterDisconnect": (TIMEOUT,),
    "checkSanity": (_p("checks", many=True),),
    "getTelemetryData": (_p("types", many=True),),
    "garbageCollect": (TIMEOUT,),
    # -- History (CONTRACT §12, beyond the spec)
    "findHistory": (HISTORY_QUERY, SIMPLE),
    "countHistory": (HISTORY_QUERY,),
    "getHistory": (_p("executionId", required=True,
                      description="The execution ID of the process whose record to read; disposed or not."), SIMPLE),
    "findOperations": (OPERATION_QUERY,),
    "getHistoryStatistics": (_p("processUri", description="Only the processes of this definition."),
                             _p("from", "timestamp", arg="from_time",
                                description="Only processes that ended at or after this moment (ISO 8601)."),
                             _p("to", "timestamp", arg="to_time",
                                description="Only processes that ended before this moment (ISO 8601).")),
}


def signature(operation: str) -> tuple[Parameter, ...]:
    """The parameters of the operation the spec (or CONTRACT, for REST-only and history ones) names `operation`."""
    return SIGNATURES[operation]
