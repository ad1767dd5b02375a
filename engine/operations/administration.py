"""The operations of the spec's "Administration" section that concern the engine itself: its caches,
settings, features, modules, definitions and version. Every one of them is admin-only (CONTRACT §8).
"""
from __future__ import annotations

import platform
from datetime import datetime, timedelta, timezone
from importlib.metadata import PackageNotFoundError, version as package_version
from typing import Any, Iterable, Mapping

from ..features.history import audited
from ..model.datastore import DataStore
from ..errors import EngineError, InvalidParameter, NotFound
from ..model.results import DefinitionListing, Feature, ModuleInfo, OperationInfo
from ..modules import describe
from ..runtime.node import ProcessEngine
from ..security.authorization import Principal, require_admin
from ..model.states import ACTIVE_STATES, ExecutionState, HealthState, parse_enum
from ..storage import instances as store

PACKAGE = "process-engine"
CACHES = ("definitions", "definitions/<uri>", "registrations")
_ACTIVE = sorted(s.value for s in ACTIVE_STATES)


# -- caches -------------------------------------------------------------------------------------------
@audited("clearCache", "engine")
def clear_cache(pe: ProcessEngine, principal: Principal, cache_paths: Iterable[str] | None = None) -> None:
    """Forget cached data so the next use reads it afresh — e.g. a definition edited within the same
    second at the same size, which the file check cannot see. All paths are checked before anything is
    cleared, so a typo clears nothing."""
    require_admin(principal, "clearCache")
    paths = _items(cache_paths)
    actions = [_cache_action(pe, path) for path in paths] if paths else [_clear_definitions, _clear_registrations]
    for action in actions:
        action(pe)


def _cache_action(pe: ProcessEngine, path: str) -> Any:
    if path == "definitions":
        return _clear_definitions
    if path == "registrations":
        return _clear_registrations
    if path.startswith("definitions/"):
        try:
            uri = pe.repository.normalise(path[len("definitions/"):])
        except InvalidParameter as exc:
            raise InvalidParameter("cachePaths", f"{path!r}: {exc.message}") from None
        return lambda engine: engine.repository.clear([uri])
    raise InvalidParameter("cachePaths", f"unknown cache path {path!r} (valid: {', '.join(CACHES)})")


def _clear_definitions(pe: ProcessEngine) -> None:
    pe.repository.clear()


def _clear_registrations(pe: ProcessEngine) -> None:
    """Only a memo of numbers the database holds: the next registration reads them back."""
    pe.registered.clear()


@audited("uncacheProcesses", "engine")
def uncache_processes(pe: ProcessEngine, principal: Principal, *, execution_ids: Iterable[str] = (),
                      owners: Iterable[str] = (), process_uris: Iterable[str] = (), states: Iterable[str] = (),
                      health: Iterable[str] = (), timestamp: datetime | None = None,
                      engine_ids: Iterable[str] = ()) -> int:
    """Free memory held for inactive instances. This engine keeps no instance in memory between steps,
    so what it holds for them is their parsed definitions: drop those of the selected instances that no
    active (READY/RUNNING) instance anywhere still uses. Answers how many definitions were dropped."""
    require_admin(principal, "uncacheProcesses")
    state_names = [parse_enum(ExecutionState, s, "states").value for s in _items(states)]
    health_names = [parse_enum(HealthState, h, "health").value for h in _items(health)]
    moment = None if timestamp is None else timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=timezone.utc)
    selected = {"execution_id": _items(execution_ids), "owner": _items(owners),
                "process_uri": [pe.repository.normalise(u) for u in _items(process_uris)], "state": state_names,
                "health": health_names, "process_engine_id": _items(engine_ids)}
    with pe.db.unit_of_work(write=False) as uow:
        uris, revisions = store.idle_definitions(uow.conn, _ACTIVE, selected, moment)
    return pe.repository.clear(uris, revisions) if uris or revisions else 0


# -- settings -----------------------------------------------------------------------------------------
def get_broker_uri(pe: ProcessEngine, principal: Principal) -> str | None:
    """The message broker clients and processes should use; None when none is configured."""
    require_admin(principal, "getBrokerUri")
    return pe.settings.integration.broker_url.strip() or None


def get_task_manager_url(pe: ProcessEngine, principal: Principal) -> str | None:
    """The Task Manager this engine hands human tasks to; None when none is configured."""
    require_admin(principal, "getTaskManagerUrl")
    return pe.settings.integration.task_manager_url.strip() or None


def get_constants(pe: ProcessEngine, principal: Principal, path: str | None = None) -> DataStore:
    """The public constants processes see: all of them by full name (`billing/vat`), or one partition's
    with names relative to it (`vat`), so a client can read a group without knowing where it sits.
    A copy: the caller cannot change what processes see."""
    require_admin(principal, "getConstants")
    partition = (path or "").strip().strip("/")
    if not partition:
        return pe.public_constants.copy()
    if not isinstance(_partition(pe.settings.constants, partition), Mapping):
        raise NotFound("constants partition", partition)
    prefix = partition + "/"
    return DataStore((name[len(prefix):], values) for name, values in pe.public_constants.entries()
                     if name.startswith(prefix))


def _partition(tree: Mapping[str, Any], path: str) -> Any:
    """The settings table at `path` (a TOML table is a partition), or None."""
    node: Any = tree
    for part in path.split("/"):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


# -- engine -------------------------------------------------------------------------------------------
def get_features(pe: ProcessEngine, principal: Principal) -> list[Feature]:
    """What this node can do right now, so clients (and the readiness probe) know what to expect before
    they call: `disabled` is not configured here, `inactive` is configured but not available now."""
    require_admin(principal, "getFeatures")
    integration = pe.settings.integration
    features = {
        "instantiate": pe.features.get("instantiate", "inactive"),
        "execution": "active" if pe.accepting_work() else "inactive",
        "cluster": "disabled" if pe.db.is_sqlite else "active" if pe.running and pe.membership.connected
        else "inactive",
        "tasks": "active" if integration.task_manager_url.strip() else "disabled",
        "messaging": "active" if integration.broker_url.strip() else "disabled",
    }
    features.update({name: state for name, state in pe.features.items() if name not in features})
    return [Feature(name, state) for name, state in features.items()]


def get_modules(pe: ProcessEngine, principal: Principal, lang: str | None = None) -> list[ModuleInfo]:
    """The modules `invoke` elements can call, with what each operation does and takes, in the
    caller's language where the module speaks it (English otherwise)."""
    require_admin(principal, "getModules")
    return [_module_info(module, lang) for _name, module in sorted(pe.modules.items())]


def _module_info(module: Any, lang: str | None) -> ModuleInfo:
    operations = tuple(OperationInfo(name, describe(op.descriptions, lang), tuple(op.parameters.items()))
                       for name, op in module.operations.items())
    return ModuleInfo(module.name, str(getattr(module, "version", "")),
                      describe(getattr(module, "descriptions", {}), lang), operations)


def list_process_definitions(pe: ProcessEngine, principal: Principal) -> list[DefinitionListing]:
    """Every definition file a client may instantiate, with its name and when it last changed. A file
    that does not parse is still listed (name None): it is there, and `validate` tells what is wrong."""
    require_admin(principal, "listProcessDefinitions")
    listing = []
    for uri, path in pe.repository.list():
        try:
            changed = _mtime(path.stat().st_mtime_ns)
        except OSError:  # removed since it was listed
            continue
        listing.append(DefinitionListing(uri, _definition_name(pe, uri), changed))
    return listing


def _definition_name(pe: ProcessEngine, uri: str) -> str | None:
    try:
        return pe.repository.load(uri).definition.name
    except EngineError:
        return None


def _mtime(nanoseconds: int) -> datetime:
    """A file's mtime in UTC at the wire's precision, milliseconds."""
    seconds, millis = divmod(nanoseconds // 1_000_000, 1000)
    return datetime.fromtimestamp(seconds, timezone.utc) + timedelta(milliseconds=millis)


def version(pe: ProcessEngine, principal: Principal) -> str:
    """The exact build a support request needs: the engine's package version and the Python running it."""
    require_admin(principal, "version")
    try:
        engine_version = package_version(PACKAGE)
    except PackageNotFoundError:  # run from a source tree that was never installed
        engine_version = "unknown"
    return f"{PACKAGE} {engine_version} ({platform.python_implementation()} {platform.python_version()})"


# -- helpers ------------------------------------------------------------------------------------------
def _items(values: Iterable[str] | str | None) -> list[str]:
    """A list parameter's items: repeated, or one comma-separated value (CONTRACT §2); blanks dropped."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [part.strip() for value in values for part in str(value).split(",") if part.strip()]
