"""Loading XSDs and validating documents against them: the process definition's (beside this module),
and the wire formats' (`schemas.xsd`), through one loader.

lxml's XMLSchema keeps one error log per schema object, so a schema shared between threads would mix
the errors of concurrent validations; each thread compiles its own copy, once. libxml2's schema compiler
is not safe to run in several threads at once (a cold node's first burst of requests gave "Document is
not valid XML Schema", and once a segfault), so the copies are compiled one at a time.
"""
from __future__ import annotations

import copy
import re
import threading
from importlib import resources

from lxml import etree

_local = threading.local()
_compiling = threading.Lock()


class SchemaViolation(Exception):
    """A document that breaks its XSD; `line` points into the validated document."""

    def __init__(self, message: str, line: int | None, element: etree._Element | None) -> None:
        super().__init__(message)
        self.message, self.line, self.element = message, line, element


def compile_schema(document: etree._ElementTree) -> etree.XMLSchema:
    """Compile a parsed XSD, one compilation at a time (see above); the caller keeps it per thread."""
    with _compiling:
        return etree.XMLSchema(document)


def schema(package: str, name: str) -> etree.XMLSchema:
    """The compiled XSD `name` (a path under the package `package`), private to the calling thread."""
    cache = getattr(_local, "schemas", None)
    if cache is None:
        cache = _local.schemas = {}
    compiled = cache.get((package, name))
    if compiled is None:
        path = resources.files(package).joinpath(name)
        with _compiling, resources.as_file(path) as file:
            compiled = cache[package, name] = etree.XMLSchema(etree.parse(str(file)))
    return compiled


def process_definition() -> etree.XMLSchema:
    """The XSD of the process definition (IPD)."""
    return schema(__package__, "process-definition.xsd")


def validate(root: etree._Element, xsd: etree.XMLSchema) -> None:
    """Raise SchemaViolation with the first error, naming the offending element when lxml can."""
    if xsd.validate(root):
        return
    if root.getparent() is not None:
        # lxml validates a subtree through a copy, and its error paths point into that copy; validate
        # a copy of our own so they point at elements we hold (copies keep their source lines).
        # Only for the message: a valid subtree, the usual case, is not copied.
        root = copy.deepcopy(root)
        xsd.validate(root)
    error = xsd.error_log[0]
    raise SchemaViolation(_clean(error.message), error.line or None, _element_at(root, error.path))


def _element_at(root: etree._Element, path: str | None) -> etree._Element | None:
    if not path:
        return None
    try:
        found = root.getroottree().xpath(path, namespaces={k: v for k, v in root.nsmap.items() if k})
    except etree.XPathError:
        return None
    return found[0] if found and isinstance(found[0], etree._Element) else None


_NAMESPACE = re.compile(r"\{[^}'\",\s]*[:/][^}'\",\s]*\}")


def _clean(message: str) -> str:
    """Turn lxml's `{namespace}name` into `name` (one namespace runs through a document); enumeration
    sets such as `{'a', 'b'}` stay."""
    return _NAMESPACE.sub("", message)
