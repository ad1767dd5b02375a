"""What keeps the console safe: its pages' headers, a page of another site that posts a form to the
service or frames the console (the browser holds an operator's credentials), and a user who sees only
the actions they may take — which the REST door refuses anyway."""
from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest
import requests
from playwright.sync_api import expect

from tests.support.rest import call, snap
from tests.support.server import ROOT_PATH, basic, free_port, unique

TEXT = {"Content-Type": "text/plain"}


@pytest.fixture
def other_site() -> Iterator[dict[str, str]]:
    """A web server of another origin: `pages[path] = html` is served at `url + path`."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            body = pages.get(self.path, "not here").encode()
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    site = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    pages["url"] = f"http://localhost:{site.server_address[1]}"  # another site: localhost, not 127.0.0.1
    yield pages
    site.shutdown()
    site.server_close()


def mine(secured, external_id: str) -> list[dict]:
    answer = call(secured, "POST", "processes/query", 200, headers=basic("root"), json={"query": {"param": {
        "field": "externalId", "operation": "equals", "values": {"value": [external_id]}}}})
    return answer.json()["processExecutionSnapshots"].get("processExecutionSnapshot", [])


# -- the pages' own headers ----------------------------------------------------------------------------
def test_the_console_is_where_the_service_root_leads_and_may_not_be_framed(secured):
    for path in ("/", f"{ROOT_PATH}", f"{ROOT_PATH}/", f"{ROOT_PATH}/console"):
        answer = requests.get(f"{secured.base}{path}", allow_redirects=False, timeout=30)
        assert answer.status_code == 302 and answer.headers["Location"].endswith(f"{ROOT_PATH}/console/"), path
    page = requests.get(f"{secured.base}{ROOT_PATH}/console/", timeout=30)  # the page itself needs no credentials
    assert page.status_code == 200 and "<main" in page.text
    policy = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert page.headers["X-Frame-Options"] == "DENY"
    assert requests.get(f"{secured.base}{ROOT_PATH}/console/secret.txt", timeout=30).status_code == 404


def test_the_console_asks_who_its_user_is_with_their_credentials(secured):
    me = f"{secured.base}{ROOT_PATH}/console/api/me"
    refused = requests.get(me, timeout=30)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic")
    assert requests.get(me, headers=basic("clerk"), timeout=30).json() == {
        "name": "clerk", "roles": ["clerks"], "admin": False}
    assert requests.get(me, headers=basic("clerk", "wrong"), timeout=30).status_code == 401
    beats = f"{secured.base}{ROOT_PATH}/console/api/heartbeats"  # an admin's, as nodeStates is
    assert requests.get(beats, headers=basic("clerk"), timeout=30).status_code == 403
    assert all(age >= 0 for age in requests.get(beats, headers=basic("root"), timeout=30).json().values())


# -- another site --------------------------------------------------------------------------------------
def test_a_form_of_another_site_changes_nothing_under_the_operators_credentials(as_user, secured, other_site):
    run_id, created_id = unique(), unique()
    other_site["/attack"] = f"""<!doctype html><title>prize</title>
      <form id="run" method="get" action="{secured.url('run')}" target="one">
        <input name="processUri" value="hold.ipd"><input name="externalId" value="{run_id}">
        <input name="states" value="WAITING"></form>
      <form id="create" method="post" enctype="multipart/form-data" action="{secured.url('processes')}" target="two">
        <input name="processUri" value="hold.ipd"><input name="externalId" value="{created_id}"></form>
      <iframe name="one"></iframe><iframe name="two"></iframe>"""
    console = as_user("root")  # the browser holds root's credentials, as after working in the console
    page = console.page
    with page.expect_response(lambda r: "/rest/run" in r.url) as ran:
        page.goto(f"{other_site['url']}/attack")
        page.evaluate("document.getElementById('run').submit()")
    with page.expect_response(lambda r: r.url.endswith("/rest/processes")) as created:
        page.evaluate("document.getElementById('create').submit()")
    for answer in (ran.value, created.value):
        assert answer.status == 403 and answer.json()["type"] == "CrossSiteRequest"
    assert mine(secured, run_id) == [] and mine(secured, created_id) == []
    # the very same calls from a client that is no browser do what they say
    call(secured, "GET", "run", 200, headers=basic("root"), params={"processUri": "hold.ipd", "externalId": run_id,
                                                                    "states": "WAITING"})
    assert len(mine(secured, run_id)) == 1


def test_a_page_of_another_site_cannot_frame_the_console(as_user, secured, other_site):
    other_site["/frame"] = f'<!doctype html><title>frame</title><iframe src="{secured.base}{ROOT_PATH}/console/"></iframe>'
    console = as_user("root")
    page = console.page
    page.goto(f"{other_site['url']}/frame")
    page.wait_for_timeout(1500)
    framed = [frame for frame in page.frames if frame != page.main_frame]
    assert framed and all(frame.url.startswith("chrome-error:") or not frame.query_selector("main") for frame in framed)


# -- a user with fewer privileges ----------------------------------------------------------------------
def held(secured, user: str) -> dict:
    return snap(call(secured, "GET", "run", 200, headers=basic(user),
                     params={"processUri": "hold.ipd", "states": "WAITING", "externalId": unique()}))


def test_a_user_sees_only_the_actions_they_may_take(as_user, secured):
    roots = held(secured, "root")
    call(secured, "PUT", f"processes/{roots['executionId']}/permissions/clerk", 200, headers={**basic("root"), **TEXT},
         data="read")
    own = held(secured, "clerk")
    console = as_user("clerk")
    page = console.open()
    expect(page.locator("#user")).to_have_text("clerk")
    expect(page.get_by_role("table", name="Processes by state")).to_be_visible()
    expect(page.get_by_role("button", name="Change level")).to_have_count(0)
    expect(page.get_by_role("table", name="Services")).to_have_count(0)
    expect(page.get_by_role("table", name="Nodes")).to_have_count(0)

    console.open(f"#/processes?externalId={own['externalId']}")
    expect(page.get_by_role("table", name="Matching processes")).to_contain_text(own["executionId"])
    expect(page.get_by_role("button", name=re.compile("Recover|Dispose"))).to_have_count(0)

    console.open(f"#/process/{roots['executionId']}")  # may read it, nothing else
    expect(page.locator('[data-fact="Owner"]')).to_have_text("root")
    expect(page.get_by_role("table", name="Permissions")).to_contain_text("clerk")
    expect(page.locator("section.actions")).to_have_count(0)
    for action in ("Set attribute", "Set permissions", "Hand over"):
        expect(page.get_by_role("button", name=action)).to_have_count(0)
    expect(page.locator("svg.diagram").get_by_role("button")).to_have_count(0)  # no breakpoints either

    console.open(f"#/process/{own['executionId']}")  # the owner holds every privilege
    for action in ("Continue", "Terminate", "Set offline", "Dispose", "Set attribute", "Set permissions", "Hand over"):
        expect(page.get_by_role("button", name=action)).to_be_visible()

    # what is not offered, the REST door refuses anyway
    call(secured, "PUT", "maintenance", 403, headers={**basic("clerk"), **TEXT}, data="frozen")
    call(secured, "POST", f"processes/{roots['executionId']}/start", 403, headers=basic("clerk"))
    call(secured, "DELETE", f"processes/{roots['executionId']}", 403, headers=basic("clerk"))


def test_the_outline_needs_one_subject_and_the_read_privilege(secured):
    outline = f"{secured.base}{ROOT_PATH}/console/api/outline"
    for params in ({}, {"processUri": "hold.ipd", "executionId": "x"}):
        refused = requests.get(outline, params=params, headers=basic("root"), timeout=30)
        assert refused.status_code == 400 and refused.json()["type"] == "InvalidParameter", params
    roots = held(secured, "root")
    refused = requests.get(outline, params={"executionId": roots["executionId"]}, headers=basic("clerk"), timeout=30)
    assert refused.status_code == 403 and refused.json()["type"] == "AuthorizationException"
    mine = requests.get(outline, params={"executionId": roots["executionId"]}, headers=basic("root"), timeout=30).json()
    assert mine["uri"] == "hold.ipd" and mine["current"] == "root.hold"
    assert requests.get(outline, params={"processUri": "nothing.ipd"}, headers=basic("root"), timeout=30).status_code == 404
