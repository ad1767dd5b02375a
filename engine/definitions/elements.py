"""The elements of a parsed definition: immutable specifications the interpreter walks.

Compound elements hold named blocks (`then`, `else`, `body`, `onError`, `onTerminate`); the position of
a running instance is a path of (compound, block, next element) through them, by full ID, so it stays
meaningful when a definition is reloaded.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from ..model.datastore import DataStore, Value
from ..model.states import ExecutionState

if TYPE_CHECKING:
    from .expressions import Expression, Template

Block = tuple["Element", ...]


@dataclass(eq=False)
class Element:
    id: str
    full_id: str
    line: int
    blocks: ClassVar[tuple[str, ...]] = ()

    def block(self, name: str) -> Block:
        raise KeyError(name)


@dataclass(eq=False)
class StartElement(Element):
    pass


@dataclass(eq=False)
class EndElement(Element):
    state: ExecutionState = ExecutionState.FINISHED
    message: "Template | None" = None


@dataclass(eq=False)
class Assign(Element):
    name: str = ""
    select: "Expression | None" = None
    literal: Value | None = None
    type: str | None = None
    append: bool = False


@dataclass(eq=False)
class Remove(Element):
    name: str = ""


@dataclass(eq=False)
class If(Element):
    test: "Expression | None" = None
    then: Block = ()
    otherwise: Block = ()
    blocks: ClassVar[tuple[str, ...]] = ("then", "else")

    def block(self, name: str) -> Block:
        return {"then": self.then, "else": self.otherwise}[name]


@dataclass(eq=False)
class While(Element):
    test: "Expression | None" = None
    max_iterations: int | None = None
    body: Block = ()
    blocks: ClassVar[tuple[str, ...]] = ("body",)

    def block(self, name: str) -> Block:
        return {"body": self.body}[name]


@dataclass(eq=False)
class ForEach(Element):
    select: "Expression | None" = None
    var: str = ""
    body: Block = ()
    blocks: ClassVar[tuple[str, ...]] = ("body",)

    def block(self, name: str) -> Block:
        return {"body": self.body}[name]


@dataclass(eq=False)
class Wait(Element):
    duration: "Template | None" = None
    until: "Template | None" = None


@dataclass(eq=False)
class Fail(Element):
    message: "Template | None" = None
    error_type: str = "ProcessFailure"


@dataclass(eq=False)
class Scope(Element):
    body: Block = ()
    on_error: Block | None = None
    on_terminate: Block | None = None
    blocks: ClassVar[tuple[str, ...]] = ("body", "onError", "onTerminate")

    def block(self, name: str) -> Block:
        found = {"body": self.body, "onError": self.on_error, "onTerminate": self.on_terminate}[name]
        if found is None:
            raise KeyError(name)
        return found


@dataclass(frozen=True)
class Mapping:
    """`in`/`out` of a call, `param` of an invoke: an entry name and where its values come from."""

    name: str
    select: "Expression | None" = None
    literal: Value | None = None


@dataclass(eq=False)
class Call(Element):
    process_uri: str = ""
    inputs: tuple[Mapping, ...] = ()
    outputs: tuple[Mapping, ...] = ()


@dataclass(eq=False)
class Invoke(Element):
    module: str = ""
    operation: str = ""
    params: tuple[Mapping, ...] = ()
    result: str | None = None


@dataclass(eq=False)
class Log(Element):
    level: str = "info"
    message: "Template | Expression | None" = None


@dataclass(frozen=True)
class ParameterDecl:
    name: str
    type: str
    required: bool
    default: Value | None


@dataclass(eq=False)
class Definition:
    """A parsed process definition. `elements` maps every full ID to its element; `parents` maps it
    to (the full ID of its compound, or "root"; the block name; its index in that block)."""

    name: str | None
    parameters: tuple[ParameterDecl, ...]
    constants: DataStore
    overridable: frozenset[str]
    body: Block
    elements: dict[str, Element] = field(default_factory=dict)
    parents: dict[str, tuple[str, str, int]] = field(default_factory=dict)

    def block(self, owner: str, name: str) -> Block:
        """The block `name` of the compound `owner` ("root" is the process itself)."""
        if owner == "root":
            if name != "body":
                raise KeyError(name)
            return self.body
        return self.elements[owner].block(name)
