"""The settings an engine is built from, as the engine reads them: what `config` fills in (from TOML and
the environment) and the engine owns the meaning of. Each section is a Protocol, so that config's
frozen dataclasses are such settings as they are; `ServiceSettings` is a value of the engine's own."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

from .model import MaintenanceLevel


@dataclass(frozen=True)
class ServiceSettings:
    """A service process as the settings declare it (TOML keys as the spec names them: id, processUri,
    autostart, threadPoolId, description); `config` reads them, the engine owns what they mean."""

    id: str
    process_uri: str
    autostart: bool = False
    thread_pool_id: str | None = None
    description: str = ""


class StorageSection(Protocol):
    url: str
    sqlite_synchronous: str
    pool_size: int


class RepositorySection(Protocol):
    cache: bool

    @property
    def root(self) -> Path: ...


class LogSection(Protocol):
    """What a new instance logs unless its caller says otherwise."""

    diagnostic_level: str
    data_level: str
    trace: bool


class NodeSection(Protocol):
    """The `[engine]` section: this node and how it drives instances."""

    node_id: str
    max_timeout_ms: int
    default_auto_dispose: str
    default_debug: bool
    save_interval_ms: int
    timer_poll_ms: int
    dispose_retention_ms: int
    idempotency_ttl_s: int
    startup_delay_ms: int
    thread_pools: Mapping[str, int]
    log: LogSection


class QuerySection(Protocol):
    default_limit: int
    max_limit: int
    count_limit: int


class ClusterSection(Protocol):
    heartbeat_ms: int
    lost_after_ms: int


class MaintenanceSection(Protocol):
    initial: str
    levels: Sequence[MaintenanceLevel]


class IntegrationSection(Protocol):
    broker_url: str
    task_manager_url: str


class ServerSection(Protocol):
    """The engine sizes its database pool to the request threads that may each hold a connection."""

    threads: int


class AuthSection(Protocol):
    """Who may post a definition stream to instantiate (CONTRACT §8)."""

    stream_roles: Sequence[str]


class EngineSettings(Protocol):
    storage: StorageSection
    repository: RepositorySection
    engine: NodeSection
    query: QuerySection
    cluster: ClusterSection
    maintenance: MaintenanceSection
    integration: IntegrationSection
    server: ServerSection
    auth: AuthSection
    services: Sequence[ServiceSettings]
    constants: Mapping[str, Any]
