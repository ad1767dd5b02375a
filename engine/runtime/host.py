"""What the runtime's parts (driver, executor, housekeeper, membership, broadcast, watching) need of the
engine that holds them. `ProcessEngine` is such a host; the parts name this Protocol instead of it, so
that the engine imports them and they do not import it back (issue 16: no import cycles)."""
from __future__ import annotations

from typing import Any, Protocol

from ..definitions.repository import DefinitionRepository
from ..settings import EngineSettings
from ..storage.database import Database


class Host(Protocol):
    settings: EngineSettings
    db: Database
    node_id: str
    online: bool
    modules: dict[str, Any]
    repository: DefinitionRepository
    public_constants: Any
    executor: Any                   # runtime.executor.Executor
    membership: Any                 # runtime.cluster.membership.Membership
    watching: Any                   # runtime.watching.Watching

    def accepting_work(self) -> bool: ...

    def set_online(self, online: bool) -> None: ...

    def notify(self, execution_id: str, record: Any = None) -> None: ...

    def wake(self, key: str) -> None: ...

    def ready(self, execution_id: str, pool_id: str | None) -> None: ...

    def timer_set(self, due_at: Any) -> None: ...

    def register(self, uow: Any, loaded: Any) -> tuple[int, int]: ...

    def hand_back_later(self, execution_id: str, pool_id: str | None, delay_s: float = 0.2) -> None: ...

    def fail_internally(self, execution_id: str) -> None: ...
