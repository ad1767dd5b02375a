"""Which requests the doors refuse as sent by a page of another site (config/origins.py): what browsers
say of a request's origin, decided the way Go's CrossOriginProtection decides it; clients that are no
browser send neither header and pass."""
from __future__ import annotations

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from config.origins import RefusesCrossSite

ROOT = "/infinica-process-engine"


@Request.application
def door(request: Request) -> Response:
    return Response("reached")


CLIENT = Client(RefusesCrossSite(door, (f"{ROOT}/rest", f"{ROOT}/soap"),
                                 (f"{ROOT}/rest/docs", f"{ROOT}/rest/openapi.json", f"{ROOT}/soap")))
HOST = "engine.example:8080"


def reached(method: str, path: str, **headers: str) -> bool:
    answer = CLIENT.open(path, method=method, headers={"Host": HOST, **headers})
    if answer.status_code == 403:
        assert answer.json["type"] == "CrossSiteRequest" and "another site" in answer.json["message"]
        return False
    assert answer.get_data(as_text=True) == "reached"
    return True


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "GET"])
@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_a_call_a_page_of_another_site_sent_is_refused(method, site):
    assert not reached(method, f"{ROOT}/rest/run", **{"Sec-Fetch-Site": site})


@pytest.mark.parametrize("site", ["same-origin", "none"])
def test_a_call_from_the_services_own_pages_or_typed_by_the_user_passes(site):
    assert reached("POST", f"{ROOT}/rest/run", **{"Sec-Fetch-Site": site})


def test_clients_that_are_no_browser_pass():
    assert reached("POST", f"{ROOT}/rest/run")
    assert reached("POST", f"{ROOT}/soap", **{"Content-Type": "text/xml"})


def test_without_sec_fetch_site_an_older_browsers_origin_decides_unsafe_calls():
    assert not reached("POST", f"{ROOT}/rest/processes", Origin="https://evil.example")
    assert not reached("POST", f"{ROOT}/soap", Origin="null")  # a sandboxed frame or a data: page
    assert reached("POST", f"{ROOT}/rest/processes", Origin=f"http://{HOST}")
    assert reached("GET", f"{ROOT}/rest/processes/x", Origin="https://evil.example")


def test_a_link_from_elsewhere_may_open_what_changes_nothing():
    for path in (f"{ROOT}/rest/docs/", f"{ROOT}/rest/openapi.json", f"{ROOT}/soap", f"{ROOT}/console/",
                 f"{ROOT}/health/ready"):
        assert reached("GET", path, **{"Sec-Fetch-Site": "cross-site"}), path
    assert not reached("POST", f"{ROOT}/soap", **{"Sec-Fetch-Site": "cross-site"})
