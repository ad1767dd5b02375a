"""No input produces a soap:Server fault or a traceback (CONTRACT §6): every operation of the WSDL with
every parameter set to one odd value at a time, against a server of this module's own (some calls
change its node: disconnect it, set it offline)."""
from __future__ import annotations

from typing import Iterator

import pytest
import requests
from lxml import etree

from tests.support.namespaces import PE
from tests.support.server import Server, sqlite_server
from tests.support.soap import ENV, GOLDEN, WSDL, XML, XS, envelope

VALUES = ["", "x", "1", "-2", "99999999999999999999", "TRUE", "&lt;a/&gt;", "2026-13-45T99:00:00Z", "é\u2028,,",
          "<dataStore xmlns='http://www.infinica.com/datastore'><bogus/></dataStore>"]


def request_members() -> dict[str, list[str]]:
    root = etree.parse(str(GOLDEN)).getroot()
    types = {t.get("name"): t for t in root.iter(f"{{{XS}}}complexType") if t.get("name")}
    operations = [op.get("name") for op in root.iterfind(f"{{{WSDL}}}portType/{{{WSDL}}}operation")]
    return {op: [e.get("name") for e in types[op].iter(f"{{{XS}}}element")] for op in operations}


@pytest.fixture(scope="module")
def own_server(tmp_path_factory) -> Iterator[Server]:
    with sqlite_server(tmp_path_factory, "fuzz") as running:
        yield running


@pytest.mark.parametrize("value", VALUES)
def test_odd_values_never_make_a_server_fault(own_server, value):
    session = requests.Session()
    for operation, members in request_members().items():
        body = "".join(f"<{m}>{value}</{m}>" for m in members)
        answer = session.post(own_server.root("soap"), data=envelope(operation, body), headers=XML, timeout=60)
        text = answer.content
        assert b"Traceback" not in text and b'File "' not in text, (operation, text)
        if answer.status_code == 200:
            continue
        fault = etree.fromstring(text).find(f"{{{ENV}}}Body/{{{ENV}}}Fault")
        error = fault.find(f"detail/{{{PE}}}error")
        kind = error.get("type") if error is not None else "multi-error"
        if fault.findtext("faultcode").endswith(":Server"):
            assert kind in ("EngineOffline", "FeatureUnavailable"), (operation, value, text)
    session.post(own_server.root("soap"), data=envelope("clusterConnect"), headers=XML, timeout=60)
    session.post(own_server.root("soap"), data=envelope("setEngineOnline", "<online>true</online>"), headers=XML,
                 timeout=60)
