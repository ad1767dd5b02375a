"""What reaches the SOAP door before and beside the operations (soap/http.py, soap/protocol.py,
soap/faults.py): malformed and hostile requests are Client faults, never a Server fault nor a
traceback; bodies over the limit are 413; credentials as REST's (401 with the challenge) or as a
WS-Security UsernameToken; a failure of the service itself is a Server fault with an incident ID."""
from __future__ import annotations

import gc
import threading
import time
from typing import Iterator

import pytest
import requests
from lxml import etree
from werkzeug.test import Client as WsgiClient
from zeep.wsse.username import UsernameToken

from config.settings import load_settings
from soap import create_soap_app
from tests.support.namespaces import PE
from tests.support.server import USERS, Server, basic, sqlite_server
from tests.support.soap import ENV, XML, Soap, envelope, fault_type


def raw_fault(answer: requests.Response | object, code: str = "Client", status: int = 500) -> etree._Element:
    """The `<error>` of a fault answer, after checking its status, code and that no traceback leaked."""
    content = answer.content if hasattr(answer, "content") else answer.data
    status_code = answer.status_code
    assert status_code == status, (status_code, content)
    assert b"Traceback" not in content and b'File "' not in content
    fault = etree.fromstring(content).find(f"{{{ENV}}}Body/{{{ENV}}}Fault")
    assert fault.findtext("faultcode").endswith(f":{code}"), content
    error = fault.find(f"detail/{{{PE}}}error")
    assert error.get("message") == fault.findtext("faultstring")
    return error


def post(server: Server, body: bytes, **kwargs) -> requests.Response:
    return requests.post(server.root("soap"), data=body, headers={**XML, **kwargs.pop("headers", {})}, timeout=30,
                         **kwargs)


# -- hostile and malformed requests ----------------------------------------------------------------------
@pytest.mark.parametrize("body, words", [
    (b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x "y">]><e:Envelope xmlns:e="' + ENV.encode() + b'"/>', "DOCTYPE"),
    (b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>', "DOCTYPE"),
    (b"<e:Envelope xmlns:e='" + ENV.encode() + b"'><e:Body>", "line 1"),
    (b"not xml at all", "invalid XML"),
    (b"", "empty"),
    (b"<Envelope/>", "Envelope"),
    (f'<e:Envelope xmlns:e="{ENV}"><e:Body/></e:Envelope>'.encode(), "Body holds no operation"),
    (f'<e:Envelope xmlns:e="{ENV}"><e:Header/></e:Envelope>'.encode(), "Body holds no operation"),
    (f'<e:Envelope xmlns:e="{ENV}"><e:Body><!-- none --></e:Body></e:Envelope>'.encode(), "Body holds no operation"),
], ids=["doctype", "billion-laughs", "truncated", "text", "empty", "not-soap", "empty-body", "no-body",
        "only-a-comment"])
def test_malformed_requests_are_client_faults(server, body, words):
    error = raw_fault(post(server, body))
    assert error.get("type") == "InvalidParameter" and words in error.get("message")


@pytest.mark.parametrize("operation, body, named", [
    ("getProcessSnapshot", "<executionId>x</executionId><peek>maybe</peek>", "peek"),
    ("run", "<processUri>done.ipd</processUri><timeout>soon</timeout>", "timeout"),
    ("run", "<processUri>done.ipd</processUri><timeout>99999999999999999999999</timeout>", "timeout"),
    ("waitForProcess", "<executionId>x</executionId><afterTimestamp>yesterday</afterTimestamp>", "afterTimestamp"),
    ("instantiate", "<processUri>x.ipd</processUri><process>!!not base64!!</process>", "process"),
    ("getProcessSnapshot", "", "executionId"),
    ("disposeProcesses", "", "query"),  # optional for recoverProcesses and findExecutions (CONTRACT §5)
    ("setOnline", "<executionId>x</executionId>", "online"),
    ("run", "<processUri>a\x01b</processUri>".replace("\x01", "&#1;"), ""),
    ("run", "<processUri>done.ipd</processUri><autoDispose>sometimes</autoDispose>", "autoDispose"),
    ("setLogSettings", "<executionId>x</executionId><dataLevel>most</dataLevel>", "none, summary, full"),
], ids=["boolean", "integer", "overflow", "timestamp", "base64", "missing-id", "missing-query", "missing-online",
        "control-character", "enumeration", "enumeration-values"])
def test_bad_parameters_are_client_faults_naming_them(server, operation, body, named):
    error = raw_fault(post(server, envelope(operation, body)))
    assert error.get("type") in ("InvalidParameter", "NotFound") and named in error.get("message")


def test_a_request_without_a_content_type_is_served(server):
    answer = requests.post(server.root("soap"), data=envelope("version"), timeout=30)
    assert answer.status_code == 200 and b"versionResponse" in answer.content


def test_comments_and_processing_instructions_in_a_request_are_ignored(server):
    """Spyne reads the envelope the hardened parser made, cleaned as Spyne's own parser would clean it."""
    body = envelope("run", "<processUri>do<!-- a remark -->ne.ipd<?tool hint?></processUri><!-- and another -->")
    answer = post(server, body)
    assert answer.status_code == 200, answer.text
    snapshot = etree.fromstring(answer.content).find(f".//{{{PE}}}processExecutionSnapshot")
    assert snapshot.get("state") == "FINISHED" and snapshot.find(f"{{{PE}}}definitionInfo").get("uri") == "done.ipd"


def test_an_unknown_operation_is_a_client_fault(server):
    assert raw_fault(post(server, envelope("launchRocket"))).get("type") in ("NotFound", "InvalidParameter")


def test_other_methods_and_paths_are_client_faults(server):
    raw_fault(requests.get(server.root("soap"), timeout=30))
    raw_fault(requests.put(server.root("soap"), data=b"x", timeout=30))
    raw_fault(requests.post(server.root("soap/elsewhere"), data=envelope("version"), headers=XML, timeout=30))


def test_concurrent_faults_never_mix_their_messages(server):
    """Validation shares nothing between threads: each fault names its own request's value."""
    failures: list[str] = []

    def ask(i: int) -> None:
        answer = post(server, envelope("getProcessSnapshot", f"<executionId>x</executionId><peek>no{i}</peek>"))
        message = etree.fromstring(answer.content).findtext(f".//{{{ENV}}}Fault/faultstring")
        if f"no{i}'" not in message:
            failures.append(message)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_concurrent_runs_each_get_their_own_answer(server):
    """Answers are built per request: threads running at once never see each other's pipelines."""
    answers: dict[int, bytes] = {}

    def ask(i: int) -> None:
        store = f"<dat:dataStore xmlns:dat='http://www.infinica.com/datastore'><dat:entry name='in' " \
                f"type='text/plain'><dat:value>caller {i}</dat:value></dat:entry></dat:dataStore>"
        body = f"<processUri>echo.ipd</processUri><processParams>{store}</processParams>"
        try:
            answers[i] = post(server, envelope("run", body)).content
        except requests.RequestException as exc:  # reported with the others below, not as a stray thread error
            answers[i] = repr(exc).encode()

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 16
    for i, content in answers.items():
        values = [v.text for v in etree.fromstring(content).iter("{http://www.infinica.com/datastore}value")] \
            if content.startswith(b"<") else None
        assert values == [f"caller {i}", f"echo caller {i}"], (i, content[:3000])


# -- the body limit ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_server(tmp_path_factory) -> Iterator[Server]:
    with sqlite_server(tmp_path_factory, "small", "[server]\nmax_request_bytes = 4096\n") as running:
        yield running


def test_a_body_over_the_limit_is_413(small_server):
    store = "<dat:dataStore xmlns:dat='http://www.infinica.com/datastore'>" + "<!-- pad -->" * 400 + "</dat:dataStore>"
    body = envelope("run", f"<processUri>echo.ipd</processUri><processParams>{store}</processParams>")
    assert raw_fault(post(small_server, body), status=413).get("type") == "PayloadTooLarge"
    chunked = post(small_server, iter([body[:2000], body[2000:]]))  # no Content-Length: read to the limit only
    assert raw_fault(chunked, status=413).get("type") == "PayloadTooLarge"
    assert post(small_server, envelope("version")).status_code == 200


# -- credentials (the `secured` fixture of tests/conftest.py) ------------------------------------------
def test_without_credentials_the_door_challenges(secured):
    for body in (envelope("version"), envelope("getProcessSnapshot", "<peek>maybe</peek>"), b"<broken"):
        answer = post(secured, body)
        assert raw_fault(answer, status=401).get("type") == "Unauthenticated"
        assert answer.headers["WWW-Authenticate"] == 'Basic realm="process-engine"'
    assert raw_fault(post(secured, envelope("version"), headers=basic("root", "wrong")), status=401).get(
        "type") == "Unauthenticated"
    assert requests.get(secured.root("soap"), params="wsdl", timeout=30).status_code == 200  # the WSDL is public


def test_basic_credentials(secured):
    session = requests.Session()
    session.auth = ("root", USERS["root"][0])
    assert Soap(secured, session).client.service.version().startswith("process-engine")


def test_a_username_token(secured):
    soap = Soap(secured)
    soap.client.wsse = UsernameToken("root", USERS["root"][0])
    assert soap.client.service.version().startswith("process-engine")
    soap.client.wsse = UsernameToken("root", "wrong")
    with pytest.raises(Exception):
        soap.client.service.version()
    token = ('<s:Security xmlns:s="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">'
             '<s:UsernameToken><s:Username>root</s:Username><s:Password>wrong</s:Password></s:UsernameToken>'
             '</s:Security>')
    assert raw_fault(post(secured, envelope("version", header=token)), status=401).get("type") == "Unauthenticated"
    understood = token.replace('<s:Security ', '<s:Security e:mustUnderstand="1" ').replace(">wrong<", ">root-secret<")
    assert post(secured, envelope("version", header=understood)).status_code == 200


def test_other_users_may_not_administer(secured):
    session = requests.Session()
    session.auth = ("clerk", USERS["clerk"][0])
    soap = Soap(secured, session)
    fault = soap.fault("version")
    assert fault.code.endswith("Client") and fault_type(fault) == "AuthorizationException"
    error = fault.detail.find(f"{{{PE}}}error")
    assert error.get("userId") == "clerk" and error.get("permissionName")
    held = soap.result("run", processUri="hold.ipd", states=["WAITING"])
    assert held.get("owner") == "clerk"


# -- a failure of the service itself ----------------------------------------------------------------------
class BrokenEngine:
    def __getattr__(self, name: str):
        raise RuntimeError("the engine fell over with a secret /etc/passwd path")


def test_a_failure_of_the_service_is_a_server_fault_with_an_incident(caplog):
    app = create_soap_app(BrokenEngine(), load_settings({}))
    answer = WsgiClient(app).post("/", data=envelope("getNodeState"), headers=XML)
    error = raw_fault(answer, code="Server")
    incident = error.get("incidentId")
    assert incident and incident in error.get("message") and "passwd" not in answer.get_data(as_text=True)
    assert any(incident in record.getMessage() for record in caplog.records)


def test_a_request_stops_no_thread_for_a_full_garbage_collection():
    """Spyne would run gc.collect() after a request, once a second: tens of milliseconds in which no
    thread of the worker, REST's included, gets on."""
    app = create_soap_app(BrokenEngine(), load_settings({}))
    collections: list[int] = []

    def seen(phase: str, info: dict) -> None:
        if phase == "start":
            collections.append(info["generation"])
    gc.disable()  # only a collection asked for explicitly can be seen now
    gc.callbacks.append(seen)
    try:
        time.sleep(1.1)  # past Spyne's interval since any earlier request in this process
        raw_fault(WsgiClient(app).post("/", data=envelope("getNodeState"), headers=XML), code="Server")
    finally:
        gc.callbacks.remove(seen)
        gc.enable()
    assert collections == []
