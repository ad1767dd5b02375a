"""The data store wire forms (CONTRACT §4): what a REST or SOAP client sends and gets back."""
from __future__ import annotations

import json
import time
import re

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from engine.model.datastore import BINARY, TEXT, XML, DataStore, Value, kind_of, make_value
from engine.errors import InvalidDataStore
from schemas.plain import Declined, json_document, json_in_pieces, xml_scan, xml_stream, xml_tree
from schemas.datastore import (_checked_json, _XmlReader, dump_json, dump_json_body, dump_json_document, dump_xml, dump_xml_children, dump_xml_document,
                               dump_xml_into, json_markup, load, load_json,
                               load_json_body, load_xml, load_xml_children)
from schemas.documents import read_xml
from schemas.namespaces import DATASTORE
from tests.support.strategies import ANY_CONTENT, NAMES, WORDS, contents, shaped_xml, stores

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NS = f'xmlns="{DATASTORE}"'
PROCESS = "http://www.infinica.com/process-engine"

# -- the spec's four examples (under `run`), as printed there --------------------------------------

SIMPLE_XML = f"""<dataStore {NS}>
    <entry name="foo" type="text/plain">
        <value>bar</value>
    </entry>
</dataStore>"""
STANDARD_XML = f"""<dataStore {NS}>
    <values>
        <value id="1" type="text/plain">
            <content>bar</content>
        </value>
    </values>
    <entries>
        <entry name="foo">
            <value>1</value>
        </entry>
    </entries>
</dataStore>"""
SIMPLE_JSON = '{"dataStore": {"entry": {"name": "a", "type": "text/plain", "value": ["text"]}}}'
STANDARD_JSON = """{"dataStore": {
    "values": {"value": [{"type": "text/plain", "id": "1", "content": {"value": ["bar"]}}]},
    "entries": {"entry": [{"name": "foo", "value": ["1"]}]}}}"""


def one_text(name: str, text: str) -> DataStore:
    return DataStore([(name, [Value("1", "text/plain", text)])])


@pytest.mark.parametrize("document, name, text", [
    (SIMPLE_XML, "foo", "bar"), (STANDARD_XML, "foo", "bar"),
    (SIMPLE_JSON, "a", "text"), (STANDARD_JSON, "foo", "bar"),
])
@pytest.mark.parametrize("as_bytes", [False, True])
def test_the_spec_examples_load(document, name, text, as_bytes):
    data = document.encode() if as_bytes else document
    assert load(data) == one_text(name, text)
    known = load_xml(etree.fromstring(data)) if document.startswith("<") else load_json(json.loads(data))
    assert known == one_text(name, text)


def test_dumps_have_the_spec_shapes_with_arrays_even_for_one_item():
    store = one_text("foo", "bar")
    assert dump_json(store, simple=False) == json.loads(STANDARD_JSON)
    assert dump_json(one_text("a", "text"), simple=True) == {
        "dataStore": {"entry": [{"name": "a", "type": "text/plain", "value": ["text"]}]}}
    for document, simple in ((STANDARD_XML, False), (SIMPLE_XML, True)):
        expected = etree.fromstring(document, etree.XMLParser(remove_blank_text=True))
        assert shape(dump_xml(store, simple)) == shape(expected)


def shape(element: etree._Element) -> tuple:
    """An element's names, attributes, text and children, whatever its prefixes."""
    return element.tag, dict(element.attrib), element.text, [shape(child) for child in element]


def test_dumped_xml_uses_the_dat_prefix():
    root = dump_xml(one_text("foo", "bar"), simple=False)
    assert root.tag == f"{{{DATASTORE}}}dataStore" and root.prefix == "dat"


@pytest.mark.parametrize("document", [
    f"<dataStore {NS}/>", f"<dataStore {NS}><values/><entries/></dataStore>", '{"dataStore": {}}',
    '{"dataStore": {"values": {}, "entries": {}}}', '{"dataStore": {"entry": []}}',
])
def test_an_empty_store_loads_in_every_form(document):
    assert load(document) == DataStore()


@pytest.mark.parametrize("simple", [False, True])
def test_an_empty_store_round_trips(simple):
    assert load(wire(dump_xml(DataStore(), simple))) == DataStore()
    assert load(json.dumps(dump_json(DataStore(), simple))) == DataStore()


def test_json_input_takes_lone_items_and_numbers_and_booleans_as_text():
    store = load({"dataStore": {"entry": {"name": 7, "type": "text/plain", "value": True}}})
    assert store == DataStore([("7", [Value("1", "text/plain", "true")])])
    value = {"id": 1, "type": "text/plain", "content": {"value": 2.5}}
    standard = load(
        {"dataStore": {"values": {"value": value}, "entries": {"entry": {"name": "n", "value": 1}}}})
    assert standard == DataStore([("n", [Value("1", "text/plain", "2.5")])])


def test_detection_skips_whitespace_and_a_byte_order_mark():
    assert load(b"\xef\xbb\xbf \n" + SIMPLE_XML.encode()) == one_text("foo", "bar")
    assert load("\ufeff\n" + SIMPLE_JSON) == one_text("a", "text")
    assert load(SIMPLE_XML.encode("utf-16")) == one_text("foo", "bar")
    assert load(SIMPLE_JSON.encode("utf-16")) == one_text("a", "text")


def test_text_is_kept_exactly_and_xml_content_ignores_whitespace_around_its_element():
    document = f"""<dataStore {NS}><values>
        <value id="t" type="text/plain"><content>  two\tspaces &amp; &#13;return\n</content></value>
        <value id="x" type="text/xml"><content>
            <a xmlns="urn:a"><b xmlns="">kept </b></a>
        </content></value>
        <value id="b" type="image/png"><content>
            AAEC
            /w==
        </content></value>
    </values><entries><entry name="e"><value> t </value><value>x</value><value>b</value></entry></entries>
    </dataStore>"""
    values = load(document).get("e")
    assert values[0].content == "  two\tspaces & \rreturn\n"
    assert values[1].content == '<a xmlns="urn:a"><b xmlns="">kept </b></a>'
    assert values[2].content == b"\x00\x01\x02\xff"


def test_an_entry_may_have_no_values_and_the_simple_form_then_omits_its_type():
    store = DataStore([("empty", [])])
    assert dump_json(store, simple=True) == {"dataStore": {"entry": [{"name": "empty", "value": []}]}}
    assert dump_xml(store, simple=True)[0].get("type") is None
    assert load(f'<dataStore {NS}><entry name="empty"/></dataStore>') == store


# -- property tests: arbitrary stores over the real wire -------------------------------------------

def wire(element: etree._Element) -> bytes:
    """Serialized as a door does: UTF-8 (ASCII cannot carry non-ASCII element names)."""
    return etree.tostring(element, encoding="UTF-8")


def through_xml(store: DataStore, simple: bool, text: bool) -> DataStore:
    element = dump_xml(store, simple)
    return load(etree.tostring(element, encoding="unicode") if text else
                etree.tostring(element, encoding="UTF-8", xml_declaration=True))


def through_json(store: DataStore, simple: bool, ascii_only: bool) -> DataStore:
    return load(json.dumps(dump_json(store, simple), ensure_ascii=ascii_only))


@FUZZ
@given(stores(), st.booleans())
def test_standard_forms_round_trip_losslessly(store, flag):
    from_xml = through_xml(store, simple=False, text=flag)
    from_json = through_json(store, simple=False, ascii_only=flag)
    assert from_xml == store and from_json == store
    for loaded in (from_xml, from_json):  # the same IDs: the same values shared by the same entries
        assert [v.id for v in loaded.values()] == [v.id for v in store.values()]
    assert through_json(from_xml, simple=False, ascii_only=False) == store


def test_a_shared_value_stays_shared_in_the_standard_forms():
    shared = Value("7", "text/plain", "both")
    store = DataStore([("a", [shared]), ("b", [shared, Value("8", "image/png", b"")])])
    document = dump_json(store, simple=False)
    assert len(document["dataStore"]["values"]["value"]) == 2
    for loaded in (through_xml(store, False, False), through_json(store, False, False)):
        assert loaded == store and loaded.get("a")[0] is loaded.get("b")[0]


def projection(store: DataStore) -> list:
    """What the simple form keeps: names, order, types and contents."""
    return [(name, [(v.type, v.content) for v in values]) for name, values in store.entries()]


def assert_no_ids_or_sharing(loaded: DataStore) -> None:
    ids = [v.id for _, values in loaded.entries() for v in values]
    assert len(ids) == len(set(ids))


@st.composite
def entry_values(draw, mixed: bool) -> list[tuple[str, object]]:
    first_kind = draw(st.sampled_from([TEXT, XML, BINARY]))
    first = draw(contents(first_kind))
    if not mixed:
        return [first] + [(first[0], c) for _, c in draw(st.lists(contents(first_kind), max_size=3))]
    # An XML type carries only XML, so a mixed entry led by one holds XML of other XML types.
    others = contents(XML) if first_kind == XML else ANY_CONTENT
    return [first] + draw(st.lists(others, min_size=1, max_size=3))


@st.composite
def simple_stores(draw, mixed: bool) -> DataStore:
    entries, ids = [], iter(range(1000))
    for name in draw(st.lists(NAMES, max_size=4, unique=True)):
        if entries and draw(st.booleans()):  # share the previous entry's values
            entries.append((name, entries[-1][1]))
            continue
        pairs = draw(st.one_of(st.just([]), entry_values(mixed)))
        entries.append((name, [make_value(str(next(ids)), t, c) for t, c in pairs]))
    return DataStore(entries)


def under_first_type(values: tuple[Value, ...]) -> list:
    """The simple form's one loss for a mixed entry: every value written under the first type."""
    first = values[0].type
    if kind_of(first) == TEXT:
        return [(first, v.text) for v in values]
    if kind_of(first) == BINARY:
        return [(first, v.content if isinstance(v.content, bytes) else v.content.encode()) for v in values]
    return [(first, v.content) for v in values]


@FUZZ
@given(simple_stores(mixed=False), st.booleans())
def test_simple_forms_keep_everything_but_ids_and_sharing(store, flag):
    for loaded in (through_xml(store, True, text=flag), through_json(store, True, ascii_only=flag)):
        assert projection(loaded) == projection(store)
        assert_no_ids_or_sharing(loaded)


@FUZZ
@given(simple_stores(mixed=True), st.booleans())
def test_simple_forms_keep_only_the_first_type_of_a_mixed_entry(store, flag):
    expected = [(name, under_first_type(values) if values else []) for name, values in store.entries()]
    for loaded in (through_xml(store, True, text=flag), through_json(store, True, ascii_only=flag)):
        assert projection(loaded) == expected
        assert_no_ids_or_sharing(loaded)


def test_a_mixed_entry_led_by_xml_falls_back_to_a_type_that_can_carry_all_its_values():
    xml = make_value("1", "text/xml", "<a/>")
    store = DataStore([("m", [xml, Value("2", "text/plain", "not xml"), Value("3", "image/png", b"\x01")]),
                       ("fits", [xml, Value("4", "text/plain", " <b>x</b> ")])])
    for loaded in (through_xml(store, True, False), through_json(store, True, False)):
        assert projection(loaded) == [("m", [("text/plain", "<a></a>"), ("text/plain", "not xml"),
                                             ("text/plain", "AQ==")]),
                                      ("fits", [("text/xml", "<a></a>"), ("text/xml", "<b>x</b>")])]


@FUZZ
@given(stores(), st.booleans())
def test_a_pipeline_holds_the_children_of_a_store(store, simple):
    snapshot = etree.Element(f"{{{PROCESS}}}snapshot", nsmap={None: PROCESS, "dat": DATASTORE})
    dump_xml_into(etree.SubElement(snapshot, f"{{{PROCESS}}}pipeline"), store, simple)
    from_xml = load_xml_children(etree.fromstring(wire(snapshot))[0])
    json_snapshot = json.loads(json.dumps({"pipeline": dump_json_body(store, simple)}))
    from_json = load_json_body(json_snapshot["pipeline"])
    if simple:
        assert projection(from_xml) == projection(from_json) == projection(through_xml(store, True, False))
    else:
        assert from_xml == from_json == store


def test_dumped_children_can_be_moved_into_a_pipeline():
    store = DataStore([("a", [make_value("1", "application/xml", '<p:x xmlns:p="urn:p"><y/></p:x>')]),
                       ("b", [Value("2", "text/plain", "t")])])
    pipeline = etree.Element(f"{{{PROCESS}}}pipeline", nsmap={None: PROCESS})
    pipeline.extend(dump_xml_children(store, simple=False))
    assert load_xml_children(etree.fromstring(wire(pipeline))) == store


def test_xml_content_in_no_namespace_keeps_it_when_the_store_moves_under_a_default_namespace():
    store = DataStore([("x", [make_value("1", "text/xml", "<b><c/></b>"),
                              make_value("2", "text/xml", '<p:a xmlns:p="urn:p"><b/></p:a>')])])
    for simple in (False, True):
        wrapper = etree.Element("{urn:w}response", nsmap={None: "urn:w"})
        wrapper.append(dump_xml(store, simple))
        loaded = load_xml(etree.fromstring(wire(wrapper))[0])
        assert [v.content for v in loaded.get("x")] == [v.content for v in store.get("x")]


def test_a_data_store_element_inside_a_soap_body_loads():
    envelope = etree.fromstring(
        f'<s:Envelope xmlns:s="urn:soap"><s:Body><run xmlns:dat="{DATASTORE}">'
        f'<dat:dataStore><dat:entry name="foo" type="text/plain"><dat:value>bar</dat:value></dat:entry>'
        '</dat:dataStore></run></s:Body></s:Envelope>')
    assert load(envelope[0][0][0]) == load_xml(envelope[0][0][0]) == one_text("foo", "bar")


# -- errors: the message names the part and why ----------------------------------------------------

def refused(data) -> str:
    with pytest.raises(InvalidDataStore) as info:
        load(data)
    return info.value.message


def std_json(values: list, entries: list) -> dict:
    return {"dataStore": {"values": {"value": values}, "entries": {"entry": entries}}}


def text_value(value_id="1", content_type="text/plain", content="bar") -> dict:
    return {"id": value_id, "type": content_type, "content": {"value": [content]}}


def std_xml(values: str, entries: str) -> str:
    return f"<dataStore {NS}>\n<values>\n{values}</values>\n<entries>\n{entries}</entries>\n</dataStore>"


def xml_value(content: str, content_type: str = "text/plain", value_id: str = "1") -> str:
    return f'<value id="{value_id}" type="{content_type}"><content>{content}</content></value>\n'


def simple_json(*entries: dict) -> dict:
    return {"dataStore": {"entry": list(entries)}}


XML_VALUE = xml_value("bar")
SIMPLE_XML_ENTRY = f'<dataStore {NS}>\n<entry name="a"><value>x</value></entry></dataStore>'


@pytest.mark.parametrize("data, expected", [
    # entries referring to unknown values, values defined twice, names used twice
    (std_xml(XML_VALUE, '<entry name="foo"><value>9</value></entry>\n'), ["line 6", "'9'"]),
    (std_json([text_value()], [{"name": "foo", "value": ["9"]}]),
     ["dataStore.entries.entry[0]", "unknown value ID '9'"]),
    (std_xml(XML_VALUE + XML_VALUE, ""), ["line 4", "Duplicate", "'1'"]),
    (std_json([text_value(), text_value(" 1 ")], []),
     ["dataStore.values.value[1]", "value ID '1' is defined twice"]),
    (std_xml("", '<entry name="foo"/>\n<entry name="foo"/>\n'), ["line 6", "Duplicate", "'foo'"]),
    (f'<dataStore {NS}>\n<entry name="a"/>\n<entry name="a"/></dataStore>', ["line 3", "'a'"]),
    (simple_json({"name": "a"}, {"name": "a"}), ["dataStore.entry[1]", "entry 'a' appears twice"]),
    (std_json([], [{"name": "a"}, {"name": "a"}]), ["dataStore.entries.entry[1]", "entry 'a' appears twice"]),
    # missing name, id, type
    (std_xml("", "<entry/>\n"), ["line 5, column 1", "'name' is required"]),
    (std_xml('<value type="text/plain"><content/></value>\n', ""), ["line 3, column 1", "'id' is required"]),
    (std_xml('<value id="1"><content/></value>\n', ""), ["line 3, column 1", "'type' is required"]),
    (SIMPLE_XML_ENTRY, ["line 2, column 1", "entry 'a' has values but no type"]),
    (std_json([], [{"value": []}]), ["dataStore.entries.entry[0].name", "Missing data"]),
    (std_json([{"type": "text/plain", "content": {"value": ["x"]}}], []), ["dataStore.values.value[0].id"]),
    (std_json([{"id": "1", "content": {"value": ["x"]}}], []), ["dataStore.values.value[0].type"]),
    (simple_json({"name": "a", "value": ["x"]}), ["dataStore.entry[0]", "no type"]),
    (simple_json({"name": "", "type": "text/plain"}), ["dataStore.entry[0].name", "empty"]),
    (std_json([text_value("a b")], []), ["dataStore.values.value[0].id", "without whitespace"]),
    # not a MIME type
    (std_xml(xml_value("", "plain"), ""), ["line 3, column 1", "type", "'plain'"]),
    (std_json([text_value(content_type="plain")], []),
     ["dataStore.values.value[0]", "'plain' is not a MIME type"]),
    # bad base64
    (std_xml('<value id="1" type="image/png">\n<content>not*base64</content></value>\n', ""),
     ["line 4, column 1", "value '1'", "base64"]),
    (simple_json({"name": "p", "type": "image/png", "value": ["AA", "!!"]}),
     ["dataStore.entry[0].value[0]", "base64"]),
    # XML content that is not one element
    (std_xml(xml_value("<a/><b/>", "text/xml"), ""),
     ["line 3, column 31", "must be one XML element", "found 2"]),
    (std_xml(xml_value("text", "text/xml"), ""), ["line 3", "one XML element"]),
    (std_xml(xml_value("x<a/>", "text/xml"), ""), ["line 3", "one XML element"]),
    (std_xml(xml_value("<a/>"), ""), ["line 3", "must be text"]),
    (std_json([text_value(content_type="text/xml", content="<a/><b/>")], []),
     ["dataStore.values.value[0]", "not XML"]),
    (simple_json({"name": "x", "type": "application/xml", "value": "plain"}),
     ["dataStore.entry[0].value[0]", "not XML"]),
    # text that XML cannot carry
    (std_json([text_value(content="a\x00b")], []), ["dataStore.values.value[0].content.value[0]", "U+0000"]),
    (simple_json({"name": "\ud800"}), ["dataStore.entry[0].name", "U+D800"]),
    (std_json([text_value(content="\ud800")], []), ["U+D800"]),
    (std_json([text_value(content_type="text/xml", content="<a>\ud800</a>")], []), ["U+D800"]),
    (std_xml(xml_value("&#0;"), ""), ["line 3", "invalid XML"]),
    # shapes that are neither form
    (f'<dataStore {NS}>\n<entry name="a"/><values/></dataStore>', ["line 2", "values"]),
    ({"dataStore": {"entry": [], "values": {}}}, ["dataStore", "both"]),
    (std_json([], [{"name": "a", "oops": 1}]), ["dataStore.entries.entry[0].oops", "Unknown"]),
    (std_json([text_value() | {"content": {"value": ["a", "b"]}}], []),
     ["dataStore.values.value[0].content.value", "one item"]),
    ({"dataStore": {"entries": "x"}}, ["dataStore.entries", "Invalid input type"]),
    ({"store": {}}, ["dataStore", "Missing"]),
    ('<dataStore xmlns="urn:wrong"/>', ["line 1, column 1", "dataStore"]),
    ("<dataStore", ["line 1", "invalid XML"]),
    ('{"dataStore": ', ["line 1, column 15", "invalid JSON"]),
    ("[]", ["expected a JSON object"]),
    (b"\xff\xfe\xfd", ["invalid JSON"]),
    (b" \n", ["empty"]),
    (42, ["not a number"]),
])
def test_invalid_input_is_refused_naming_the_part_and_why(data, expected):
    message = refused(data)
    for part in expected:
        assert part in message, message


def test_errors_in_a_prefixed_or_embedded_store_still_give_the_line():
    prefixed = f'<dat:dataStore xmlns:dat="{DATASTORE}">\n<dat:entry/></dat:dataStore>'
    for document in (prefixed, prefixed.encode("utf-16")):
        assert "line 2, column 1" in refused(document)
    envelope = etree.fromstring(f'<s:Envelope xmlns:s="urn:s">\n<s:Body>\n{prefixed}</s:Body></s:Envelope>')
    with pytest.raises(InvalidDataStore, match="line 4"):
        load(envelope[0][0])
    pipeline = etree.fromstring(f'<pipeline xmlns:dat="{DATASTORE}">\n<dat:entry/></pipeline>')
    with pytest.raises(InvalidDataStore, match="line 2"):
        load_xml_children(pipeline)
    with pytest.raises(InvalidDataStore, match=r"pipeline.entry\[0\].name"):
        load_json_body({"entry": [{}]})


# -- XML attacks ------------------------------------------------------------------------------------

BILLION_LAUGHS = f"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<dataStore {NS}><entry name="a" type="text/plain"><value>&lol3;</value></entry></dataStore>"""
EXTERNAL_ENTITY = f"""<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<dataStore {NS}><entry name="a" type="text/plain"><value>&xxe;</value></entry></dataStore>"""


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY, BILLION_LAUGHS.encode()])
def test_a_doctype_is_refused(document):
    assert "DOCTYPE" in refused(document)


def test_an_undeclared_entity_is_refused():
    document = f'<dataStore {NS}><entry name="a" type="text/plain"><value>&x;</value></entry></dataStore>'
    assert "invalid XML" in refused(document)


def test_a_doctype_inside_json_xml_content_is_refused():
    inner = '<!DOCTYPE a [<!ENTITY e "eeee">]><a>&e;</a>'
    assert "DOCTYPE" in refused(simple_json({"name": "a", "type": "text/xml", "value": [inner]}))


# -- fuzz: any input gives a DataStore or InvalidDataStore, never another exception ----------------

def load_or_refuse(data) -> None:
    try:
        store = load(data)
    except InvalidDataStore as exc:
        assert exc.message
        return
    assert isinstance(store, DataStore)
    assert load(wire(dump_xml(store, simple=False))) == store  # what was taken can be given back
    assert load(json.dumps(dump_json(store, simple=False))) == store


JSON_LIKE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)
SHAPED_JSON = st.recursive(
    st.sampled_from(["1", "2", "text/plain", "text/xml", "image/png", "<a/>", "AAAA", "!", "", "a b", "x/y"])
    | st.none() | st.booleans() | st.integers() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(WORDS) | st.text(max_size=3),
                                                                inner, max_size=4),
    max_leaves=30)


@FUZZ
@given(JSON_LIKE)
def test_fuzz_arbitrary_json_values(obj):
    load_or_refuse(obj)
    load_or_refuse({"dataStore": obj})


@FUZZ
@given(SHAPED_JSON)
def test_fuzz_json_shaped_like_a_data_store(obj):
    load_or_refuse({"dataStore": obj})
    load_or_refuse(json.dumps({"dataStore": obj}))


@FUZZ
@given(st.binary(max_size=200))
def test_fuzz_arbitrary_bytes(data):
    load_or_refuse(data)
    load_or_refuse(b"<" + data)


XML_TOKENS = st.sampled_from([
    f"<dataStore {NS}>", "</dataStore>", "<values>", "</values>", "<entries>", "</entries>",
    '<value id="1" type="text/plain">', '<value id="2" type="text/xml">', '<value id="1" type="image/png">',
    "</value>", "<value>1</value>", "<value>2</value>", "<content>", "</content>", '<entry name="a">',
    '<entry name="b" type="text/xml">', '<entry name="a" type="image/png">', "</entry>", "<entry/>",
    "<a/>", '<q:a xmlns:q="urn:q"/>', "x", "AAAA", " ", "\n", "&amp;", "&#0;", "<!-- c -->", "<?pi x?>",
    "<![CDATA[<a/>]]>", "<!DOCTYPE d>", '<?xml version="1.0"?>',
])


@FUZZ
@given(st.lists(XML_TOKENS, max_size=25).map("".join))
def test_fuzz_xml_token_soup(document):
    load_or_refuse(document)
    load_or_refuse(document.encode("utf-16"))


@FUZZ
@given(shaped_xml())
def test_fuzz_well_formed_xml_shaped_like_a_data_store(element):
    load_or_refuse(element)
    load_or_refuse(wire(element))


# -- the plain readings (issue 15): as fast as they can be, and never a different answer ------------
# A data store as clients and this service write one is read without the XSD or marshmallow. The full
# reading stays the reference: the plain one either declines (and the full one decides) or gives
# exactly what the full one gives; and what this service writes, it always takes.

def same_as_the_full_reading(plain, full, document) -> None:
    try:
        expected = full(document)
    except InvalidDataStore:
        with pytest.raises(Declined):
            plain(document)
        return
    try:
        found = plain(document)
    except Declined:
        return
    assert found == expected
    assert [v.id for v in found.values()] == [v.id for v in expected.values()]


def full_xml(element):
    return _XmlReader(None).checked_store(element)


def full_xml_bytes(document: bytes):
    """The full reading of a document as it came: parsed (or refused) by the hardened parser, then the XSD."""
    return _XmlReader(document).checked_store(read_xml(document, InvalidDataStore))


CHUNKS = st.sampled_from([1, 2, 7, 64, 1 << 20])  # the stream reads what each chunk completes


@FUZZ
@given(shaped_xml(), CHUNKS)
def test_the_plain_xml_reading_declines_or_agrees_on_data_store_shaped_xml(element, chunk):
    if element.tag == f"{{{DATASTORE}}}dataStore":
        same_as_the_full_reading(xml_tree, full_xml, element)
        same_as_the_full_reading(lambda e: xml_stream(wire(e), chunk), full_xml, element)
        same_as_the_full_reading(lambda e: xml_scan(wire(e), chunk), full_xml, element)


@FUZZ
@given(st.lists(XML_TOKENS, max_size=25).map("".join), CHUNKS)
def test_the_plain_xml_reading_declines_or_agrees_on_token_soup(document, chunk):
    try:
        element = etree.fromstring(document)
    except etree.XMLSyntaxError:
        return
    if element.tag == f"{{{DATASTORE}}}dataStore":
        same_as_the_full_reading(xml_tree, full_xml, element)
        same_as_the_full_reading(lambda e: xml_stream(document.encode(), chunk), full_xml, element)


@FUZZ
@given(SHAPED_JSON)
def test_the_plain_json_reading_declines_or_agrees_on_data_store_shaped_json(obj):
    same_as_the_full_reading(json_document, _checked_json, {"dataStore": obj})


XML_TEXT_TOKENS = st.sampled_from([
    "<a>", "</a>", "<a/>", "<b x='1'/>", "<q:a xmlns:q='urn:q'>", "</q:a>", "<q:a/>", '<a xmlns="urn:d">', "x", "é", " ",
    "\n", "\r\n", "&amp;", "&#32;", "&#0;", "&bogus;", "\x01", "\ufffe", "<!-- c -->", "<?pi x?>", "<![CDATA[ ]]>",
    "<![CDATA[</pe-scanned:v>]]>", '<?xml version="1.0"?>', "<!DOCTYPE a>", "<pe-scanned:v>", "</pe-scanned:v>",
    "</pe-scanned:all>", '<a xmlns:pe-scanned="urn:p"/>', "<" * 1, ">",
])


AROUND = st.lists(st.sampled_from([" ", "\n", "<!-- c -->", "<?pi x?>", "<![CDATA[ ]]>", "&#32;", "x", "&amp;",
                                   '<?xml version="1.0"?>', "<!DOCTYPE a>"]), max_size=2).map("".join)
ELEMENTS = st.lists(st.sampled_from([
    "<a/>", "<b x='1'>t<!-- c --></b>", '<a b="&lt;"><c/></a>', "<q:a xmlns:q='urn:q'/>", "<q:a/>", "<pe-scanned:v/>",
    '<a xmlns:pe-scanned="urn:p"/>', "<a>" * 300 + "</a>" * 300, "<a><![CDATA[x]]></a>"]), max_size=2).map("".join)
XML_TEXTS = st.tuples(AROUND, ELEMENTS, AROUND).map("".join) | st.lists(XML_TEXT_TOKENS, max_size=8).map("".join)


@FUZZ
@given(st.lists(XML_TEXTS, max_size=6))
@example(["<pe-scanned:v/>"])  # (what parses otherwise in the wrapper than alone, each way it can)
@example(["<a/><![CDATA[ ]]>"])
@example(["<a/><b/>"])
@example(["<!-- c --><a/>", "<a/>"])
@example(["<a>" * 300 + "</a>" * 300])
@example(["<a/>", "<q:a/>", "<b/>"])
def test_xml_values_parsed_together_are_the_values_each_makes_alone(texts):
    from schemas.plain import _plain_json_value, _xml_values

    markup = [(str(i), "text/xml", text) for i, text in enumerate(texts)]
    alone = {}
    for value_id, content_type, text in markup:
        try:
            alone[value_id] = _plain_json_value(value_id, content_type, text)
        except Declined:
            alone[value_id] = Declined
    together = {}
    for value_id, content_type, text in markup:  # one at a time, for what each declines
        try:
            together.update(_xml_values([(value_id, content_type, text)]))
        except Declined:
            together[value_id] = Declined
    assert together == alone
    if Declined not in alone.values():  # all at once
        assert dict(_xml_values(markup)) == alone


def test_xml_values_of_a_json_store_are_parsed_a_few_hundred_kb_at_a_time(monkeypatch):
    import schemas.plain as plain

    batches = []
    wrapped = plain._wrapped
    monkeypatch.setattr(plain, "_wrapped", lambda batch: batches.append(len(batch)) or wrapped(batch))
    texts = [f'<order xmlns="urn:shop" id="{i}"><line no="1">{"x" * 2000}</line></order>' for i in range(400)]
    texts[7] = f"<!-- a comment first -->{texts[7]}"  # (parsed with the others, then made alone)
    store = json_document({"dataStore": {"values": {"value": [
        {"id": str(i), "type": "application/xml", "content": {"value": [text]}} for i, text in enumerate(texts)]},
        "entries": {"entry": [{"name": "e", "value": [str(i) for i in range(400)]}]}}})
    assert [v.content for v in store.get("e")] == [make_value("x", "application/xml", t).content for t in texts]
    assert sum(batches) == 400 and len(batches) >= 3 and max(batches) < 200


@FUZZ
@given(stores(), st.booleans(), CHUNKS)
def test_what_the_service_writes_the_plain_readings_take(store, simple, chunk):
    expected = through_xml(store, simple, text=False)  # the simple form may change types and IDs
    assert xml_tree(etree.fromstring(wire(dump_xml(store, simple)))) == expected
    assert xml_stream(wire(dump_xml(store, simple)), chunk) == expected
    if not simple:  # as this service writes it, and indented as a client may (which changes XML content)
        assert xml_scan(b"".join(dump_xml_document(store, simple)), chunk) == expected
        indented = etree.tostring(dump_xml(store, simple), encoding="UTF-8", pretty_print=True)
        assert xml_scan(indented, chunk) == full_xml_bytes(indented)
    assert json_document(json.loads(json.dumps(dump_json(store, simple)))) == expected
    for piece in (1, 2, 512):
        assert json_in_pieces(b"".join(dump_json_document(store, simple)), piece) == expected
        assert json_in_pieces(json.dumps(dump_json(store, simple), indent=1).encode(), piece) == expected


# Text that looks like the cut between two values, or like the end of the values, inside strings and
# nested where no value belongs: the reading in pieces must not be misled by either.
# And characters XML cannot carry, which JSON writes as escapes or raw, in text and XML values.
TRICKY = st.sampled_from(['},{"type":"', '}]},"entries":{', '\\', '"', "t", "text/plain", "1", "2", "<a/>",
                          "application/xml", "\x01", "\x08", "\x0c", "\ufffe", "\uffff", "C:\\bin", "<a>\x0c</a>"])
PIECE_ITEMS = st.one_of(
    st.fixed_dictionaries({"type": TRICKY, "id": TRICKY, "content": st.fixed_dictionaries({"value": st.lists(TRICKY, max_size=2)})}),
    st.dictionaries(st.sampled_from(["type", "id", "content", "x"]), TRICKY | st.lists(st.dictionaries(
        st.sampled_from(["type", "value"]), TRICKY, max_size=2), max_size=2), max_size=4))
PIECE_ENTRIES = st.lists(st.fixed_dictionaries({"name": TRICKY, "value": st.lists(TRICKY, max_size=3)}), max_size=3)


@FUZZ
@given(st.lists(PIECE_ITEMS, max_size=5), PIECE_ENTRIES, st.sampled_from([1, 2, 512]), st.booleans(), st.booleans())
def test_the_reading_in_pieces_declines_or_agrees_on_documents_written_as_this_service_writes(items, entries, piece,
                                                                                               extra, compact):
    document = {"values": {"value": items}, "entries": {"entry": entries}}
    if extra:
        document["values"]["x"] = [{"type": "t"}]
    text = orjson.dumps({"dataStore": document}) if compact else json.dumps({"dataStore": document}).encode()
    same_as_the_full_reading(lambda data: json_in_pieces(data, piece), lambda data: load_json(json.loads(data)),
                             text)


@pytest.mark.parametrize("indent", [None, 2])
def test_a_store_as_clients_write_one_is_read_a_few_values_at_a_time(monkeypatch, indent):
    import schemas.plain as marshaller

    pieces = []
    read = marshaller._plain_values
    monkeypatch.setattr(marshaller, "_plain_values",
                        lambda items, *rest: pieces.append(len(items)) or read(items, *rest))
    store = DataStore([("a", [Value(str(i), "text/plain", f"v{i}") for i in range(1, 6)]), ("b", [])])
    document = json.dumps(dump_json(store, False), indent=indent).encode()
    assert json_in_pieces(document, 2) == store and pieces == [2, 2, 1]


@pytest.mark.parametrize("content_type, text", [("text/plain", "a{}b"), ("application/xml", "<a>a{}b</a>")])
@pytest.mark.parametrize("bad", ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\ufffe", "\uffff"])
def test_a_character_xml_cannot_carry_is_refused_however_json_writes_it(content_type, text, bad):
    # The reading in pieces tells from the document's bytes whether any string may hold one; each way
    # JSON can write one (an escape, \\b or \\f, \\u, or raw) must be seen in a text value. (In an XML
    # value lxml refuses it too, whatever the bytes told: those cases hold the refusal's wording.)
    store = {"dataStore": {"values": {"value": [text_value("1"), text_value("2", content_type, text.format(bad)),
                                                 text_value("3")]},
                           "entries": {"entry": [{"name": "a", "value": ["1", "2", "3"]}]}}}
    for document in (orjson.dumps(store), json.dumps(store).encode(), json.dumps(store, ensure_ascii=False).encode()):
        for piece in (1, 512):
            with pytest.raises(Declined):
                json_in_pieces(document, piece)
        assert f"U+{ord(bad):04X}" in refused(document)


@pytest.mark.parametrize("text", ["C:\\bin\\fu", "\\u0041", "caf\u00e9 \ufffd \U0001f600", "\t\n\r\x7f\x85"])
def test_text_xml_carries_is_read_in_pieces_however_json_writes_it(text):
    # Escaped backslashes before b, f or u, escapes of characters XML carries, and those raw
    store = DataStore([("a", [Value("1", "text/plain", text), Value("2", "application/xml", f"<a>{text}</a>")])])
    body = dump_json(store, False)
    for document in (orjson.dumps(body), json.dumps(body).encode()):
        assert json_in_pieces(document, 1) == load_json(json.loads(document)) == load_json(body)


@pytest.mark.parametrize("piece", [1, 2, 512])
def test_text_broken_between_two_values_is_refused_as_the_whole_reading_refuses_it(piece):
    good = b"".join(dump_json_document(DataStore([("a", [Value(str(i), "text/plain", "v") for i in range(1, 5)])]),
                                       False))
    for broken in (good.replace(b'},{"type"', b'},,{"type"', 1), good.replace(b'"v"]}},', b'"v"]},', 1),
                   good.replace(b'"entries"', b'"entries":', 1), good[:-1]):
        with pytest.raises(Declined):
            json_in_pieces(broken, piece)
        assert "JSON" in refused(broken)


@pytest.mark.parametrize("document", [
    STANDARD_XML.replace('<value id="1"', '<value id="1" other="x"'),  # an attribute the XSD does not know
    STANDARD_XML.replace("<values>", "<values><!-- c -->"),  # a comment where only elements belong
    STANDARD_XML.replace("<value>1</value>", "<value>1<!-- c --></value>"),  # a comment in a reference
    STANDARD_XML.replace("</values>", '<value id="1" type="text/plain"><content>b</content></value></values>'),
    STANDARD_XML.replace("<value>1</value>", "<value>2</value>"),
    STANDARD_XML.replace('type="text/plain"', 'type="text"'),
    SIMPLE_XML.replace('type="text/plain"', 'type="text/xml"'),
])
def test_the_plain_xml_reading_leaves_what_it_does_not_know_to_the_full_one(document):
    element = etree.fromstring(document)
    with pytest.raises(Declined):
        xml_tree(element)
    try:  # the answer is the full reading's, refusal and message included
        expected = full_xml(element)
    except InvalidDataStore as exc:
        with pytest.raises(InvalidDataStore, match=re.escape(exc.message.split(": ", 1)[1])):
            load(wire(element))
    else:
        assert load(wire(element)) == expected


def test_the_streamed_reading_agrees_with_the_plain_one_on_the_same_document():
    # The stream frees what it has read; the tree reading keeps it: both see one document.
    for chunk in (1, 5, 64, 1 << 20):
        for document in (STANDARD_XML, SIMPLE_XML, f"<dataStore {NS}/>", STANDARD_XML.replace("<entries>", "<entries> ")):
            assert xml_stream(document.encode(), chunk) == xml_tree(etree.fromstring(document)) == load(document)
        for unusual in (STANDARD_XML.replace("</values>", "</values>x"), STANDARD_XML.replace("</value>\n", "</value>y"),
                        f'<!DOCTYPE d><dataStore {NS}/>', STANDARD_XML.replace("<entries>", "<entries><!-- c -->"),
                        SIMPLE_XML.replace("</dataStore>", "<values/></dataStore>"),
                        f'<x {NS}><dataStore/></x>', STANDARD_XML + "<!-- after -->x"):
            with pytest.raises(Declined):
                xml_stream(unusual.encode(), chunk)


# The reading by pattern takes bytes as they came, so it meets what a parser would refuse or change:
# references, CDATA, comments, carriage returns, attributes written otherwise, `</content>` where it
# ends nothing, `<value>` inside XML content (where a cut between two pieces may land).
SCAN_TOKENS = st.sampled_from([
    f"<dataStore {NS}>", f'<d:dataStore xmlns:d="{DATASTORE}">', "</dataStore>", "<values>", "</values>",
    "<values/>", "<entries>", "</entries>", '<value id="1" type="text/plain">', "<value id='2' type='text/xml'>",
    '<value type="text/plain" id="3">', '<value id=" 4 " type="application/octet-stream">', '<value id="a b" type="text/plain">',
    '<value id="5" type="text/plain\t">', '<value id="6" type="text/plain" xmlns:x="urn:x">', "</value>", "<value>1</value>",
    "<value>2</value>", "<value> 4 </value>", "<content>", "<content >", '<content xmlns="">', "<content/>", "</content>",
    '<entry name="a">', "<entry name='b' >", '<entry\nname="c">', '<entry name="a&amp;b">', "<entry/>", "</entry>",
    "<a/>", "<a>", "</a>", "<value>", '<q:a xmlns:q="urn:q"/>', "<q:a/>", '<pe-scanned:a xmlns:pe-scanned="urn:p"/>',
    "x", "AAAA", "é", " ", "\n", "\r\n", "\r", "\t", "&amp;", "&lt;", "&#13;", "&#0;", "&bogus;", "]]>", "\x01",
    "<!-- </content> -->", "<?pi x?>", "<![CDATA[</content></value>]]>", "<!DOCTYPE d>", '<?xml version="1.0"?>',
    "\ufeff", "<d:values>", "</d:values>", '<d:value id="1" type="text/plain">', "</d:value>", "<d:content>",
    "</d:content>", "<d:entries>", "</d:entries>", '<d:entry name="a">', "</d:entry>", "</d:dataStore>",
])


ASIDE = st.sampled_from([0, 1 << 30])  # the check by lxml on a thread of its own, or in the caller's


@FUZZ
@given(st.lists(SCAN_TOKENS, max_size=30).map("".join), st.sampled_from([1, 7, 64, 1 << 20]), ASIDE)
def test_the_reading_by_pattern_declines_or_agrees_on_token_soup(document, at_once, aside):
    same_as_the_full_reading(lambda d: xml_scan(d, at_once, aside), full_xml_bytes, document.encode("utf-8"))


@st.composite
def scan_documents(draw) -> bytes:
    """Standard-form documents that are mostly right, with what a parser reads otherwise than it looks
    in the places the patterns look at."""
    pick = lambda *options: draw(st.sampled_from(options))  # noqa: E731
    tags = lambda: pick("", "d:")  # noqa: E731 (the prefix, or none: must match the root's to be read)
    prefix = pick("", "d:")
    ws = lambda: pick("", "", " ", "\n  ", "\r\n", "\t")  # noqa: E731
    root = f'<{prefix}dataStore xmlns{":d" if prefix else ""}="{DATASTORE}">'
    text = st.lists(st.sampled_from(["x", "é", " ", "&amp;", "&lt;", "&#13;", "\r\n", "\r", "]]>", "\x01", "&bogus;",
                                     "<a/>", "<value>7</value>", '<q:a xmlns:q="urn:q"/>', "<q:a/>", "<!-- </content> -->",
                                     "<?pi </content>?>", "<![CDATA[</content></value>]]>", "<a>", "</a>", "<pe-scanned:a/>",
                                     f"</{prefix}content><{prefix}content>"]), max_size=4).map("".join)
    ids = []
    out = [pick("", "\ufeff", '<?xml version="1.0"?>', "<?xml version='1.0' encoding='UTF-8'?>\n", "<!-- c -->",
                '<?xml version="1.1"?>'), root, ws(), f"<{prefix}values>"]
    for _ in range(draw(st.integers(0, 4))):
        value_id = pick("1", "2", " 3 ", "a b", "&#49;", "4", "", "1\t")
        ids.append(value_id.strip() or "x")
        content_type = pick("text/plain", "text/xml", "application/octet-stream", "text/plain\t", "text/plain; a=&quot;b&quot;",
                            "text")
        attributes = pick(f' id="{value_id}" type="{content_type}"', f" type='{content_type}' id='{value_id}'",
                          f' id="{value_id}"', f' id="{value_id}" type="{content_type}" xmlns:x="urn:x"')
        t = tags() if draw(st.integers(0, 9)) == 0 else prefix
        content = pick(f"<{t}content>{draw(text)}</{t}content>", f"<{t}content/>",
                       f'<{t}content xmlns="">{draw(text)}</{t}content>', f"<{t}content >{draw(text)}</{t}content >",
                       f"{draw(text)}")
        out += [ws(), f"<{t}value{attributes}>", ws(), content, ws(), f"</{t}value>"]
    out += [ws(), f"</{prefix}values>", ws(), f"<{prefix}entries>"]
    for _ in range(draw(st.integers(0, 3))):
        name = pick("e", "f", "", "a&amp;b", "e")
        refs = "".join(f"{ws()}<{prefix}value>{pick(*ids, ' 1 ', '9', '&#49;')}</{prefix}value>"
                       for _ in range(draw(st.integers(0, 3)))) if ids else ""
        out += [ws(), pick(f'<{prefix}entry name="{name}"/>', f'<{prefix}entry name="{name}">{refs}{ws()}</{prefix}entry>',
                           f"<{prefix}entry name='{name}' >{refs}</{prefix}entry>")]
    out += [ws(), f"</{prefix}entries>", ws(), f"</{prefix}dataStore>", ws()]
    if draw(st.integers(0, 4)) == 0:  # something where only tags and whitespace belong
        at = draw(st.integers(0, len(out)))
        out.insert(at, pick("x", "<!-- c -->", "<?pi?>", "&amp;", "<a/>"))
    return "".join(out).encode("utf-8")


@FUZZ
@given(scan_documents(), st.sampled_from([1, 7, 64, 1 << 20]), ASIDE)
def test_the_reading_by_pattern_declines_or_agrees_on_documents_shaped_as_it_reads_them(document, at_once, aside):
    same_as_the_full_reading(lambda d: xml_scan(d, at_once, aside), full_xml_bytes, document)


def scanned_or_declined(document: str, at_once: int = 1 << 20, aside: int = 1 << 20):
    try:
        return xml_scan(document.encode(), at_once, aside)
    except Declined:
        return None


VALUES = ('<value id="1" type="text/plain"><content>a</content></value>'
          '<value id="2" type="text/xml"><content><order><value>7</value></order></content></value>'
          '<value id="3" type="text/plain"><content>b</content></value>')


@pytest.mark.parametrize("document, expected", [
    # plain text is read as it stands; the rest as lxml reads it
    (f"<dataStore {NS}><values>{VALUES}</values><entries><entry name=\"e\"><value>3</value><value>2</value>"
     "<value>1</value></entry></entries></dataStore>",
     DataStore([("e", [Value("3", "text/plain", "b"), Value("2", "text/xml", f'<order xmlns="{DATASTORE}"><value>7</value></order>'),
                       Value("1", "text/plain", "a")])])),
    (f'<?xml version="1.0" encoding="utf-8"?>\n<d:dataStore xmlns:d="{DATASTORE}">\n <d:values>\n'
     "  <d:value type='text/plain'  id='1'>\n   <d:content>x &amp; y\r\n<![CDATA[<z>]]></d:content>\n  </d:value>\n"
     '  <d:value id="2" type="text/xml"><d:content xmlns=""> <a/> </d:content></d:value>\n'
     '  <d:value id="3" type="text/plain"><d:content/></d:value>\n </d:values>\n <d:entries>\n'
     '  <d:entry name="e"><d:value> 1 </d:value><d:value>2</d:value><d:value>3</d:value></d:entry>\n'
     "  <d:entry name='f'/>\n </d:entries>\n</d:dataStore>\n",
     DataStore([("e", [Value("1", "text/plain", "x & y\n<z>"), Value("2", "text/xml", "<a></a>"),
                       Value("3", "text/plain", "")]), ("f", [])])),
])
def test_the_reading_by_pattern_reads_what_a_parser_reads(document, expected):
    for at_once in (1, 30, 1 << 20):  # cut between values, and inside the XML content
        assert xml_scan(document.encode(), at_once) == expected == load(document.encode())


def _one_value(content_type: str, content: str) -> bytes:
    return (f'<dataStore {NS}><values><value id="1" type="{content_type}"><content>{content}</content></value>'
            '</values><entries><entry name="a"><value>1</value></entry></entries></dataStore>').encode()


@pytest.mark.parametrize("document, taken", [
    (_one_value("text/xml", "<y>" * 252 + "</y>" * 252), True),  # (the deepest y at 256)
    (_one_value("text/xml", "<y>" * 253 + "</y>" * 253), False),  # (at 257: lxml's check without a tree takes it)
    (_one_value("text/plain", "x" * 9_999_999), True),
    (_one_value("text/plain", "x" * 10_000_001), False),  # (that check takes it too)
], ids=["deep", "too deep", "long", "too long"])
def test_the_reading_by_pattern_takes_no_more_than_a_parse_that_builds_a_tree(document, taken):
    if taken:
        assert xml_scan(document) == full_xml_bytes(document)
    else:
        with pytest.raises(InvalidDataStore):
            full_xml_bytes(document)
        with pytest.raises(Declined):
            xml_scan(document)


def test_a_piece_that_only_looks_like_items_is_declined_in_time_linear_in_it():
    """A value the patterns do not take whose text holds thousands of look-alike items: they once
    searched it for an item at every `<`, each search running on to its end (82 s for 256 KB)."""
    inner = '<value id="1" type="t"><content>' * 8000 + "</content>x"
    document = (f'<dataStore {NS}><values><value id="0" type="text/plain"><content xmlns:x="urn:x">'
                f'<![CDATA[{inner}]]></content></value></values><entries><entry name="a"><value>0</value>'
                '</entry></entries></dataStore>').encode()
    started = time.perf_counter()
    with pytest.raises(Declined):
        xml_scan(document)
    assert time.perf_counter() - started < 10  # (0.01 s; 82 s before: no busy machine comes near it)


@pytest.mark.parametrize("document", [
    STANDARD_XML.replace("<content>bar</content>", "<content>bar<!-- </content></value> --></content>"),
    STANDARD_XML.replace("bar", "bar]]>"),
    STANDARD_XML.replace("bar", "b\x01r"),
    STANDARD_XML.replace("bar", "&bogus;"),
    STANDARD_XML.replace('id="1"', 'id="1" xmlns:x="urn:x"'),
    f"<!-- first --><dataStore {NS}/>",
    STANDARD_XML.replace("<entries>", "<entries><!-- c -->"),
    SIMPLE_XML,
])
def test_the_reading_by_pattern_leaves_the_unusual_to_the_others(document):
    assert scanned_or_declined(document) is None
    assert scanned_or_declined(document, aside=0) is None  # lxml's check on a thread of its own
    try:
        expected = full_xml_bytes(document.encode())
    except InvalidDataStore:
        return
    assert load(document.encode()) == expected


def test_the_reading_by_pattern_reads_a_large_store_a_piece_at_a_time(monkeypatch):
    import schemas.plain as plain

    pieces = []
    read = plain._scanned_values
    monkeypatch.setattr(plain, "_scanned_values",
                        lambda parts, as_is, **kw: pieces.append(len(parts) // 8 + 1) or read(parts, as_is, **kw))
    store = DataStore([("a", [Value(str(i), "text/plain", "v" * 90) for i in range(1, 101)])])
    document = b"".join(dump_xml_document(store, False))
    assert xml_scan(document, 1000) == store
    assert len(pieces) > 5 and sum(pieces) == 100 and max(pieces) < 15


def spooled(document: bytes):
    """load_spooled of `document`, written to a file as a large body is."""
    import tempfile

    from schemas.datastore import load_spooled

    with tempfile.NamedTemporaryFile() as file:
        file.write(document)
        file.flush()
        return load_spooled(file, file.name)


def big(store: DataStore, form: str) -> bytes:
    return b"".join(dump_xml_document(store, False) if form == "xml" else dump_json_document(store, False))


BIG = DataStore([(f"e{n}", [Value(f"{n}.1", "text/plain", f"value {n} " + "x" * 300 + " <&> é"),
                            Value(f"{n}.2", "text/xml", f'<order xmlns="urn:shop" n="{n}"><line>{"y" * 200}</line></order>')])
                 for n in range(2_500)])


@pytest.mark.parametrize("form", ["xml", "json"])
def test_a_spooled_document_is_read_as_the_same_bytes_are(form):
    document = big(BIG, form)
    assert len(document) > 1 << 20
    assert spooled(document) == load(document) == BIG
    # what the plain readings decline, read whole: the simple form, indented JSON, another encoding
    simple = b"".join(dump_xml_document(BIG, True) if form == "xml" else dump_json_document(BIG, True))
    assert spooled(simple) == load(simple)
    indented = (etree.tostring(etree.fromstring(document), encoding="UTF-16") if form == "xml"
                else json.dumps(json.loads(document), indent=2).encode())
    assert spooled(indented) == load(indented) == BIG


@pytest.mark.parametrize("document", [
    b"", b"   \n ", b"<dataStore", b"{", b'{"dataStore": 7}',
    STANDARD_XML.replace("bar", "&bogus;").encode(),
    big(BIG, "xml").replace(b"</dat:values>", b"<dat:oops/></dat:values>"),
    big(BIG, "json")[:-40],
    big(BIG, "json").replace(b"value 7 ", b"value 7 \\u0001", 1),  # characters XML cannot carry, escaped
    big(BIG, "json").replace(b"value 7 ", "value 7 \ufffe".encode(), 1),  # and raw
])
def test_a_spooled_document_is_refused_as_the_same_bytes_are(document):
    with pytest.raises(InvalidDataStore) as from_bytes:
        load(document)
    with pytest.raises(InvalidDataStore) as from_file:
        spooled(document)
    assert from_file.value.message == from_bytes.value.message


SPOOLED_PEAK = """
import sys
from schemas.datastore import load, load_spooled
def peak():
    return next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM"))
with open(sys.argv[1], "rb") as file:
    before = peak()
    read = load_spooled(file, file.name) if sys.argv[2] == "spooled" else load(file.read())
    print(peak() - before)
"""


@pytest.mark.parametrize("form", ["xml", "json"])
def test_a_spooled_document_is_never_in_memory_whole_beside_the_store(form, tmp_path):
    import subprocess
    import sys

    from tests.support.common import ROOT

    store = DataStore([(f"e{n}", [Value(str(n), "text/plain", f"value {n} " + "x" * 2000)]) for n in range(6_000)])
    (tmp_path / "store").write_bytes(big(store, form))
    size = 6_000 * 2_000  # about 12 MB of text; the store holds as much
    grown = {}
    for how in ("bytes", "spooled"):
        done = subprocess.run([sys.executable, "-c", SPOOLED_PEAK, str(tmp_path / "store"), how], cwd=ROOT,
                              capture_output=True, text=True, timeout=120, check=True)
        grown[how] = int(done.stdout)
    assert grown["bytes"] > 1.8 * size  # the document and the store
    assert grown["spooled"] < grown["bytes"] - 0.5 * size, grown  # (the document: 1.0 * size)


def test_a_large_document_is_checked_by_lxml_on_a_thread_of_its_own_while_the_patterns_read_it():
    import threading

    store = DataStore([("a", [Value(str(i), "text/plain", "v" * 200) for i in range(1, 6001)])])
    document = b"".join(dump_xml_document(store, False))
    assert len(document) > 1 << 20  # past the default `aside`
    assert xml_scan(document) == store
    for broken in (b"v\x01v", b"&bogus;", b"\xff"):  # what only a parser refuses, near the end
        at = document.rindex(b"v" * 200)
        with pytest.raises(Declined):
            xml_scan(document[:at] + broken + document[at + len(broken):])
        with pytest.raises(InvalidDataStore):
            load(document[:at] + broken + document[at + len(broken):])
    assert not [t for t in threading.enumerate() if t.name == "pe-xml-check"]  # each joined in its call


@FUZZ
@given(stores(), st.booleans())
def test_written_as_text_a_store_is_the_document_the_tree_serializes_to(store, simple):
    from engine.support import jsontext

    assert b"".join(json_markup(store, simple)) == jsontext.dumps_utf8(dump_json_body(store, simple))
    assert json.loads(b"".join(dump_json_document(store, simple))) == dump_json(store, simple)
    document = b"".join(dump_xml_document(store, simple))
    assert document.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n")
    assert load(document) == load(wire(dump_xml(store, simple)))


def test_large_documents_and_large_parsed_stores_are_read_within_the_context_given(monkeypatch):
    import contextlib

    import schemas.datastore as module

    entered: list[int] = []

    @contextlib.contextmanager
    def recording():
        entered.append(1)
        yield

    monkeypatch.setattr(module, "_reading_large", module._reading_large)  # (restored after the test)
    module.read_large_documents_within(recording)
    many = DataStore([("a", [Value(str(i), "text/plain", "v") for i in range(1, 2100)])])
    few = DataStore([("a", [Value(str(i), "text/plain", "v") for i in range(1, 100)])])
    assert load(dump_xml(few, False)) == few and load(b"".join(dump_xml_document(few, False))) == few
    assert entered == []
    assert load(dump_xml(many, False)) == many  # a SOAP body's: its values counted
    big = b"".join(dump_xml_document(DataStore([("b", [Value("1", "text/plain", "x" * (1 << 20))])]), False))
    assert load(big).get("b")[0].content == "x" * (1 << 20)  # a body of 1 MB or more
    assert entered == [1, 1]


def test_a_store_whose_value_uses_a_relative_namespace_declared_on_the_store_is_read():
    """A ValueError once (a Server fault, a REST 500): engine.support.safexml.canonical."""
    document = (b'<dataStore xmlns="http://www.infinica.com/datastore" xmlns:r="rel"><entry name="x" type="text/xml">'
                b'<value><r:order/></value></entry></dataStore>')
    (value,) = load(document).get("x")
    assert value.content == '<r:order xmlns:r="rel"></r:order>'
