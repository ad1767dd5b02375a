"""The facade: one function per operation of the spec, grouped in one module per section of it.

Each operation takes the engine and the caller's principal first, runs its change as one transaction,
and answers engine objects (`Snapshot`, `DataStore`, …) that the doors render. Timeouts are
milliseconds as on the wire (-1 blocks, capped by `engine.max_timeout_ms`); `states` are execution
state names. Callers import this package and call `operations.run(...)`, whatever module holds it.
"""
from .administration import (clear_cache, get_broker_uri, get_constants, get_features, get_modules,
                             get_task_manager_url, list_process_definitions, uncache_processes, version)
from .lifecycle_management import (dispose_process, dispose_processes, instantiate, recover_process,
                                   recover_processes, reload, run, set_attribute, set_breakpoint,
                                   set_instance_constants, set_log_settings, set_online, set_owner,
                                   set_permissions, start_process, terminate_process, update_credentials)
from .state_queries import (count_executions, find_executions, get_attributes, get_instance_constants,
                            get_process_snapshot, validate, wait_for_process)
from .watchers import create_watcher, delete_watcher, get_watcher
from .node_control import (get_heartbeat_ages, get_maintenance_level, get_node_state, get_node_states,
                           set_engine_online, set_maintenance_level, wait_for_no_running_processes)
from .services import get_service_snapshot, list_services, new_engine, start_service
from .cluster import cluster_connect, cluster_disconnect
from .diagnostics import check_sanity, garbage_collect, get_node_figures, get_telemetry_data
from .embedded import get_process_log, upgrade_database, waits_for_signal
from .serving import defer_hand_overs, drive_deferred
from .history import count_history, find_history, find_operations, get_history, get_history_statistics
from .outlines import outline_definition, outline_instance

__all__ = [
    "dispose_process", "dispose_processes", "instantiate", "reload", "recover_process", "recover_processes",
    "run", "set_attribute", "set_breakpoint", "set_instance_constants", "set_log_settings", "set_online",
    "set_owner", "set_permissions", "start_process", "terminate_process", "update_credentials",
    "get_attributes", "get_instance_constants", "get_process_snapshot", "count_executions", "find_executions",
    "validate",
    "wait_for_process",
    "create_watcher", "get_watcher", "delete_watcher",
    "get_maintenance_level", "set_maintenance_level", "get_node_state", "get_node_states", "set_engine_online",
    "wait_for_no_running_processes", "list_services", "start_service", "get_service_snapshot",
    "cluster_connect", "cluster_disconnect",
    "clear_cache", "get_broker_uri", "get_constants", "get_features", "get_modules", "get_task_manager_url",
    "list_process_definitions", "uncache_processes", "version",
    "check_sanity", "get_telemetry_data", "garbage_collect", "get_node_figures",
    "get_process_log", "waits_for_signal", "upgrade_database", "new_engine",
    "defer_hand_overs", "drive_deferred",
    "find_history", "count_history", "get_history", "find_operations", "get_history_statistics",
    "outline_definition", "outline_instance", "get_heartbeat_ages",
]
