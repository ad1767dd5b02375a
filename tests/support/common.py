"""What every part of the suite uses: the project's paths, the PostgreSQL it tests on, definitions, settling."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "config" / "processes"
PG_URL = os.environ.get("PE_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/process_engine_test")
SKIP_PG = os.environ.get("PE_TEST_SKIP_POSTGRES") == "1"


def write_definition(folder: Path, name: str, body: str, params: str = "", constants: str = "",
                     title: str | None = None) -> str:
    """Write a definition whose steps are `body` (after a startElement) and return its URI."""
    name_attr = f' name="{title}"' if title else ""
    text_ = (f'<process xmlns="http://www.infinica.com/process-engine" version="4"{name_attr}>'
             f"{'<parameters>' + params + '</parameters>' if params else ''}"
             f"{'<constants>' + constants + '</constants>' if constants else ''}"
             f'<startElement id="start"/>{body}</process>')
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text_)
    return name


def settles(condition: Callable[[], Any], seconds: float = 10.0) -> Any:
    """The first truthy value of `condition()` within `seconds`, else False: for what the engine does
    just after it commits (a driver thread's bookkeeping, the housekeeper's next round)."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value or False
        time.sleep(0.01)


def param(field: str, operation: str, *values: str) -> dict:
    """A query's param (CONTRACT §5) as REST's JSON body and zeep's dict write it."""
    return {"field": field, "operation": operation, "values": {"value": list(values)}}


def where(*params: dict, **rest) -> dict:
    """A JSON query of the params, all of which must hold (and `sort`, `offset`, `limit` as given)."""
    tree = {"param": params[0]} if len(params) == 1 else {"and": {"param": list(params)}}
    return {"query": {**tree, **rest}}
