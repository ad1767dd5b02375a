"""The wire formats' XSDs under schemas/xsd, compiled and applied by the engine's one loader (which
compiles one schema at a time: libxml2's compiler is not thread-safe)."""
from __future__ import annotations

from lxml import etree

from engine.definitions import xsd as _loader
from engine.definitions.xsd import SchemaViolation

__all__ = ["SchemaViolation", "schema", "validate"]


def schema(name: str) -> etree.XMLSchema:
    """The compiled XSD `schemas/xsd/<name>`, private to the calling thread."""
    return _loader.schema(__package__, f"xsd/{name}")


def validate(root: etree._Element, name: str) -> None:
    """Raise SchemaViolation with the first error of `root` against `schemas/xsd/<name>`."""
    _loader.validate(root, schema(name))
