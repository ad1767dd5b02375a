"""The documentation of the API, written once (`schemas/operations.toml`) for every contract the doors
publish: a summary, a description and a REST example per operation, a description per parameter, and one
per REST tag. The OpenAPI document and its browser view (rest/) read it; so may the WSDL."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Example:
    """A REST call that shows the operation: its query or path parameters, its body and the answer (JSON
    text as the service wrote it)."""

    query: dict[str, Any] = field(default_factory=dict)
    request: str | None = None     # a JSON body
    answer: str | None = None
    text: str | None = None        # a text/plain body


@dataclass(frozen=True)
class OperationDoc:
    summary: str
    description: str
    example: Example = Example()
    parameters: dict[str, str] = field(default_factory=dict)  # what a name means in this operation only


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    with resources.files("schemas").joinpath("operations.toml").open("rb") as file:
        return tomllib.load(file)


def operation(name: str) -> OperationDoc:
    """The documentation of the operation the spec names `name`; KeyError if it has none."""
    entry = _document()["operations"][name]
    example = entry.get("example", {})
    return OperationDoc(entry["summary"].strip(), entry["description"].strip(),
                        Example(dict(example.get("query", {})), _text(example.get("request")),
                                _text(example.get("answer")), example.get("text")),
                        dict(entry.get("parameters", {})))


def parameter(name: str, operation_name: str | None = None) -> str:
    """What the parameter `name` means (in `operation_name`, where it means something of its own there)."""
    own = _document()["operations"].get(operation_name or "", {}).get("parameters", {})
    return (own.get(name) or _document()["parameters"].get(name, "")).strip()


def tags() -> dict[str, str]:
    return {name: entry["description"].strip() for name, entry in _document().get("tags", {}).items()}


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None
