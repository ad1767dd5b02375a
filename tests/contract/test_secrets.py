"""No password and no password hash ever leaves the service (CONTRACT §8): not in a log line, not in an
error body — whether the password was right, wrong, for an unknown user, sent by REST's HTTP Basic,
or by SOAP's HTTP Basic or WS-Security UsernameToken, and whether the call then failed or not."""
from __future__ import annotations

import base64
from typing import Iterator

import pytest
import requests

from engine.security.authentication import hash_password
from tests.support.server import Server, sqlite_server

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
PASSWORD_TEXT = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
USERS = {"root": ("Root-Pa55word-7d1c", ["admin"]), "clerk": ("Clerk-Pa55word-e93b", [])}
HASHES = {name: hash_password(password) for name, (password, _) in USERS.items()}
WRONG = "Wr0ng-Guess-0f4a"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    users = "".join(f'[[auth.users]]\nname = "{name}"\npassword_hash = "{HASHES[name]}"\nroles = {roles!r}\n'
                    .replace("'", '"') for name, (_, roles) in USERS.items())
    with sqlite_server(tmp_path_factory, "secrets", users) as server:
        yield server


def basic(name: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


def envelope(body: str, name: str | None = None, password: str | None = None) -> bytes:
    header = "" if name is None else (
        f'<soap:Header><wsse:Security xmlns:wsse="{WSSE}"><wsse:UsernameToken><wsse:Username>{name}</wsse:Username>'
        f'<wsse:Password Type="{PASSWORD_TEXT}">{password}</wsse:Password></wsse:UsernameToken></wsse:Security>'
        f"</soap:Header>")
    return (f'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
            f'xmlns:pe="http://www.infinica.com/process-engine">{header}<soap:Body>{body}</soap:Body>'
            f"</soap:Envelope>").encode()


def exchanges(server: Server) -> Iterator[requests.Response]:
    """Right, wrong and unknown credentials on both doors, with calls that succeed, are refused or fail."""
    soap = server.root("soap")
    xml = {"Content-Type": "text/xml; charset=utf-8"}
    for name, (password, _) in USERS.items():
        for secret in (password, WRONG, HASHES[name]):
            headers = basic(name, secret)
            yield requests.get(server.url("version"), headers=headers, timeout=30)
            yield requests.get(server.url("run"), params={"processUri": "fail.ipd"}, headers=headers, timeout=30)
            yield requests.get(server.url("run"), params={"processUri": "no-such.ipd"}, headers=headers, timeout=30)
            yield requests.post(server.url("setOnline"), params={"online": "maybe"}, headers=headers, timeout=30)
            yield requests.post(soap, data=envelope("<pe:version/>"), headers={**xml, **headers}, timeout=30)
            for body in ("<pe:version/>", "<pe:run><pe:processUri>no-such.ipd</pe:processUri></pe:run>",
                         "<pe:setOnline><pe:online>maybe</pe:online></pe:setOnline>"):
                yield requests.post(soap, data=envelope(body, name, secret), headers=xml, timeout=30)
    yield requests.get(server.url("version"), headers=basic("mallory", USERS["root"][0]), timeout=30)
    yield requests.post(soap, data=envelope("<pe:version/>", "mallory", USERS["root"][0]), headers=xml, timeout=30)
    yield requests.post(soap, data=envelope("<pe:version/>", "root", None), headers=xml, timeout=30)


def test_no_password_or_hash_appears_in_any_answer_or_log_line(secured):
    secrets = [password for password, _ in USERS.values()] + [WRONG] + list(HASHES.values())
    secrets += [h.rsplit("$", 1)[-1] for h in HASHES.values()]  # the digest alone
    statuses = set()
    for answer in exchanges(secured):
        statuses.add(answer.status_code)
        for secret in secrets:
            assert secret not in answer.text, f"{answer.request.method} {answer.url} answered a secret"
            assert secret not in str(answer.headers)
    assert {200, 400, 401, 403, 500} <= statuses  # successes, refusals and failures were all exercised
    log = secured.log.read_text()
    assert "GET /infinica-process-engine/rest/version" in log  # the log is the one the requests went to
    for secret in secrets:
        assert secret not in log
    assert "$argon2" not in log
