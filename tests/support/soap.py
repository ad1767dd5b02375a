"""SOAP helpers: zeep on the served WSDL, the WSDL's schemas, request documents, envelopes, answers.

The SOAP tests drive a real `process-engine serve` per test module and database (the `server` and `soap`
fixtures of tests/conftest.py) through zeep built from the WSDL the server serves."""
from __future__ import annotations

import copy
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from zeep import Client, Settings
from zeep.exceptions import Fault
from zeep.plugins import HistoryPlugin
from zeep.transports import Transport

from tests.support.common import ROOT
from tests.support.namespaces import DAT, PE, Q, dat, pe
from tests.support.server import Server

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XML = {"Content-Type": "text/xml; charset=utf-8"}
GOLDEN = ROOT / "wsdl" / "process-engine.wsdl"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
XS = "http://www.w3.org/2001/XMLSchema"


def envelope(operation: str, body: str = "", header: str = "") -> bytes:
    return (f'<e:Envelope xmlns:e="{ENV}"><e:Header>{header}</e:Header><e:Body>'
            f'<{operation} xmlns="{PE}">{body}</{operation}></e:Body></e:Envelope>').encode()


class Soap:
    """zeep on the served WSDL; `call` answers the response wrapper element as the server wrote it."""

    def __init__(self, server: Server, session: Any = None) -> None:
        self.server = server
        self.wsdl_url = server.root("soap?wsdl")
        self.history = HistoryPlugin()
        transport = Transport(session=session) if session is not None else None
        self.client = Client(self.wsdl_url, transport=transport, plugins=[self.history], settings=Settings(strict=True))

    def call(self, operation: str, **params: Any) -> etree._Element:
        """The response wrapper; each result in it is checked against the result's declaration in the WSDL."""
        getattr(self.client.service, operation)(**params)
        body = self.history.last_received["envelope"].find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
        for result in body[0]:
            if result.tag != f"{{{PE}}}totalCount" and len(result) + len(result.attrib):
                result_schema().assertValid(copy.deepcopy(result))
        return body[0]

    def result(self, operation: str, **params: Any) -> etree._Element | None:
        """The one element a result-bearing operation answers, or None."""
        wrapper = self.call(operation, **params)
        return wrapper[0] if len(wrapper) else None

    def fault(self, operation: str, **params: Any) -> Fault:
        with pytest.raises(Fault) as info:
            getattr(self.client.service, operation)(**params)
        return info.value


@lru_cache(maxsize=1)
def result_schema() -> etree.XMLSchema:
    """The result declarations the published WSDL carries inline, compiled by lxml (not zeep): the
    elements `schemas/` writes must be valid against what the contract says of them."""
    return wsdl_schema(PE)


@lru_cache(maxsize=None)
def wsdl_schema(namespace: str) -> etree.XMLSchema:
    """The published WSDL's inline schema of `namespace` (the results', the query's), compiled by lxml
    with the WSDL's data store schema for what it imports."""
    wsdl = etree.parse(str(ROOT / "wsdl" / "process-engine.wsdl")).getroot()
    folder = Path(tempfile.mkdtemp())
    documents = {}
    for schema in wsdl.findall("{http://schemas.xmlsoap.org/wsdl/}types/{http://www.w3.org/2001/XMLSchema}schema"):
        if schema.get("targetNamespace") not in documents:  # the first of each: the results', not Spyne's
            root = etree.Element(schema.tag, dict(schema.attrib), nsmap={**wsdl.nsmap, **schema.nsmap})
            root.extend(copy.deepcopy(child) for child in schema)
            documents[schema.get("targetNamespace")] = root
    (folder / "datastore.xsd").write_bytes(etree.tostring(documents[DAT]))
    wanted = documents[namespace]
    for imported in wanted.iterfind("{http://www.w3.org/2001/XMLSchema}import"):
        imported.set("schemaLocation", str(folder / "datastore.xsd"))
    return etree.XMLSchema(etree.ElementTree(wanted))


def fault_type(fault: Fault) -> str | None:
    error = fault.detail.find(f"{{{PE}}}error") if fault.detail is not None else None
    return None if error is None else error.get("type")


def store(**entries: str) -> dict[str, Any]:
    """A data store of text entries in simple form, as zeep fills in the WSDL's dat:DataStore."""
    return {"entry": [{"name": name, "type": "text/plain", "value": [value]} for name, value in entries.items()]}


def standard_store(**entries: str) -> dict[str, Any]:
    """The same in standard form: values with IDs, entries naming them."""
    return {"values": {"value": [{"id": str(n), "type": "text/plain", "content": value}
                                 for n, value in enumerate(entries.values())]},
            "entries": {"entry": [{"name": name, "value": [str(n)]} for n, name in enumerate(entries)]}}


def query(external_id: str, **paging: int) -> dict[str, Any]:
    """The WSDL's q:Query for `externalId equals external_id`, as zeep fills it in."""
    return {"param": {"field": "externalId", "operation": "equals", "values": {"value": [external_id]}}, **paging}


def store_xml(**entries: str) -> str:
    """A simple-form XML data store of text entries, as text (a document parameter may be its text)."""
    root = etree.Element(f"{{{DAT}}}dataStore", nsmap={None: DAT})
    for name, value in entries.items():
        entry = etree.SubElement(root, f"{{{DAT}}}entry", name=name, type="text/plain")
        etree.SubElement(entry, f"{{{DAT}}}value").text = value
    return etree.tostring(root, encoding="unicode")


def query_xml(external_id: str) -> str:
    root = etree.Element(f"{{{Q}}}query", nsmap={None: Q})
    param = etree.SubElement(root, f"{{{Q}}}param", field="externalId", operation="equals")
    values = etree.SubElement(param, f"{{{Q}}}values")
    etree.SubElement(values, f"{{{DAT}}}value", nsmap={"dat": DAT}).text = external_id
    return etree.tostring(root, encoding="unicode")


def entries(holder: etree._Element) -> dict[str, list[str]]:
    """A pipeline (or data store) element's entries as {name: values}, in either form."""
    if holder.tag == pe("processExecutionSnapshot"):
        holder = holder.find(pe("pipeline"))
    if holder.find(dat("values")) is None:
        return {e.get("name"): [v.text for v in e.findall(dat("value"))] for e in holder.findall(dat("entry"))}
    values = {v.get("id"): v.findtext(dat("content")) for v in holder.find(dat("values"))}
    return {e.get("name"): [values[r.text] for r in e] for e in holder.find(dat("entries"))}


def waiting(soap: Soap, **params) -> etree._Element:
    """A hold.ipd instance at its wait state (its pipeline holds x = 1)."""
    snapshot = soap.result("run", processUri="hold.ipd", states=["WAITING"], **params)
    assert snapshot.get("state") == "WAITING"
    return snapshot


def tree(element: etree._Element) -> tuple:
    """An element as names, attributes, text and children: what it says, whatever its prefixes."""
    return (element.tag, dict(element.attrib), (element.text or "").strip(), [tree(child) for child in element])
