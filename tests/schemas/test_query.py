"""The query marshaller as REST and SOAP clients meet it: both forms, the spec's examples, every refusal."""
from __future__ import annotations

import json
from importlib import resources

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from engine.errors import InvalidQuery
from engine.model.history import HISTORY_FIELDS, OPERATION_FIELDS
from engine.model.query import And, Not, Or, Param, Query, QueryField, QueryOperation, SortCriterion
from engine.support.safexml import parse
from schemas import query as marshal
from schemas.query import MAX_DEPTH, dump_json, dump_xml, load, load_json, load_xml
from tests.support.strategies import queries

NS = 'xmlns="http://www.infinica.com/query" xmlns:dat="http://www.infinica.com/datastore"'

# The spec's examples with their placeholders filled in; the JSON one quotes numbers and booleans and
# gives single repeatable items bare, exactly as the spec writes it.
SPEC_XML = f"""<query {NS}
    offset="0"
    limit="10">
  <and>
    <param field="state" operation="in">
      <values type="text/plain">
        <dat:value>RUNNING</dat:value>
        <dat:value>WAITING</dat:value>
      </values>
    </param>
    <not>
      <param field="owner" operation="isNull"/>
    </not>
  </and>
  <sort>
    <criterion field="createdAt" ascending="true" />
  </sort>
</query>"""

SPEC_JSON = {"query": {
    "and": {
        "param": {"values": {"value": ["RUNNING", "WAITING"]}, "field": "state", "operation": "in"},
        "not": {"param": {"field": "owner", "operation": "isNull"}},
    },
    "sort": {"criterion": {"field": "createdAt", "ascending": "true"}},
    "offset": "0",
    "limit": "10",
}}

SPEC_QUERY = Query(
    And((Param("state", "in", ("RUNNING", "WAITING")), Not(Param("owner", "isNull")))),
    (SortCriterion("createdAt", True),), 0, 10)


def xml(body: str, attrs: str = "") -> bytes:
    return f"<query {NS}{attrs}>{body}</query>".encode()


def param_xml(field: str = "state", operation: str = "equals", *values: str) -> str:
    inner = "".join(f"<dat:value>{v}</dat:value>" for v in values)
    return f'<param field="{field}" operation="{operation}"><values>{inner}</values></param>'


def refused(document) -> str:
    with pytest.raises(InvalidQuery) as caught:
        load(document)
    return str(caught.value)


# ---- reading -------------------------------------------------------------------------------------

def test_spec_examples_in_xml_and_json_mean_the_same_query():
    assert load(SPEC_XML) == SPEC_QUERY
    assert load(SPEC_XML.encode()) == SPEC_QUERY
    assert load(SPEC_JSON) == SPEC_QUERY
    assert load(json.dumps(SPEC_JSON)) == SPEC_QUERY
    assert load(json.dumps(SPEC_JSON).encode()) == SPEC_QUERY


def test_the_form_is_told_from_the_document_not_from_a_hint():
    assert load(b"\xef\xbb\xbf  \n" + xml("")) == Query()
    assert load('<?xml version="1.0" encoding="UTF-8"?>\n' + xml("").decode()) == Query()
    assert load(xml("").decode().encode("utf-16")) == Query()
    assert load(b' \n {"query": {}}') == Query()
    assert load(parse(xml(""))) == Query()


def test_nested_and_or_not_keep_their_structure_and_order():
    body = ("<or>" + param_xml("state", "equals", "FAILED")
            + "<and><not><param field='finishedAt' operation='isNull'/></not>"
            + param_xml("createdAt", "lessThan", "2026-11-22T23:24:56.123Z") + "</and>"
            + param_xml("owner", "like", "ad%_n") + "</or>")
    expected = Or((Param("state", "equals", ("FAILED",)),
                   And((Not(Param("finishedAt", "isNull")),
                        Param("createdAt", "lessThan", ("2026-11-22T23:24:56.123Z",)))),
                   Param("owner", "like", ("ad%_n",))))
    assert load(xml(body)).tree == expected
    as_json = {"query": {"or": {
        "param": [{"field": "state", "operation": "equals", "values": {"value": "FAILED"}}],
        "and": {"not": {"param": {"field": "finishedAt", "operation": "isNull"}},
                "param": {"field": "createdAt", "operation": "lessThan",
                          "values": {"value": ["2026-11-22T23:24:56.123Z"]}}}}}}
    # JSON groups sub nodes by kind: the or's params come first, then its and.
    assert load(as_json).tree == Or((Param("state", "equals", ("FAILED",)), expected.nodes[1]))


def test_empty_and_and_or_are_allowed_and_an_empty_query_matches_everything():
    assert load(xml("<and/>")).tree == And(())
    assert load({"query": {"or": {}}}).tree == Or(())
    assert load(xml("")) == Query(None, (), 0, None)
    assert load({"query": {}}) == Query(None, (), 0, None)


def test_sort_with_several_criteria_keeps_their_order():
    sort = ('<sort><criterion field="state"/><criterion field="createdAt" ascending="false"/>'
            '<criterion field="owner" ascending="1"/></sort>')
    expected = (SortCriterion("state", True), SortCriterion("createdAt", False), SortCriterion("owner", True))
    assert load(xml(sort)).sort == expected
    assert load(xml(sort + param_xml("state", "equals", "x"))).sort == expected  # sort first is fine
    as_json = {"query": {"sort": {"criterion": [
        {"field": "state"},
        {"field": "createdAt", "ascending": False},
        {"field": "owner", "ascending": "TRUE"}]}}}
    assert load(as_json).sort == expected


def test_offset_defaults_to_zero_and_limit_to_none_meaning_the_configured_default():
    assert (load(xml("")).offset, load(xml("")).limit) == (0, None)
    assert (load({"query": {}}).offset, load({"query": {}}).limit) == (0, None)
    assert load({"query": {"limit": None}}).limit is None
    given_xml = load(xml("", ' offset=" 5" limit="0"'))
    assert (given_xml.offset, given_xml.limit) == (5, 0)
    assert load({"query": {"offset": 7, "limit": " 20 "}}) == Query(None, (), 7, 20)


def test_values_stay_raw_text_with_their_type():
    doc = xml('<param field="createdAt" operation="greaterThan"><values type="text/x-timestamp">'
              "<dat:value>  2026-01-01T00:00:00.000Z\n</dat:value></values></param>")
    assert load(doc).tree == Param("createdAt", "greaterThan", ("  2026-01-01T00:00:00.000Z\n",),
                                   "text/x-timestamp")
    cdata = xml(param_xml("owner", "equals", "<![CDATA[a<b&c]]>"))
    assert load(cdata).tree.values == ("a<b&c",)


def test_json_values_may_be_numbers_or_booleans_and_are_read_as_their_json_text():
    doc = {"query": {"param": {"field": "online", "operation": "in",
                               "values": {"value": [True, 3, 1.5, "x"]}}}}
    assert load(doc).tree.values == ("true", "3", "1.5", "x")


def test_a_query_inside_a_soap_body_is_read_from_its_element():
    query = xml(param_xml("owner", "equals", "ann")).decode()
    envelope = parse(("<s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/envelope/'><s:Body>\n"
                      + query + "\n</s:Body></s:Envelope>").encode())
    element = envelope[0][0]
    assert load(element).tree == Param("owner", "equals", ("ann",))
    param = element.find("{http://www.infinica.com/query}param")
    param.set("operation", "isNull")
    assert refused(element) == "line 2: param values: isNull takes no value, found 1"
    param.set("operation", "bogus")
    assert refused(element).startswith("line 2: Element 'param', attribute 'operation': The value 'bogus'")


# ---- writing and round trips ---------------------------------------------------------------------

def test_output_json_uses_arrays_numbers_and_booleans():
    assert dump_json(SPEC_QUERY) == {"query": {
        "and": {"param": [{"field": "state", "operation": "in",
                           "values": {"type": "text/plain", "value": ["RUNNING", "WAITING"]}}],
                "not": [{"param": {"field": "owner", "operation": "isNull"}}]},
        "sort": {"criterion": [{"field": "createdAt", "ascending": True}]},
        "offset": 0, "limit": 10}}


def test_output_xml_is_the_spec_form():
    root = dump_xml(SPEC_QUERY)
    assert root.nsmap == {None: "http://www.infinica.com/query", "dat": "http://www.infinica.com/datastore"}
    assert (root.get("offset"), root.get("limit")) == ("0", "10")
    ns = {"q": marshal.QUERY, "dat": marshal.DATASTORE}
    assert [v.text for v in root.iterfind("q:and/q:param/q:values/dat:value", ns)] == ["RUNNING", "WAITING"]
    assert root.find("q:and/q:not/q:param", ns).attrib == {"field": "owner", "operation": "isNull"}
    assert root.find("q:sort/q:criterion", ns).attrib == {"field": "createdAt", "ascending": "true"}


def grouped(node):
    """What JSON can say of a tree: the sub nodes of and/or grouped by kind, kinds in first-seen order."""
    if isinstance(node, Not):
        return Not(grouped(node.node))
    if isinstance(node, (And, Or)):
        kinds = list(dict.fromkeys(type(n) for n in node.nodes))
        return type(node)(tuple(grouped(n) for k in kinds for n in node.nodes if type(n) is k))
    return node


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(queries)
def test_xml_round_trip_through_bytes(q):
    assert load(etree.tostring(dump_xml(q), xml_declaration=True, encoding="UTF-8")) == q
    assert load(etree.tostring(dump_xml(q), pretty_print=True)) == q
    assert load(dump_xml(q)) == q  # an element, as the SOAP door holds it


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(queries)
def test_json_round_trip_through_text(q):
    expected = Query(grouped(q.tree), q.sort, q.offset, q.limit)
    assert load(json.dumps(dump_json(q))) == expected
    assert load(json.dumps(dump_json(expected)).encode()) == expected


# ---- refusals ------------------------------------------------------------------------------------

@pytest.mark.parametrize("document, message", [
    (xml(param_xml("color", "equals", "x")), "line 1, column 92: Element 'param', attribute 'field': "
                                             "The value 'color' is not one of executionId"),
    (xml(param_xml("state", "matches", "x")),
     "attribute 'operation': The value 'matches' is not one of isNull"),
    (xml("<not/>"), "line 1, column 92: Element 'not': Missing child element"),
    (xml("<not>" + param_xml("state", "equals", "a") * 2 + "</not>"),
     "Element 'param': This element is not expected"),
    (xml(param_xml("state", "isNull", "a")),
     "line 1, column 92: param values: isNull takes no value, found 1"),
    (xml(param_xml("state", "equals")), "param values: equals takes exactly one value, found 0"),
    (xml(param_xml("state", "equals", "a", "b")), "param values: equals takes exactly one value, found 2"),
    (xml(param_xml("owner", "like", "a", "b")), "param values: like takes exactly one value, found 2"),
    (xml(param_xml("createdAt", "lessThan")), "lessThan takes exactly one value, found 0"),
    (xml(param_xml("createdAt", "greaterThan", "a", "b")), "greaterThan takes exactly one value, found 2"),
    (xml(param_xml("state", "in")), "param values: in takes at least one value, found 0"),
    (xml("<param field='state' operation='equals'/>"), "equals takes exactly one value, found 0"),
    (xml("", ' offset="-1"'),
     "line 1, column 1: Element 'query', attribute 'offset': '-1' is not an integer from 0 to"),
    (xml("", ' limit="ten"'), "attribute 'limit': 'ten' is not an integer from 0 to 9223372036854775807"),
    (xml("", ' limit="99999999999999999999"'), "attribute 'limit'"),
    (xml('<sort><criterion field="state" ascending="yes"/></sort>'),
     "line 1, column 98: Element 'criterion', attribute 'ascending': 'yes' is not a boolean"),
    (xml('<sort><criterion field="color"/></sort>'), "The value 'color' is not one of"),
    (xml("<and/><or/>"), "line 1, column 1: query: a query holds at most one node, found 2"),
    (xml("<sort/><sort/>"), "a query holds at most one sort"),
    (xml('<param field="state" operation="equals"><values><dat:other>a</dat:other></values></param>'),
     "values holds only dat:value elements"),
    (xml('<param field="state" operation="equals"><values><dat:value><b/></dat:value></values></param>'),
     "values holds only dat:value elements with text"),
    (xml('<param field="state" operation="equals"><values><value>a</value></values></param>'),
     "Element 'value': This element is not expected"),
    (xml('<param field="state" operation="equals"><values type=" ">'
         '<dat:value>a</dat:value></values></param>'), "attribute 'type'"),
    (xml("<foo/>"), "Element 'foo': This element is not expected"),
    (xml('<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="/etc/passwd"/>'),
     "line 1: Element 'include': This element is not expected"),
    (b'<query xmlns="urn:other"/>', "line 1, column 1: the root element must be query in namespace"),
    (b"<query xmlns='http://www.infinica.com/query'>\n  <and>\n</query>", "line 3, column"),
    (b'<!DOCTYPE query [<!ENTITY x "y">]><query xmlns="http://www.infinica.com/query"/>',
     "a DOCTYPE is not allowed"),
    (b"", "not XML nor JSON"),
    (b"query", "line 1, column 1: not XML nor JSON"),
])
def test_xml_refusals_name_the_place_and_the_reason(document, message):
    assert message in refused(document)


def jparam(**kw):
    return {"param": {"field": "state", "operation": "equals", "values": {"value": ["x"]}, **kw}}


@pytest.mark.parametrize("document, message", [
    ({"query": {"and": {"param": [jparam()["param"], jparam(operation="bogus")["param"]]}}},
     "query.and.param[1].operation: Must be one of: isNull, equals"),
    ({"query": jparam(field="color")}, "query.param.field: Must be one of: executionId"),
    ({"query": jparam(field=None)}, "query.param.field: Field may not be null"),
    ({"query": {"param": {"operation": "isNull"}}}, "query.param.field: Missing data for required field"),
    ({"query": {"not": {}}}, "query.not: not holds exactly one sub node, found 0"),
    ({"query": {"not": {"param": [jparam()["param"]] * 2}}},
     "query.not: not holds exactly one sub node, found 2"),
    ({"query": {"not": {**jparam(), "and": {}}}}, "query.not: not holds exactly one sub node, found 2"),
    ({"query": jparam(operation="isNull")}, "query.param.values: isNull takes no value, found 1"),
    ({"query": jparam(values={"value": []})}, "query.param.values: equals takes exactly one value, found 0"),
    ({"query": jparam(values={"value": ["a", "b"]})},
     "query.param.values: equals takes exactly one value, found 2"),
    ({"query": jparam(operation="in", values={})},
     "query.param.values: in takes at least one value, found 0"),
    ({"query": jparam(values={"value": [None]})}, "query.param.values.value[0]: Field may not be null"),
    ({"query": jparam(values={"value": [{"a": 1}]})},
     "query.param.values.value[0]: {'a': 1} is not a string"),
    ({"query": jparam(values={"value": float("nan")})}, "query.param.values.value: nan is not a string"),
    ({"query": jparam(values={"value": "a\x00b"})},
     "query.param.values: 'a\\x00b' holds a character XML cannot carry"),
    ({"query": jparam(values={"value": "a", "type": ""})},
     "query.param.values.type: the content type must be a non-empty string"),
    ({"query": jparam(values=["a"])}, "query.param.values: must be an object"),
    ({"query": {"and": {"param": [jparam()["param"], 5]}}}, "query.and.param[1]: must be an object"),
    ({"query": {"and": [5]}}, "query.and[0]: must be an object"),
    ({"query": {"offset": -1}}, "query.offset: -1 is not an integer from 0 to"),
    ({"query": {"offset": "1e3"}}, "query.offset: '1e3' is not an integer"),
    ({"query": {"limit": 2.0}}, "query.limit: 2.0 is not an integer"),
    ({"query": {"limit": True}}, "query.limit: True is not an integer"),
    ({"query": {"limit": 2**63}}, "query.limit: 9223372036854775808 is not an integer"),
    ({"query": {"limit": 10**5000}}, "query.limit: a huge integer is not an integer"),
    ({"query": jparam(values={"value": 10**5000})},
     "query.param.values.value: a huge integer is not a string"),
    ({"query": jparam(field="x" * 10**6)}, "query.param.field: Must be one of"),
    ({"query": {"offset": "9" * 10**6}}, "query.offset: '99999999"),
    ({"query": {"sort": {"criterion": {"field": "state", "ascending": "yes"}}}},
     "query.sort.criterion.ascending: 'yes' is not a boolean"),
    ({"query": {"sort": {"criterion": [{"field": "state"}, {"field": "color"}]}}},
     "query.sort.criterion[1].field: Must be one of"),
    ({"query": {**jparam(), "or": {}}}, "query: a query holds at most one node, found 2"),
    ({"query": {"param": [jparam()["param"]] * 2}}, "query: a query holds at most one node, found 2"),
    ({"query": {"where": {}}}, "query.where: unknown key"),
    ({"query": {"and": {"nand": {}}}}, "query.and.nand: unknown key"),
    ({"query": []}, "query: must be an object"),
    ({"query": {}, "extra": 1}, 'a JSON query is an object with the single key "query"'),
    ({"param": {}}, 'the single key "query"'),
    ('["query"]', 'the single key "query"'),
    ('{"query": {', "line 1, column 12: not XML nor JSON"),
    (42, "a query document is XML or JSON, not int"),
])
def test_json_refusals_name_the_path_and_the_reason(document, message):
    assert message in refused(document)


def test_trees_nested_too_deeply_are_refused_in_both_forms():
    deep_xml = xml("<not>" * MAX_DEPTH + param_xml("state", "isNull") + "</not>" * MAX_DEPTH)
    assert "nest at most 64 levels" in refused(deep_xml)
    deep_json: dict = {"param": {"field": "state", "operation": "isNull"}}
    for _ in range(MAX_DEPTH):
        deep_json = {"not": deep_json}
    assert "nest at most 64 levels" in refused({"query": deep_json})
    assert "nests too deeply" in refused('{"query": ' + "[" * 100000 + "]" * 100000 + "}")
    nested: list = []
    for _ in range(5000):
        nested = [nested]
    assert "nests more than" in refused({"query": {"param": nested}})
    assert load({"query": deep_json["not"]}).tree is not None  # one level less is fine


def test_the_xsd_lists_exactly_the_engines_fields_and_operations():
    with resources.as_file(resources.files("schemas").joinpath("xsd", "query.xsd")) as path:
        schema = etree.parse(str(path))
    ns = {"xs": "http://www.w3.org/2001/XMLSchema"}
    listed = {t.get("name"): [e.get("value") for e in t.iterfind(".//xs:enumeration", ns)]
              for t in schema.iterfind("xs:simpleType", ns)}
    assert listed["Field"] == [f.value for f in QueryField]
    assert listed["Operation"] == [o.value for o in QueryOperation]


# ---- nothing but a Query or InvalidQuery, whatever comes in ---------------------------------------

def loads_or_refuses(document) -> None:
    try:
        assert isinstance(load(document), Query)
    except InvalidQuery as exc:
        assert str(exc)


WORDS = ["query", "and", "or", "not", "param", "field", "operation", "values", "value", "type", "sort",
         "criterion", "ascending", "offset", "limit", *[f.value for f in QueryField],
         *[o.value for o in QueryOperation], "true", "0", "-1", "1e3", "", "text/plain"]
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.sampled_from(WORDS)
json_like = st.recursive(scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(
    st.sampled_from(WORDS) | st.text(), kids, max_size=5), max_leaves=30)


@st.composite
def mutated_json(draw) -> dict:
    """A valid JSON query with one part anywhere in it replaced by anything JSON-like."""
    doc = dump_json(draw(queries))
    spots, stack = [], [doc]
    while stack:
        container = stack.pop()
        for key in range(len(container)) if isinstance(container, list) else list(container):
            spots.append((container, key))
            if isinstance(container[key], (dict, list)):
                stack.append(container[key])
    container, key = draw(st.sampled_from(spots))
    container[key] = draw(json_like)
    return doc


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(json_like | json_like.map(lambda body: {"query": body}) | mutated_json())
def test_any_json_like_object_gives_a_query_or_invalid_query(obj):
    loads_or_refuses(obj)
    try:
        text = json.dumps(obj)
    except ValueError:  # NaN is fine for json.dumps; a huge int is not
        return
    loads_or_refuses(text)


XML_PARTS = [b"<query ", NS.encode(), b">", b"</query>", b"<and>", b"</and>", b"<or>", b"</or>", b"<not>",
             b"</not>", b'<param field="state" operation="in">', b"</param>", b"<values>", b"</values>",
             b"<dat:value>", b"</dat:value>", b"<sort>", b"</sort>", b'<criterion field="owner"/>', b"x",
             b'offset="1" ', b"<!DOCTYPE q>", b"&amp;", b"&x;", b"<![CDATA[", b"]]>", b"\xff", b"\x00"]


@st.composite
def mangled(draw) -> bytes:
    doc = etree.tostring(dump_xml(draw(queries)))
    start = draw(st.integers(0, len(doc)))
    end = draw(st.integers(start, min(len(doc), start + 20)))
    return doc[:start] + draw(st.binary(max_size=8) | st.sampled_from(XML_PARTS)) + doc[end:]


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary() | st.text() | st.lists(st.sampled_from(XML_PARTS)).map(b"".join) | mangled())
def test_any_bytes_give_a_query_or_invalid_query(data):
    loads_or_refuses(data)
    if isinstance(data, bytes):
        loads_or_refuses(data.decode("utf-8", "surrogateescape"))


def test_load_xml_and_load_json_refuse_what_is_not_theirs():
    with pytest.raises(InvalidQuery):
        load_xml(etree.Comment("query"))
    with pytest.raises(InvalidQuery):
        load_json("query")


# ---- the history's languages (CONTRACT §12): one document, the fields of other records ----------------

@pytest.mark.parametrize("language, names", [
    (marshal.HISTORY, HISTORY_FIELDS.names + tuple(alias for alias, _ in HISTORY_FIELDS.aliases)),
    (marshal.OPERATION_LOG, OPERATION_FIELDS.names)], ids=["history", "log"])
def test_every_field_the_engine_reads_records_by_is_taken_in_both_forms(language, names):
    """The engine's names and the other names it reads a field by (`parent`), as the engine's tests ask."""
    tree = And(tuple(Param(name, "isNull") for name in names))
    sort = tuple(SortCriterion(name, i % 2 == 0) for i, name in enumerate(names))
    expected = Query(tree, sort, 0, None)
    assert load(dump_xml(expected), language) == expected
    assert load(etree.tostring(dump_xml(expected)), language) == expected
    assert load(json.dumps(dump_json(expected)), language) == expected


def test_a_history_query_reads_as_the_engine_tests_ask_it():
    document = xml("<and>" + param_xml("endState", "equals", "FAILED") + param_xml("durationMs", "greaterThan", "100")
                   + '</and><sort><criterion field="finishedAt" ascending="false"/></sort>', ' limit="5"')
    expected = Query(And((Param("endState", "equals", ("FAILED",)), Param("durationMs", "greaterThan", ("100",)))),
                     (SortCriterion("finishedAt", False),), 0, 5)
    assert load(document, marshal.HISTORY) == expected
    assert load({"query": {"and": {"param": [{"field": "endState", "operation": "equals",
                                              "values": {"value": "FAILED"}},
                                             {"field": "durationMs", "operation": "greaterThan",
                                              "values": {"value": 100}}]},
                           "sort": {"criterion": {"field": "finishedAt", "ascending": "false"}}, "limit": 5}},
                marshal.HISTORY) == expected


@pytest.mark.parametrize("language, field, allowed", [
    (marshal.PROCESSES, "endState", "executionId, externalId, state, owner"),  # findExecutions refuses as before
    (marshal.HISTORY, "health", "executionId, externalId, processUri, definitionVersion"),  # a live process's field
    (marshal.OPERATION_LOG, "endState", "at, user, operation, targetKind"),
], ids=["processes", "history", "log"])
def test_each_language_refuses_a_field_of_another_naming_its_own(language, field, allowed):
    for document, said in ((xml(param_xml(field, "isNull")), f"The value '{field}' is not one of {allowed}"),
                           (xml(f'<sort><criterion field="{field}"/></sort>'), f"is not one of {allowed}"),
                           ({"query": {"param": {"field": field, "operation": "isNull"}}},
                            f"query.param.field: Must be one of: {allowed}"),
                           ({"query": {"sort": {"criterion": {"field": field}}}},
                            f"query.sort.criterion.field: Must be one of: {allowed}")):
        with pytest.raises(InvalidQuery) as caught:
            load(document, language)
        assert said in str(caught.value), (document, str(caught.value))
