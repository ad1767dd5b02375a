"""REST endpoints of the spec's "Administration", "Service Management", "Cluster Control" and
"Diagnostic Operations" sections (administrators only, CONTRACT §8)."""
from __future__ import annotations

from flask import Blueprint

from engine import operations as ops
from schemas.results import (DEFINITIONS, FEATURES, MAINTENANCE_LEVEL, MODULES, NODE_STATE, NODE_STATES,
                             SANITY_REPORT, SERVICES, TELEMETRY)

from .endpoint import Answer, Body, endpoint

bp = Blueprint("administration", __name__)
NONE = Answer("none", description="Nothing (204).")
TEXT = Answer("text", description="text/plain; 204 when not configured.")
NODE = Answer("shape", NODE_STATE, "This node's state after the operation.")


@endpoint(bp, "POST", "/clearCache", "clearCache", answer=NONE)
def clear_cache(engine, principal, cache_paths):
    ops.clear_cache(engine, principal, cache_paths or None)


endpoint(bp, "GET", "/brokerUrl", "getBrokerUri", answer=TEXT)(lambda engine, principal: ops.get_broker_uri(engine, principal))
endpoint(bp, "GET", "/taskManagerUrl", "getTaskManagerUrl", answer=TEXT)(
    lambda engine, principal: ops.get_task_manager_url(engine, principal))


@endpoint(bp, "GET", "/constants", "getConstants",
          answer=Answer("datastore", description="The public constants, as a data store."))
def get_constants(engine, principal, path):
    return ops.get_constants(engine, principal, path)


endpoint(bp, "GET", "/features", "getFeatures", answer=Answer("shape", FEATURES))(
    lambda engine, principal: ops.get_features(engine, principal))
endpoint(bp, "GET", "/maintenance", "getMaintenanceLevel", answer=Answer("shape", MAINTENANCE_LEVEL))(
    lambda engine, principal: ops.get_maintenance_level(engine, principal))


@endpoint(bp, "PUT", "/maintenance", "setMaintenanceLevel",
          body=Body("text", "level_id", required=True, description="The ID of the new level (text/plain).",
                    name="levelId"),
          answer=NONE)
def set_maintenance_level(engine, principal, level_id):
    ops.set_maintenance_level(engine, principal, level_id)


@endpoint(bp, "GET", "/modules", "getModules", answer=Answer("shape", MODULES))
def get_modules(engine, principal, lang):
    return ops.get_modules(engine, principal, lang)


endpoint(bp, "GET", "/nodeState", "getNodeState", answer=Answer("shape", NODE_STATE))(
    lambda engine, principal: ops.get_node_state(engine, principal))
endpoint(bp, "GET", "/nodeStates", "getNodeStates", answer=Answer("shape", NODE_STATES))(
    lambda engine, principal: ops.get_node_states(engine, principal))
endpoint(bp, "GET", "/processDefinitions", "listProcessDefinitions", answer=Answer("shape", DEFINITIONS))(
    lambda engine, principal: ops.list_process_definitions(engine, principal))
endpoint(bp, "GET", "/services", "listServices", answer=Answer("shape", SERVICES))(
    lambda engine, principal: ops.list_services(engine, principal))


@endpoint(bp, "POST", "/setOnline", "setEngineOnline", answer=NONE)
def set_engine_online(engine, principal, online, param, node):
    ops.set_engine_online(engine, principal, online, param, node)


@endpoint(bp, "POST", "/uncacheProcesses", "uncacheProcesses", answer=NONE)
def uncache_processes(engine, principal, execution_id, owner, process_uri, states, health, timestamp, engine_id):
    ops.uncache_processes(engine, principal, execution_ids=execution_id, owners=owner, process_uris=process_uri,
                          states=states, health=health, timestamp=timestamp, engine_ids=engine_id)


endpoint(bp, "GET", "/version", "version", answer=Answer("text", description="The exact version (text/plain)."))(
    lambda engine, principal: ops.version(engine, principal))


@endpoint(bp, "GET", "/waitForNoRunningProcesses", "waitForNoRunningProcesses",
          answer=Answer("text", description="How many processes still run on this node (text/plain)."))
def wait_for_no_running_processes(engine, principal, timeout):
    return ops.wait_for_no_running_processes(engine, principal, timeout)


# -- Service Management -----------------------------------------------------------------------------
@endpoint(bp, "GET", "/services/{serviceId}", "getServiceSnapshot", tag="services",
          answer=Answer("optional_snapshot", description="The service's snapshot; 204 if it was never started."))
def get_service_snapshot(engine, principal, service_id, peek, inspect_pipeline):
    return ops.get_service_snapshot(engine, principal, service_id, peek=peek, inspect_pipeline=inspect_pipeline)


@endpoint(bp, "POST", "/services/{serviceId}/start", "startService", tag="services",
          answer=Answer("snapshot", description="The snapshot of the service's (only) instance."))
def start_service(engine, principal, service_id, peek, inspect_pipeline):
    return ops.start_service(engine, principal, service_id, peek=peek, inspect_pipeline=inspect_pipeline)


# -- Cluster Control and Diagnostics -------------------------------------------------------------------
@endpoint(bp, "POST", "/cluster/connect", "clusterConnect", tag="cluster", answer=NODE)
def cluster_connect(engine, principal, timeout):
    return ops.cluster_connect(engine, principal, timeout)


@endpoint(bp, "POST", "/cluster/disconnect", "clusterDisconnect", tag="cluster", answer=NODE)
def cluster_disconnect(engine, principal, timeout):
    return ops.cluster_disconnect(engine, principal, timeout)


@endpoint(bp, "GET", "/diagnostic/sanity", "checkSanity", tag="diagnostics", answer=Answer("shape", SANITY_REPORT))
def check_sanity(engine, principal, checks):
    return ops.check_sanity(engine, principal, checks or None)


@endpoint(bp, "GET", "/diagnostic/telemetry", "getTelemetryData", tag="diagnostics",
          answer=Answer("shape", TELEMETRY))
def get_telemetry_data(engine, principal, types):
    return ops.get_telemetry_data(engine, principal, types or None)


@endpoint(bp, "GET", "/diagnostic/garbageCollect", "garbageCollect", tag="diagnostics", answer=NONE)
def garbage_collect(engine, principal, timeout):
    ops.garbage_collect(engine, principal, timeout)
