"""XSD declarations written from shapes (schemas/shape_xsd.py): what `Shape.xml` writes is valid
against what the declaration says, and a hand-written child is never guessed at."""
from __future__ import annotations

import pytest
from lxml import etree

from schemas.namespaces import PROCESS
from schemas.shape_xsd import XS, global_element
from schemas.shapes import BOOL, INT, TIME, Attr, Child, Custom, Shape, wrapper

ITEM = Shape("item", attrs=(Attr("id", lambda i: i["id"], required=True), Attr("n", lambda i: i.get("n"), INT)),
             text=lambda i: i.get("text"))
HOLDER = Shape("holder", attrs=(Attr("ok", lambda h: h["ok"], BOOL, required=True),
                                Attr("at", lambda h: h.get("at"), TIME)),
               children=(Child("note", None, lambda h: h.get("note")),
                         Child("items", wrapper("items", ITEM), lambda h: h["items"], required=True),
                         Child("tag", None, lambda h: h.get("tags"), many=True)))


def compiled(shape: Shape) -> etree.XMLSchema:
    schema = etree.Element(f"{{{XS}}}schema", nsmap={"xs": XS, None: PROCESS}, targetNamespace=PROCESS,
                           elementFormDefault="qualified")
    global_element(schema, shape)
    return etree.XMLSchema(schema)


@pytest.mark.parametrize("holder", [
    {"ok": True, "items": []},
    {"ok": False, "note": "n", "items": [{"id": "a", "n": 3, "text": "t"}, {"id": "b"}], "tags": ["x", "y"]},
])
def test_what_a_shape_writes_is_valid_against_its_declaration(holder):
    compiled(HOLDER).assertValid(HOLDER.xml(holder))


def test_the_declaration_refuses_what_the_shape_never_writes():
    element = HOLDER.xml({"ok": True, "items": [{"id": "a"}]})
    del element[0][0].attrib["id"]
    assert not compiled(HOLDER).validate(element)


def test_a_hand_written_child_is_refused():
    custom = Shape("odd", children=(Custom("raw", lambda o: o, lambda e, v, o: None, lambda v, o: v),))
    with pytest.raises(ValueError, match="raw"):
        compiled(custom)
