"""Modules: plugins that `invoke` elements call, found through the entry-point group
`process_engine.modules` (each entry point names a class; the engine makes one instance of it).

A module has a `name`, `descriptions` by language (`en` at least) and `operations`: a mapping of
operation names to `Operation`s. An operation receives the invoke context and its parameters (entry
name → values) and returns a value, a list of values, or None.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Mapping, Protocol

from ..model.datastore import Value

GROUP = "process_engine.modules"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InvokeContext:
    """What an operation may know of its caller — never the engine itself."""

    execution_id: str
    element_id: str
    current_user: str
    new_id: Callable[[], str]


@dataclass(frozen=True)
class Operation:
    function: Callable[[InvokeContext, Mapping[str, tuple[Value, ...]]], Any]
    descriptions: Mapping[str, str] = field(default_factory=dict)
    parameters: Mapping[str, str] = field(default_factory=dict)  # name -> description


class Module(Protocol):
    name: str
    version: str
    descriptions: Mapping[str, str]
    operations: Mapping[str, Operation]


def load_modules(group: str = GROUP) -> dict[str, Module]:
    """Every installed module by name; a module that fails to load is logged and left out."""
    found: dict[str, Module] = {}
    for point in entry_points(group=group):
        try:
            module = point.load()()
        except Exception:  # a broken plugin must not take the engine down
            log.exception("module %s (%s) failed to load", point.name, point.value)
            continue
        found[module.name] = module
    return found


def describe(texts: Mapping[str, str], lang: str | None) -> str:
    """The text in `lang` (or its base language), falling back to English."""
    if lang:
        lang = lang.replace("_", "-").lower()
        for key in (lang, lang.split("-")[0]):
            if key in texts:
                return texts[key]
    return texts.get("en", next(iter(texts.values()), ""))
