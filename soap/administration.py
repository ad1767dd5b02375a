"""SOAP operations of the spec's "Administration", "Service Management", "Cluster Control" and
"Diagnostic Operations" sections (administrators only): the engine calls of rest/administration.py."""
from __future__ import annotations

from spyne import Long, ServiceBase, Unicode

from engine import operations as ops
from schemas.results import (DEFINITIONS, FEATURES, MAINTENANCE_LEVEL, MODULES, NODE_STATE, NODE_STATES, SANITY_REPORT,
                             SERVICES, TELEMETRY)

from . import answers
from .lifecycle import SNAPSHOT
from .params import engine, operation, principal
from .types import out

NODE = out("nodeState")


class AdministrationService(ServiceBase):
    __service_name__ = "ProcessEngineService"  # one wsdl:service for every section

    @operation()
    def clearCache(ctx, cache_paths):
        ops.clear_cache(engine(ctx), principal(ctx), cache_paths or None)

    @operation(**out("brokerUri", Unicode))
    def getBrokerUri(ctx):
        return ops.get_broker_uri(engine(ctx), principal(ctx))

    @operation(**out("dataStore"))
    def getConstants(ctx, path, simple_data_store):
        return answers.data_store(ops.get_constants(engine(ctx), principal(ctx), path), simple_data_store)

    @operation(**out("features"))
    def getFeatures(ctx):
        return answers.shape(FEATURES, ops.get_features(engine(ctx), principal(ctx)))

    @operation(**out("maintenanceLevel"))
    def getMaintenanceLevel(ctx):
        return answers.shape(MAINTENANCE_LEVEL, ops.get_maintenance_level(engine(ctx), principal(ctx)))

    @operation(**out("modules"))
    def getModules(ctx, lang):
        return answers.shape(MODULES, ops.get_modules(engine(ctx), principal(ctx), lang))

    @operation(**NODE)
    def getNodeState(ctx):
        return answers.shape(NODE_STATE, ops.get_node_state(engine(ctx), principal(ctx)))

    @operation(**out("nodeStates"))
    def getNodeStates(ctx):
        return answers.shape(NODE_STATES, ops.get_node_states(engine(ctx), principal(ctx)))

    @operation(**out("taskManagerUrl", Unicode))
    def getTaskManagerUrl(ctx):
        return ops.get_task_manager_url(engine(ctx), principal(ctx))

    @operation(**out("processDefinitions"))
    def listProcessDefinitions(ctx):
        return answers.shape(DEFINITIONS, ops.list_process_definitions(engine(ctx), principal(ctx)))

    @operation(**out("serviceConfigInfos"))
    def listServices(ctx):
        return answers.shape(SERVICES, ops.list_services(engine(ctx), principal(ctx)))

    @operation()
    def setEngineOnline(ctx, online, param, node):
        ops.set_engine_online(engine(ctx), principal(ctx), online, param, node)

    @operation()
    def setMaintenanceLevel(ctx, level_id):
        ops.set_maintenance_level(engine(ctx), principal(ctx), level_id)

    @operation()
    def uncacheProcesses(ctx, execution_id, owner, process_uri, states, health, timestamp, engine_id):
        ops.uncache_processes(engine(ctx), principal(ctx), execution_ids=execution_id, owners=owner,
                              process_uris=process_uri, states=states, health=health, timestamp=timestamp,
                              engine_ids=engine_id)

    @operation(**out("version", Unicode))
    def version(ctx):
        return ops.version(engine(ctx), principal(ctx))

    @operation(**out("runningProcesses", Long))
    def waitForNoRunningProcesses(ctx, timeout):
        return ops.wait_for_no_running_processes(engine(ctx), principal(ctx), timeout)


class ServiceManagementService(ServiceBase):
    __service_name__ = "ProcessEngineService"  # one wsdl:service for every section

    @operation(**SNAPSHOT)
    def getServiceSnapshot(ctx, service_id, simple_data_store, **args):
        result = ops.get_service_snapshot(engine(ctx), principal(ctx), service_id, **args)
        return answers.snapshot(result, simple_data_store)

    @operation(**SNAPSHOT)
    def startService(ctx, service_id, simple_data_store, **args):
        result = ops.start_service(engine(ctx), principal(ctx), service_id, **args)
        return answers.snapshot(result, simple_data_store)


class ClusterService(ServiceBase):
    __service_name__ = "ProcessEngineService"  # one wsdl:service for every section

    @operation(**NODE)
    def clusterConnect(ctx, timeout):
        return answers.shape(NODE_STATE, ops.cluster_connect(engine(ctx), principal(ctx), timeout))

    @operation(**NODE)
    def clusterDisconnect(ctx, timeout):
        return answers.shape(NODE_STATE, ops.cluster_disconnect(engine(ctx), principal(ctx), timeout))


class DiagnosticService(ServiceBase):
    __service_name__ = "ProcessEngineService"  # one wsdl:service for every section

    @operation(**out("sanityReport"))
    def checkSanity(ctx, checks):
        return answers.shape(SANITY_REPORT, ops.check_sanity(engine(ctx), principal(ctx), checks or None))

    @operation(**out("telemetryData"))
    def getTelemetryData(ctx, types):
        return answers.shape(TELEMETRY, ops.get_telemetry_data(engine(ctx), principal(ctx), types or None))

    @operation()
    def garbageCollect(ctx, timeout):
        ops.garbage_collect(engine(ctx), principal(ctx), timeout)
