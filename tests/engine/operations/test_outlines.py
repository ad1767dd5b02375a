"""Outlines for the console's diagrams: a definition's element tree with its blocks and labels, and for an
instance its breakpoints, current element and trail; on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

from engine import operations as ops
from engine.errors import AuthorizationError, NotFound
from engine.model.states import ExecutionState
from engine.security.authorization import ANONYMOUS_ADMIN as ADMIN, Principal
from tests.support.common import SAMPLES, settles, write_definition

CLERK = Principal("clerk", frozenset({"clerks"}))


def shape(elements) -> list:
    """(kind, full ID, label, blocks) all the way down: what a diagram draws."""
    return [(e.kind, e.full_id, e.label, [(name, shape(block)) for name, block in e.blocks]) for e in elements]


def test_a_definitions_outline_nests_its_blocks_and_labels_each_element(engine_factory):
    pe = engine_factory(SAMPLES)
    outline = ops.outline_definition(pe, ADMIN, "handled-failure.ipd")
    assert outline.uri == "handled-failure.ipd" and outline.name == "Handled failure"
    assert [(p.name, p.type, p.required) for p in outline.parameters] == [("failHard", "text/plain", False)]
    assert shape(outline.body) == [
        ("startElement", "root.start", "", []),
        ("scope", "root.attempt", "", [
            ("body", [("assign", "root.attempt.before", "stage", []), ("fail", "root.attempt.charge", "PaymentDeclined", []),
                      ("assign", "root.attempt.after", "stage", [])]),
            ("onError", [("assign", "root.attempt.record", "error", []), ("assign", "root.attempt.recover", "stage", [])])]),
        ("if", "root.hard", "$failHard = 'true'", [
            ("then", [("fail", "root.hard.giveUp", "Unrecoverable", [])]), ("else", [])]),
        ("endElement", "root.end", "FINISHED", []),
    ]
    assert outline.breakpoints == () and outline.current is None and outline.passed == ()


def test_loops_calls_and_invocations_are_labelled_with_what_tells_them_apart(engine_factory, repo):
    write_definition(repo, "kinds.ipd", '<forEach id="each" select="$items" var="item"><wait id="nap" duration="PT1S"/>'
                     '</forEach><call id="child" processUri="other.ipd"/><invoke id="id" module="util" operation="uuid"/>'
                     '<wait id="signal"/>')
    write_definition(repo, "other.ipd", "")
    outline = ops.outline_definition(engine_factory(repo), ADMIN, "kinds.ipd")
    assert [(e.kind, e.label) for e in outline.body[1:]] == [
        ("forEach", "item in $items"), ("call", "other.ipd"), ("invoke", "util.uuid"), ("wait", "for a signal")]
    assert outline.body[1].blocks[0][1][0].label == "for PT1S"


def test_an_instances_outline_shows_its_breakpoints_its_position_and_its_trail(engine_factory):
    pe = engine_factory(SAMPLES, history={"level": "activity"})
    created = ops.instantiate(pe, ADMIN, "loop.ipd", auto_dispose="never")
    ops.set_breakpoint(pe, ADMIN, created.execution_id, "root.count.collect", timeout=0)
    paused = ops.start_process(pe, ADMIN, created.execution_id, timeout=10000, states=["PAUSED"])
    assert paused.state is ExecutionState.PAUSED
    outline = ops.outline_instance(pe, ADMIN, created.execution_id)
    assert outline.uri == "loop.ipd" and outline.breakpoints == ("root.count.collect",)
    assert outline.current == "root.count.collect"
    # the elements left so far, in order; the loop it is inside is not left yet
    assert outline.passed == ("root.start", "root.init", "root.clear", "root.count.next")


def test_an_instances_outline_needs_read_and_an_unknown_one_is_not_found(engine_factory):
    pe = engine_factory(SAMPLES)
    created = ops.instantiate(pe, ADMIN, "greeting.ipd", auto_dispose="never")
    with pytest.raises(AuthorizationError):
        ops.outline_instance(pe, CLERK, created.execution_id)
    ops.set_permissions(pe, ADMIN, created.execution_id, "clerks", ["read"])
    assert ops.outline_instance(pe, CLERK, created.execution_id).uri == "greeting.ipd"
    with pytest.raises(NotFound):
        ops.outline_instance(pe, ADMIN, "no-such-execution")
    with pytest.raises(NotFound):
        ops.outline_definition(pe, ADMIN, "no-such.ipd")


def test_an_instances_outline_lists_the_live_processes_its_calls_started(engine_factory, repo):
    write_definition(repo, "child.ipd", '<wait id="hold"/>')
    write_definition(repo, "parent.ipd", '<call id="child" processUri="child.ipd"/>')
    pe = engine_factory(repo)
    parent = ops.run(pe, ADMIN, "parent.ipd", timeout=10000, states=["WAITING"], auto_dispose="never")
    outline = settles(lambda: (found := ops.outline_instance(pe, ADMIN, parent.execution_id)).children
                       and found.children[0][2] == "WAITING" and found)  # the child runs on its own
    assert outline.current == "root.child"
    [(child_id, uri, state)] = outline.children
    assert (uri, state) == ("child.ipd", "WAITING")
    assert ops.get_process_snapshot(pe, ADMIN, child_id, peek=True).definition.uri == "child.ipd"
    assert ops.outline_instance(pe, ADMIN, child_id).children == ()


def test_an_instances_outline_lists_its_open_watchers(engine_factory):
    pe = engine_factory(SAMPLES)
    created = ops.instantiate(pe, ADMIN, "greeting.ipd", auto_dispose="never")
    watcher = ops.create_watcher(pe, ADMIN, created.execution_id, group_id="ops")
    assert ops.outline_instance(pe, ADMIN, created.execution_id).watchers == ((watcher.id, "ops", "admin"),)
    ops.delete_watcher(pe, ADMIN, watcher.id)
    assert ops.outline_instance(pe, ADMIN, created.execution_id).watchers == ()
