"""Snapshots and results on the wire: the XML obeys schemas/xsd/snapshot.xsd, and the JSON is exactly
the simple JSON form of that XML (CONTRACT §2) — checked against xmlschema's own reading of it."""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone

import xmlschema
from hypothesis import given, settings, strategies as st
from lxml import etree

from engine.model.datastore import DataStore, make_value
from engine.model.results import (Ace, DefinitionInfo, ExceptionReport, ExecutionIds, Health, ParameterInfo, Snapshot,
                          ValidationResult)
from engine.model.states import AutoDispose, ExecutionState, HealthState
from schemas import datastore, snapshot as render
from tests.support.namespaces import PE
from tests.support.common import ROOT
from tests.support.strategies import stores as rich_stores

XSD = xmlschema.XMLSchema(str(ROOT / "schemas" / "xsd" / "snapshot.xsd"))
text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                       timezones=st.just(timezone.utc)).map(lambda m: m.replace(microsecond=m.microsecond // 1000 * 1000))
reports = st.recursive(st.builds(ExceptionReport, text, text, st.none() | text, st.none()),
                       lambda inner: st.builds(ExceptionReport, text, text, st.none() | text, inner), max_leaves=3)
stores = st.lists(st.tuples(text, st.lists(text, max_size=3)), max_size=3, unique_by=lambda e: e[0]).map(
    lambda entries: DataStore((n, [make_value(str(i), "text/plain", v) for i, v in enumerate(vs)]) for n, vs in entries))
snapshots = st.builds(
    Snapshot, execution_id=text, external_id=st.none() | text, state=st.sampled_from(ExecutionState),
    state_change_index=st.integers(0, 10**6), auto_dispose=st.sampled_from(AutoDispose), created_at=moments,
    started_at=st.none() | moments, finished_at=st.none() | moments, current_element=st.none() | text,
    current_time=moments, current_user=text, owner=text, owner_node=st.none() | text, process_engine_id=text,
    debug=st.booleans(), locked=st.booleans(), online=st.booleans(), message=st.none() | text,
    thread_pool_id=st.none() | text,
    definition=st.builds(DefinitionInfo, text, text, st.none() | text, st.none() | moments, st.integers(1, 99)),
    health=st.builds(Health, st.sampled_from(HealthState), st.none() | text, st.none() | text),
    exception=st.none() | reports,
    permissions=st.lists(st.builds(Ace, text, st.lists(st.sampled_from(["read", "write", "execute"]),
                                                       min_size=1, unique=True).map(tuple)), max_size=2).map(tuple),
    pipeline=st.none() | stores)


def as_json_of_xml(element: etree._Element) -> dict:
    decoded = XSD.to_dict(etree.tostring(element, encoding="unicode"), attr_prefix="", strip_namespaces=True,
                          preserve_root=True)
    return json.loads(json.dumps(decoded))


def without_pipeline(document: dict) -> dict:
    body = dict(next(iter(document.values())))
    body.pop("pipeline", None)
    return body


@settings(max_examples=150, deadline=None)
@given(snapshots, st.booleans())
def test_snapshot_json_is_the_simple_json_form_of_its_xml(snapshot, simple):
    element = render.dump_xml(snapshot, simple)
    XSD.validate(etree.tostring(element, encoding="unicode"))
    wire_json = json.loads(json.dumps(render.dump_json(snapshot, simple)))
    assert without_pipeline(wire_json) == without_pipeline(as_json_of_xml(element))
    if snapshot.pipeline is not None:
        from_xml = datastore.load_xml_children(element.find("{*}pipeline"))
        from_json = datastore.load_json_body(wire_json["processExecutionSnapshot"]["pipeline"])
        if simple:
            assert [(n, [v.text for v in vs]) for n, vs in from_xml.entries()] == \
                   [(n, [v.text for v in vs]) for n, vs in snapshot.pipeline.entries()]
        else:
            assert from_xml == snapshot.pipeline
        assert from_json == from_xml


def test_absent_values_are_left_out_and_types_are_kept():
    moment = datetime(2026, 11, 22, 23, 24, 56, 123000, tzinfo=timezone.utc)
    snapshot = Snapshot("e1", None, ExecutionState.CREATED, 0, AutoDispose.FETCH, moment, None, None, None, moment,
                        "u", "u", None, "n1", False, False, True, None, None,
                        DefinitionInfo("a.ipd", "a.ipd", None, None, 1), Health(HealthState.OK), None, (), None)
    body = render.dump_json(snapshot)["processExecutionSnapshot"]
    assert body["createdAt"] == "2026-11-22T23:24:56.123Z" and body["stateChangeIndex"] == 0
    assert body["online"] is True and "externalId" not in body and "pipeline" not in body
    element = render.dump_xml(snapshot)
    assert element.tag == "{http://www.infinica.com/process-engine}processExecutionSnapshot"
    assert element.get("online") == "true" and element.get("externalId") is None


def test_lists_and_results(tmp_path):
    moment = datetime(2026, 1, 1, tzinfo=timezone.utc)
    one = Snapshot("e1", None, ExecutionState.CREATED, 0, AutoDispose.NEVER, moment, None, None, None, moment,
                   "u", "u", None, "n", False, False, True, None, None, DefinitionInfo("a", "a", None, None, 1),
                   Health(HealthState.OK), None, (), None)
    listing = render.dump_list_xml([one])
    XSD.validate(etree.tostring(listing, encoding="unicode"))
    assert render.dump_list_json([one])["processExecutionSnapshots"]["processExecutionSnapshot"][0]["executionId"] == "e1"
    assert render.dump_list_json([]) == {"processExecutionSnapshots": {"processExecutionSnapshot": []}}
    result = ValidationResult("a.ipd", "A", (ParameterInfo("p", "text/plain", True),), ("root.s",))
    element = render.dump_validation_xml(result)
    XSD.validate(etree.tostring(element, encoding="unicode"))
    assert render.dump_validation_json(result) == as_json_of_xml(element)
    for ids in (ExecutionIds(2), ExecutionIds(1, ("x",)), ExecutionIds(0, ())):
        element = render.dump_execution_ids_xml(ids)
        XSD.validate(etree.tostring(element, encoding="unicode"))
        assert render.dump_execution_ids_json(ids) == as_json_of_xml(element) | (
            {"executionIds": {**as_json_of_xml(element)["executionIds"], "executionId": []}} if ids.execution_ids == () else {})


def canonical_tree(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n2")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.builds(dataclasses.replace, snapshots, pipeline=st.none() | rich_stores()), max_size=3),
       st.booleans())
def test_whole_documents_with_pipelines_written_as_text_are_the_documents_of_the_trees(listed, simple):
    # What REST answers (issue 15): pipelines go in as text between the pieces of the serialized rest.
    options = {"simple": simple}
    for shape, obj in [(render.SNAPSHOT, s) for s in listed] + [(render.SNAPSHOTS, listed)]:
        written = etree.fromstring(b"".join(shape.document(obj, options)))
        assert canonical_tree(written) == canonical_tree(shape.xml(obj, None, options))
        assert json.loads(b"".join(shape.json_document(obj, options))) == shape.json(obj, options)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.builds(dataclasses.replace, snapshots, pipeline=st.none() | rich_stores()), max_size=3),
       st.booleans())
def test_pipelines_spliced_into_an_envelope_that_dropped_unused_declarations_are_the_trees(listed, simple):
    # What SOAP answers (issue 15): the snapshot moves into Spyne's envelope, whose writer drops the
    # declarations no element uses (`dat`'s, with the pipelines deferred); splice declares it again.
    from schemas.shapes import splice

    options = {"simple": simple}
    for shape, obj in [(render.SNAPSHOT, s) for s in listed] + [(render.SNAPSHOTS, listed)]:
        deferred: list = []
        envelope = etree.Element("{urn:envelope}Envelope", nsmap={"e": "urn:envelope", "tns": PE})
        etree.SubElement(envelope, "{urn:envelope}Body").append(shape.xml(obj, None, dict(options, deferred=deferred)))
        etree.cleanup_namespaces(envelope)
        written = etree.fromstring(b"".join(splice(etree.tostring(envelope), deferred)))
        expected = shape.xml(obj, None, options)
        assert as_tuples(written[0][0]) == as_tuples(expected)


def as_tuples(element: etree._Element) -> tuple:
    """An element's names (with their namespaces), attributes, text and children, prefixes aside."""
    return (element.tag, dict(element.attrib), element.text or "", element.tail or "",
            [as_tuples(child) for child in element])
