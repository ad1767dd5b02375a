"""Settings: one frozen dataclass tree, loaded from TOML files and the environment.

Nothing is read at import time; `load_settings` is called by the composition root (wsgi.py, the command
line, tests) and its result handed to whatever needs it.
"""
from __future__ import annotations

import os
import socket
import tomllib
import uuid
from dataclasses import dataclass, field, is_dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import dacite

from engine.model.history import HistoryLevel
from engine.settings import (ClusterSettings, HistorySettings, IntegrationSettings, MaintenanceSettings, NodeSettings,
                             QuerySettings, ServiceSettings, StorageSettings)

DEFAULT_FILE = Path(__file__).with_name("default.toml")
SAMPLE_PROCESSES = Path(__file__).with_name("processes")


class SettingsError(Exception):
    """A settings file or variable that cannot be used; the message names it."""


@dataclass(frozen=True)
class ServerSettings:
    host: str
    port: int
    context_path: str
    public_url: str
    max_request_bytes: int
    threads: int
    keepalive_s: int

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class RepositorySettings:
    path: str
    cache: bool

    @property
    def root(self) -> Path:
        return Path(self.path).resolve() if self.path else SAMPLE_PROCESSES


@dataclass(frozen=True)
class User:
    name: str
    password_hash: str
    roles: Sequence[str] = ()


@dataclass(frozen=True)
class AuthSettings:
    stream_roles: Sequence[str]
    users: Sequence[User] = ()


@dataclass(frozen=True)
class Settings:
    server: ServerSettings
    storage: StorageSettings
    repository: RepositorySettings
    engine: NodeSettings
    query: QuerySettings
    cluster: ClusterSettings
    auth: AuthSettings
    maintenance: MaintenanceSettings
    integration: IntegrationSettings
    history: HistorySettings = field(default_factory=HistorySettings)
    services: Sequence[ServiceSettings] = ()
    constants: Mapping[str, Any] = field(default_factory=dict)

    def with_overrides(self, **sections: Mapping[str, Any]) -> "Settings":
        """A copy with some values of some sections replaced (tests and the command line use it)."""
        changed = {name: replace(getattr(self, name), **values) if is_dataclass(getattr(self, name)) else values
                   for name, values in sections.items()}
        return replace(self, **changed)


_ENV = {
    "PE_HOST": ("server", "host", str),
    "PE_PORT": ("server", "port", int),
    "PE_THREADS": ("server", "threads", int),
    "PE_KEEPALIVE": ("server", "keepalive_s", int),
    "PE_STORAGE_URL": ("storage", "url", str),
    "PE_REPOSITORY_PATH": ("repository", "path", str),
    "PE_NODE_ID": ("engine", "node_id", str),
    "PE_HISTORY_LEVEL": ("history", "level", str),
}


def load_settings(environ: Mapping[str, str] | None = None, files: Sequence[str | Path] = ()) -> Settings:
    """Defaults, then each file in order, then the environment; SettingsError names what is wrong."""
    environ = os.environ if environ is None else environ
    data = _read(DEFAULT_FILE)
    extra = list(files) or ([environ["PROCESS_ENGINE_CONFIG"]] if environ.get("PROCESS_ENGINE_CONFIG") else [])
    for path in extra:
        _merge(data, _read(Path(path)))
    for var, (section, key, kind) in _ENV.items():
        if environ.get(var):
            try:
                data[section][key] = kind(environ[var])
            except ValueError:
                raise SettingsError(f"{var}={environ[var]!r} is not a valid {kind.__name__}") from None
    data["services"] = [_snake_keys(service) for service in data.get("services", [])]
    try:
        settings = dacite.from_dict(Settings, data, config=dacite.Config(strict=True, cast=[tuple]))
    except dacite.DaciteError as exc:
        raise SettingsError(f"settings: {exc}") from None
    return _complete(settings)


def _complete(settings: Settings) -> Settings:
    configured = bool(settings.engine.node_id)
    node_id = settings.engine.node_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    pools = settings.engine.thread_pools
    if settings.server.threads < 1:
        raise SettingsError("server.threads: a worker needs at least one request thread")
    if settings.server.keepalive_s < 0:
        raise SettingsError("server.keepalive_s: seconds an idle connection is kept, 0 (none) or more")
    if "default" not in pools:
        raise SettingsError("engine.thread_pools needs a 'default' pool")
    if any(size < 1 for size in pools.values()):
        raise SettingsError("engine.thread_pools: every pool needs at least one thread")
    if settings.query.count_limit < 0:
        raise SettingsError("query.count_limit: a total is counted up to a number of 0 or more")
    _check_maintenance(settings.maintenance)
    _check_services(settings.services, pools)
    _check_history(settings.history)
    return settings.with_overrides(engine={"node_id": node_id, "node_id_configured": configured})


def for_worker(settings: Settings) -> Settings:
    """Each gunicorn worker is a node of its own (CONTRACT §9): on PostgreSQL a configured node ID is
    made the worker's own by its process ID (SQLite serves one worker, which keeps the ID as given)."""
    if not settings.engine.node_id_configured or settings.storage.url.startswith("sqlite"):
        return settings
    return settings.with_overrides(engine={"node_id": f"{settings.engine.node_id}-{os.getpid()}"})


def _check_maintenance(maintenance: MaintenanceSettings) -> None:
    ids = [level.id for level in maintenance.levels]
    if len(set(ids)) != len(ids):
        raise SettingsError(f"maintenance.levels: an id is used twice ({', '.join(ids)})")
    for level in maintenance.levels:
        if level.online not in ("allOnline", "allOffline", "noChange"):
            raise SettingsError(f"maintenance level {level.id!r}: online must be allOnline, allOffline or "
                                f"noChange, not {level.online!r}")
    if maintenance.initial not in ids:
        raise SettingsError(f"maintenance.initial {maintenance.initial!r} is none of the levels ({', '.join(ids)})")


def _check_history(history: HistorySettings) -> None:
    levels = [level.value for level in HistoryLevel]
    if history.level not in levels:
        raise SettingsError(f"history.level {history.level!r} is none of {', '.join(levels)}")
    if history.ttl_days < 1:
        raise SettingsError("history.ttl_days: records are kept for at least a day")
    if history.purge_batch < 1:
        raise SettingsError("history.purge_batch: at least one row is deleted at a time")


def _check_services(services: Sequence[ServiceSettings], pools: Mapping[str, int]) -> None:
    ids = [service.id for service in services]
    if len(set(ids)) != len(ids):
        raise SettingsError(f"services: an id is used twice ({', '.join(ids)})")
    for service in services:
        if service.thread_pool_id and service.thread_pool_id not in pools:
            raise SettingsError(f"service {service.id!r}: no thread pool {service.thread_pool_id!r}")


def _snake_keys(table: Mapping[str, Any]) -> dict[str, Any]:
    """`processUri` -> `process_uri`: service tables use the spec's names for its fields."""
    import re

    return {re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower(): value for key, value in table.items()}


def _read(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: {exc}") from None


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> None:
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict) and key != "constants":
            _merge(base[key], value)
        else:
            base[key] = value
