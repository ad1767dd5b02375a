"""Where an instance stands: a stack of frames through the blocks of its definition.

Frames name elements by full ID, never by index, so a saved position survives a reload of an edited
definition as long as the elements it names still exist; when they do not, `DefinitionConflict`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..model.datastore import Value
from ..definitions.elements import Definition
from ..faults import Fault, TerminateRequest
from ..storage.codec import CorruptState, decode_value, encode_value


class DefinitionConflict(Exception):
    """The saved position names elements the current definition does not have."""


@dataclass
class Frame:
    owner: str                       # "root" or the full ID of a compound element
    block: str                       # body | then | else | onError | onTerminate
    index: int = 0                   # next element of the block to run
    iteration: int = 0               # while / forEach: how many times the body started
    items: list[Value] | None = None  # forEach: every item
    error: Fault | None = None       # onError: the fault being handled


@dataclass
class Suspension:
    """Why the instance stopped at an element: a wait, a child process, a breakpoint."""

    kind: str                        # wait | child | breakpoint
    element: str
    child: str | None = None


@dataclass
class Position:
    frames: list[Frame] = field(default_factory=list)
    at: Suspension | None = None
    terminating: TerminateRequest | None = None
    # History level `activity`: the elements entered and not yet left (full ID → when, loop iteration,
    # entry number), saved with the position so a visit that spans a wait is recorded whole wherever
    # it ends.
    entered: dict[str, tuple[str, int | None, int]] = field(default_factory=dict)  # (…, the entry's number)
    entries: int = 0                  # how many elements the process has entered


def encode_position(position: Position, definition: Definition) -> dict[str, Any]:
    return {
        "frames": [_encode_frame(f, definition) for f in position.frames],
        "at": position.at.__dict__ if position.at else None,
        "term": position.terminating.__dict__ if position.terminating else None,
        **({"ent": {k: list(v) for k, v in position.entered.items()}} if position.entered else {}),
        **({"seq": position.entries} if position.entries else {}),
    }


def _encode_frame(frame: Frame, definition: Definition) -> dict[str, Any]:
    block = definition.block(frame.owner, frame.block)
    data: dict[str, Any] = {"o": frame.owner, "b": frame.block,
                            "n": block[frame.index].full_id if frame.index < len(block) else None}
    if frame.iteration:
        data["k"] = frame.iteration
    if frame.items is not None:
        data["items"] = [encode_value(v) for v in frame.items]
    if frame.error is not None:
        data["err"] = frame.error.to_dict()
    return data


def decode_position(data: dict[str, Any] | None, definition: Definition) -> Position:
    """Rebuild a position against `definition`; CorruptState for a bad shape, DefinitionConflict when
    the definition no longer has what it names."""
    if data is None:
        return Position()
    try:
        frames = [_decode_frame(f, definition) for f in data["frames"]]
        at = Suspension(**data["at"]) if data.get("at") else None
        term = TerminateRequest(**data["term"]) if data.get("term") else None
        entered = {k: (v[0], v[1], v[2]) for k, v in data.get("ent", {}).items()}
        entries = int(data.get("seq", 0))
    except (DefinitionConflict, CorruptState):
        raise
    except Exception as exc:
        raise CorruptState(f"saved position does not decode: {type(exc).__name__}: {exc}") from None
    if at is not None and at.element not in definition.elements:
        raise DefinitionConflict(f"element {at.element} no longer exists")
    return Position(frames, at, term, entered, entries)


def _decode_frame(data: dict[str, Any], definition: Definition) -> Frame:
    owner, block_name, next_id = data["o"], data["b"], data["n"]
    try:
        block = definition.block(owner, block_name)
    except KeyError:
        raise DefinitionConflict(f"block {block_name} of {owner} no longer exists") from None
    if next_id is None:
        index = len(block)
    else:
        parent = definition.parents.get(next_id)
        if parent is None or parent[:2] != (owner, block_name):
            raise DefinitionConflict(f"element {next_id} no longer exists in {owner}/{block_name}")
        index = parent[2]
    items = [decode_value(v) for v in data["items"]] if "items" in data else None
    error = Fault.from_dict(data["err"]) if data.get("err") else None
    return Frame(owner, block_name, index, data.get("k", 0), items, error)
