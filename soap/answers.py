"""Results as the elements `schemas/` writes for REST's XML answers (CONTRACT §2), built fresh for
each response (Spyne moves a result element into the response, so none may be shared)."""
from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from lxml import etree

from schemas import datastore
from schemas.shapes import Shape
from schemas.snapshot import SNAPSHOT


def options(simple: bool | None) -> dict[str, bool]:
    return {"simple": True if simple is None else simple}


# The markup deferred into the answer of the SOAP call this thread serves (soap.http.SoapFront sets a list
# for each call): a pipeline goes into the answer as markup written while the answer is sent, as in REST's
# XML answers, not as a tree built element by element (a 10 MB store's: several times the document).
DEFERRED: ContextVar[list | None] = ContextVar("soap_deferred_markup", default=None)


def shape(kind: Shape, result: Any, simple: bool | None = True) -> etree._Element | None:
    if result is None:
        return None
    deferred = DEFERRED.get()
    return kind.xml(result, None, options(simple) if deferred is None else dict(options(simple), deferred=deferred))


def snapshot(result: Any, simple: bool | None) -> etree._Element | None:
    return shape(SNAPSHOT, result, simple)


def data_store(store: Any, simple: bool | None) -> etree._Element | None:
    return None if store is None else datastore.dump_xml(store, options(simple)["simple"])
