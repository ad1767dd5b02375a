"""Hypothesis strategies for queries and data stores, shared by the schema, engine and SOAP tests."""
from __future__ import annotations

from hypothesis import strategies as st
from lxml import etree

from engine.model.datastore import BINARY, TEXT, XML, DataStore, make_value
from engine.model.query import And, Not, Or, Param, Query, QueryField, QueryOperation, SortCriterion
from schemas import query as marshal
from schemas.namespaces import DATASTORE
from tests.support.namespaces import PE as PROCESS

# -- queries ---------------------------------------------------------------------------------------

texts = st.text(st.characters(exclude_categories=("Cs", "Cc", "Cn")) | st.sampled_from("\t\n\r"), max_size=12)


@st.composite
def params(draw) -> Param:
    operation = draw(st.sampled_from([o.value for o in QueryOperation]))
    count = {"isNull": st.just(0), "in": st.integers(1, 3)}.get(operation, st.just(1))
    n = draw(count)
    values = tuple(draw(st.lists(texts, min_size=n, max_size=n)))
    value_type = draw(st.sampled_from(["text/plain", "text/x-timestamp", "application/json"]))
    return Param(draw(st.sampled_from([f.value for f in QueryField])), operation, values, value_type)


nodes = st.recursive(params(), lambda kids: st.one_of(
    st.lists(kids, max_size=4).map(lambda n: And(tuple(n))),
    st.lists(kids, max_size=4).map(lambda n: Or(tuple(n))),
    kids.map(Not)), max_leaves=12)
criteria = st.builds(SortCriterion, st.sampled_from([f.value for f in QueryField]), st.booleans())
queries = st.builds(Query, st.none() | nodes, st.lists(criteria, max_size=3).map(tuple),
                    st.integers(0, marshal.MAX_COUNT), st.none() | st.integers(0, marshal.MAX_COUNT))


# -- data stores: arbitrary stores over the real wire ----------------------------------------------

NOT_SPACE = st.one_of(  # characters XML 1.0 can carry, XML's whitespace aside
    st.sampled_from(list("&<>\"']") + ["\u00e9", "\u2028", "\ufeff", "\U0001F600", "\U0010FFFD"]),
    st.characters(min_codepoint=0x21, max_codepoint=0xD7FF),
    st.characters(min_codepoint=0xE000, max_codepoint=0xFFFD),
    st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF),
)
XML_CHARS = NOT_SPACE | st.sampled_from(list(" \t\n\r"))
TEXTS = st.lists(XML_CHARS | st.just("]]>"), max_size=12).map("".join)
NAMES = st.lists(XML_CHARS | st.just("]]>"), min_size=1, max_size=8).map("".join)
IDS = st.text(NOT_SPACE, min_size=1, max_size=4)
TYPES = {TEXT: ["text/plain", "application/json", "text/csv; charset=utf-8"],
         XML: ["text/xml", "application/xml", "application/atom+xml"],
         BINARY: ["application/octet-stream", "image/png"]}
URIS = ["urn:a", "http://example.com/b", DATASTORE, PROCESS]
NAMESPACES = st.sampled_from([None] + URIS)
LOCAL = st.text("abcXYZ_\u00e9", min_size=1, max_size=4)  # no `xml…` names: they are reserved
HANDWRITTEN_XML = [
    '<a xmlns="urn:a"><b xmlns="">t</b><c/></a>',  # a default namespace undeclared inside
    "<b><c>no namespace at all</c></b>",
    '<dat:value xmlns:dat="urn:not-the-datastore">x</dat:value>',  # our prefix, bound elsewhere
    f'<dataStore xmlns="{DATASTORE}"><entry name="n"/></dataStore>',  # a data store inside a data store
    f'<x:a xmlns:x="{DATASTORE}"><b/><?pi data?></x:a>',
    f'<process xmlns="{PROCESS}"><x xmlns=""/></process>',
    '<p:a xmlns:p="urn:p" xmlns:q="urn:q" q:k="&#9;v&#10;" k="&lt;&amp;&quot;"> <p:b/> t </p:a>',
]


def _qualified(namespace: str | None, local: str) -> str:
    return f"{{{namespace}}}{local}" if namespace else local


@st.composite
def xml_elements(draw, depth: int = 0) -> etree._Element:
    """Small element trees: namespaced tags and attributes, text, tails; `dat` bound to any namespace."""
    nsmap = dict(zip(draw(st.permutations(["dat", "p", "q", "r"])), URIS)) if depth == 0 else None
    element = etree.Element(_qualified(draw(NAMESPACES), draw(LOCAL)), nsmap=nsmap)
    for attr_ns, local in draw(st.lists(st.tuples(NAMESPACES, LOCAL), max_size=2, unique=True)):
        element.set(_qualified(attr_ns, local), draw(TEXTS))
    element.text = draw(TEXTS)
    if depth < 2:
        for child in draw(st.lists(xml_elements(depth + 1), max_size=2)):
            child.tail = draw(TEXTS)
            element.append(child)
    return element


def contents(kind: str) -> st.SearchStrategy:
    """(type, content) pairs of one kind, content as make_value takes it."""
    if kind == TEXT:
        return st.tuples(st.sampled_from(TYPES[TEXT]), TEXTS)
    if kind == XML:
        return st.tuples(st.sampled_from(TYPES[XML]), xml_elements() | st.sampled_from(HANDWRITTEN_XML))
    return st.tuples(st.sampled_from(TYPES[BINARY]), st.binary(max_size=40))


ANY_CONTENT = st.sampled_from([TEXT, XML, BINARY]).flatmap(contents)


@st.composite
def stores(draw) -> DataStore:
    """Stores whose entries draw (with repeats) from a pool of values: shared values are common."""
    pool = draw(st.lists(st.tuples(IDS, ANY_CONTENT), max_size=6, unique_by=lambda item: item[0]))
    values = [make_value(value_id, *content) for value_id, content in pool]
    picks = st.lists(st.sampled_from(values), max_size=4) if values else st.just([])
    return DataStore((name, draw(picks)) for name in draw(st.lists(NAMES, max_size=5, unique=True)))


WORDS = ["dataStore", "values", "value", "entries", "entry", "content", "name", "type", "id"]


@st.composite
def shaped_xml(draw, depth: int = 0) -> etree._Element:
    """Elements of the data store namespace named as its parts are, nested at random: stores and near misses."""
    element = etree.Element(f"{{{DATASTORE}}}{draw(st.sampled_from(WORDS))}")
    for attr in draw(st.lists(st.sampled_from(["name", "type", "id", "other"]), max_size=2, unique=True)):
        element.set(attr, draw(st.sampled_from(["1", "a", "text/plain", "text/xml", "image/png", "", " 1 "])))
    element.text = draw(st.sampled_from([None, "1", "AAAA", " ", "x"]))
    if depth < 3:
        element.extend(draw(st.lists(shaped_xml(depth + 1), max_size=3)))
    return element
