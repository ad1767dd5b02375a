"""Results as the elements `schemas/` writes for REST's XML answers (CONTRACT §2), built fresh for
each response (Spyne moves a result element into the response, so none may be shared)."""
from __future__ import annotations

from typing import Any

from lxml import etree

from schemas import datastore
from schemas.shapes import Shape
from schemas.snapshot import SNAPSHOT


def options(simple: bool | None) -> dict[str, bool]:
    return {"simple": True if simple is None else simple}


def shape(kind: Shape, result: Any, simple: bool | None = True) -> etree._Element | None:
    return None if result is None else kind.xml(result, None, options(simple))


def snapshot(result: Any, simple: bool | None) -> etree._Element | None:
    return shape(SNAPSHOT, result, simple)


def data_store(store: Any, simple: bool | None) -> etree._Element | None:
    return None if store is None else datastore.dump_xml(store, options(simple)["simple"])
