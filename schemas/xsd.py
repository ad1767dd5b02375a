"""The wire formats' XSDs under schemas/xsd, compiled and applied by the engine's one loader (which
compiles one schema at a time: libxml2's compiler is not thread-safe)."""
from __future__ import annotations

import copy
import threading
from importlib import resources
from typing import Callable, Iterable

from lxml import etree

from engine.definitions import xsd as _loader
from engine.definitions.xsd import SchemaViolation

__all__ = ["SchemaViolation", "schema", "validate", "variant"]

XS = "http://www.w3.org/2001/XMLSchema"
_local = threading.local()


def schema(name: str) -> etree.XMLSchema:
    """The compiled XSD `schemas/xsd/<name>`, private to the calling thread."""
    return _loader.schema(__package__, f"xsd/{name}")


def variant(name: str, key: str, redeclared: Callable[[], Iterable[etree._Element]]) -> etree.XMLSchema:
    """`schemas/xsd/<name>` with some of its global simple types declared otherwise: each of the
    `xs:simpleType`s `redeclared()` gives replaces the one of its name. Compiled once per thread and
    `key`, under the loader's lock. A query over the history is the query document of CONTRACT §5 with
    fields of its own: one XSD, its field enumeration swapped, rather than a copy to keep in step."""
    cache = _local.__dict__.setdefault("variants", {})
    compiled = cache.get((name, key))
    if compiled is None:
        with resources.as_file(resources.files(__package__).joinpath("xsd", name)) as path:
            document = etree.parse(str(path))
        root = document.getroot()
        for declaration in redeclared():
            old = root.find(f"{{{XS}}}simpleType[@name='{declaration.get('name')}']")
            if old is None:
                raise ValueError(f"{name} declares no simple type {declaration.get('name')}")
            old.getparent().replace(old, copy.deepcopy(declaration))
        compiled = cache[name, key] = _loader.compile_schema(document)
    return compiled


def validate(root: etree._Element, name: str, compiled: etree.XMLSchema | None = None) -> None:
    """Raise SchemaViolation with the first error of `root` against `schemas/xsd/<name>` (or the
    `compiled` variant of it)."""
    _loader.validate(root, compiled if compiled is not None else schema(name))
