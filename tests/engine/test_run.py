"""`run`, `instantiate` and `startProcess` over the sample definitions, on SQLite and PostgreSQL."""
from __future__ import annotations

from engine import operations as ops
from engine.datastore import DataStore, make_value
from engine.security import ANONYMOUS_ADMIN as ADMIN
from engine.states import ExecutionState


def params(**entries: str) -> DataStore:
    return DataStore((name, [make_value("1", "text/plain", value)]) for name, value in entries.items())


def test_run_greeting_finishes_with_its_output_in_the_snapshot(pe):
    snapshot = ops.run(pe, ADMIN, "greeting.ipd", process_params=params(name="Ada"))
    assert snapshot.state is ExecutionState.FINISHED
    assert snapshot.pipeline.first_text("greeting") == "Hello, Ada!"
    assert snapshot.current_element == "root.end"
    assert snapshot.state_change_index == 3  # CREATED -> READY -> RUNNING -> FINISHED
    assert snapshot.definition.name == "Greeting" and snapshot.definition.version == 1
