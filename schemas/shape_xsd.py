"""XSD declarations written from the shapes of `schemas/results.py`, so that the published contract
(the WSDL's types) describes each result exactly as `Shape.xml` writes it — one declaration, no second
hand-kept copy to drift. The snapshot family keeps its hand-written `xsd/snapshot.xsd`; a shape that
holds a snapshot, or a data store (a history record at level full), refers to its named type there."""
from __future__ import annotations

from lxml import etree

from .namespaces import PROCESS
from .shapes import BOOL, FLOAT, INT, STRING, TIME, Child, Custom, Shape
from .snapshot import SNAPSHOT

XS = "http://www.w3.org/2001/XMLSchema"
_TYPES = {STRING: "xs:string", INT: "xs:long", FLOAT: "xs:double", BOOL: "xs:boolean", TIME: "xs:dateTime"}
_NAMED = {id(SNAPSHOT): "ProcessExecutionSnapshot"}  # types of snapshot.xsd, referred to by name


def _xs(parent: etree._Element, local: str, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{XS}}}{local}", {k: v for k, v in attrs.items() if v is not None})


def global_element(schema: etree._Element, shape: Shape, type_name: str | None = None) -> etree._Element:
    """Declare `shape` as a global element of `schema` (whose default namespace is the process engine's),
    its type anonymous or, given `type_name`, a named type beside it (one an `xsi:type` can name)."""
    if type_name is None:
        element = _xs(schema, "element", name=shape.name)
        _fill(_xs(element, "complexType"), shape)
        return element
    element = _xs(schema, "element", name=shape.name, type=type_name)
    _fill(_xs(schema, "complexType", name=type_name), shape)
    return element


def _fill(complex_type: etree._Element, shape: Shape) -> None:
    if shape.text is not None:  # text and attributes: simple content
        holder = _xs(_xs(complex_type, "simpleContent"), "extension", base="xs:string")
    else:
        holder = complex_type
        children = [c for c in shape.children]
        if children:
            sequence = _xs(complex_type, "sequence")
            for child in children:
                _child(sequence, child)
    for attr in shape.attrs:
        _xs(holder, "attribute", name=attr.name, type=_TYPES[attr.kind], use="required" if attr.required else None)


def _child(sequence: etree._Element, child: Child | Custom) -> None:
    if isinstance(child, Custom):
        if child.xsd_type is None:
            raise ValueError(f"{child.name}: a hand-written child needs a hand-written declaration")
        _xs(sequence, "element", name=child.name, type=child.xsd_type, minOccurs="0")
        return
    occurs = {"minOccurs": "0" if child.many or not child.required else None,
              "maxOccurs": "unbounded" if child.many else None}
    if child.shape is None:
        _xs(sequence, "element", name=child.name, type="xs:string", **occurs)
    elif id(child.shape) in _NAMED:
        _xs(sequence, "element", name=child.name, type=_NAMED[id(child.shape)], **occurs)
    else:
        _fill(_xs(_xs(sequence, "element", name=child.name, **occurs), "complexType"), child.shape)


def results_schema(snapshot_xsd: etree._Element, shapes: list[Shape],
                   type_names: dict[str, str] | None = None) -> etree._Element:
    """`xsd/snapshot.xsd` (parsed) with a global element for each of `shapes` added to it; `type_names`
    names the types of some (by element name)."""
    schema = snapshot_xsd
    assert schema.get("targetNamespace") == PROCESS and schema.nsmap.get(None) == PROCESS
    for shape in shapes:
        global_element(schema, shape, (type_names or {}).get(shape.name))
    return schema
