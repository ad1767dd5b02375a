"""The console's views in a real headless Chromium, against a served engine on SQLite and PostgreSQL:
what an operator sees on each view and what its buttons do, checked against the REST door."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Iterator

import pytest
from playwright.sync_api import expect

from tests.rest.console.conftest import Console

from tests.support.common import settles
from tests.support.rest import call, snap, waiting
from tests.support.server import Server, sqlite_server, unique

STATE = '[data-fact="State"]'


def param(field: str, operation: str, *values: str) -> dict:
    return {"param": {"field": field, "operation": operation, "values": {"value": list(values)}}}


def count(server, tree: dict) -> int:
    return call(server, "POST", "processes/count", 200, json={"query": tree}).json()["count"]


def row_count(page, table: str, heading: str):
    return page.get_by_role("table", name=table).get_by_role("row", name=re.compile(f"^{heading} ")).locator("td")


# -- overview ------------------------------------------------------------------------------------------
def test_the_overview_counts_processes_by_state_live_and_lists_the_nodes(console, server):
    waiting(server, unique())
    page = console.open()
    expect(page.locator("h1")).to_have_text("Overview")
    before = count(server, param("state", "equals", "WAITING"))
    expect(row_count(page, "Processes by state", "WAITING")).to_have_text(f"{before:,}")
    waiting(server, unique())  # made after the page was drawn: the page follows without a reload
    expect(row_count(page, "Processes by state", "WAITING")).to_have_text(f"{before + 1:,}", timeout=15000)
    node = call(server, "GET", "nodeState", 200).json()["nodeState"]
    nodes = page.get_by_role("table", name="Nodes")
    shown = "online master" if node["cluster"]["master"] else "online connected"  # master: as the node says
    row = nodes.get_by_role("row", name=re.compile(node["engineId"]))
    expect(row).to_have_accessible_name(re.compile(f"^{node['engineId']} {shown}"))
    expect(row.locator("td").last).to_have_text(re.compile(r"^\d+(\.\d)? m?s ago$"))  # beats every 200 ms here
    page.get_by_role("link", name="WAITING", exact=True).click()
    expect(page).to_have_url(re.compile(r"#/processes\?state=WAITING$"))
    expect(page.get_by_role("checkbox", name="WAITING")).to_be_checked()


def test_the_overview_lists_the_latest_failures_and_changes_the_maintenance_level(console, server):
    failed = snap(call(server, "GET", "run", 200, params={"processUri": "fail.ipd", "autoDispose": "never"}))
    page = console.open()
    expect(page.get_by_role("table", name="Latest failures")).to_contain_text(failed["executionId"])
    last_day = page.get_by_role("table", name=re.compile("^The last day"))
    expect(last_day.get_by_role("row", name=re.compile("^fail.ipd "))).to_contain_text("100.0 %")
    try:
        page.get_by_label("Level ID").fill("frozen")
        page.get_by_role("button", name="Change level").click()
        expect(page.get_by_role("status")).to_have_text("Maintenance level set to frozen")
        expect(page.locator("#current-level")).to_contain_text("frozen:")  # drawn again with it
        assert call(server, "GET", "maintenance", 200).json()["maintenanceLevel"]["id"] == "frozen"
        console.expect_refusal(404)
        page.get_by_label("Level ID").fill("no-such-level")
        page.get_by_role("button", name="Change level").click()
        expect(page.get_by_role("alert")).to_contain_text("NotFound")
        assert call(server, "GET", "maintenance", 200).json()["maintenanceLevel"]["id"] == "frozen"
    finally:
        call(server, "PUT", "maintenance", 204, data="normal", headers={"Content-Type": "text/plain"})


# -- the process list ----------------------------------------------------------------------------------
def test_the_process_list_filters_pages_and_keeps_its_filter_in_the_url(console, server):
    mine = unique()
    made = [waiting(server, mine)["executionId"] for _ in range(3)]
    page = console.open("#/processes")
    page.get_by_label("External ID (% for any run)").fill(mine)
    page.get_by_role("checkbox", name="WAITING").check()
    page.get_by_role("button", name="Find").click()
    expect(page).to_have_url(re.compile(f"externalId={mine}&state=WAITING"))
    listed = page.get_by_role("table", name="Matching processes")
    expect(listed.locator("tbody tr")).to_have_count(3)
    expect(page.locator("#page-info")).to_have_text("1–3 of 3")
    for execution_id in made:
        expect(listed).to_contain_text(execution_id)

    page.goto(f"{page.url}&limit=2")  # newest first: the first two made are on the second page
    expect(page.locator("#page-info")).to_have_text("1–2 of 3")
    expect(listed.locator("tbody tr").first).to_contain_text(made[2])
    page.get_by_role("button", name="Next page").click()
    expect(page.locator("#page-info")).to_have_text("3–3 of 3")
    expect(listed.locator("tbody tr")).to_have_count(1)
    expect(listed).to_contain_text(made[0])
    expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    page.reload()  # the filter and the page live in the URL: a shared link shows the same
    expect(page.locator("#page-info")).to_have_text("3–3 of 3")

    page.get_by_role("checkbox", name="all but these").check()  # not(state in WAITING)
    page.get_by_role("button", name="Find").click()
    expect(listed).to_contain_text("no process matches")
    expect(page.locator("#page-info")).to_have_text("0 of 0")


def test_bulk_dispose_takes_the_ended_matching_processes_after_confirming_their_count(console, server):
    mine = unique()
    ended = [snap(call(server, "GET", "run", 200, params={"processUri": "done.ipd", "externalId": mine,
                                                            "autoDispose": "never"}))["executionId"] for _ in range(2)]
    kept = waiting(server, mine)["executionId"]
    page = console.open(f"#/processes?externalId={mine}")
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Dispose the ended ones").click()
    expect(page.get_by_role("status")).to_have_text("dispose: done")
    assert asked == ["Dispose 2 processes?"]
    for execution_id in ended:
        call(server, "GET", f"processes/{execution_id}", 404, params={"peek": "true"})
    call(server, "GET", f"processes/{kept}", 200, params={"peek": "true"})
    expect(page.locator("#page-info")).to_have_text("1–1 of 1")


# -- one process ---------------------------------------------------------------------------------------
def test_a_process_page_follows_its_process_live(console, server):
    held = waiting(server, unique())
    page = console.open(f"#/process/{held['executionId']}")
    expect(page.locator(STATE)).to_have_text("WAITING")
    expect(page.get_by_role("table", name="Pipeline")).to_contain_text("x")
    # continued through the REST door by someone else: the page shows the end without a reload
    call(server, "POST", f"processes/{held['executionId']}/start", 200, params={"peek": "true"})
    expect(page.locator(STATE)).to_have_text("FINISHED", timeout=15000)
    expect(page.get_by_role("row", name=re.compile("^after "))).to_contain_text("1!")


def test_the_actions_of_a_process_page_continue_terminate_and_dispose_it(console, server):
    first, second = waiting(server, unique()), waiting(server, unique())
    page = console.open(f"#/process/{first['executionId']}")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(STATE)).to_have_text("FINISHED", timeout=15000)

    page.goto(page.url.replace(first["executionId"], second["executionId"]))
    expect(page.locator(STATE)).to_have_text("WAITING")
    page.get_by_label("Terminate as").select_option("fail")
    page.get_by_label("Message").fill("stopped from the console")
    page.get_by_role("button", name="Terminate").click()
    expect(page.locator(STATE)).to_have_text("FAILED", timeout=15000)
    expect(page.locator("#message")).to_have_text("stopped from the console")
    ended = snap(call(server, "GET", f"processes/{second['executionId']}", 200, params={"peek": "true"}))
    assert ended["state"] == "FAILED" and ended["message"] == "stopped from the console"

    page.get_by_role("button", name="Dispose").click()
    expect(page).to_have_url(re.compile("#/processes$"))
    expect(page.get_by_role("status")).to_have_text("Disposed")
    call(server, "GET", f"processes/{second['executionId']}", 404, params={"peek": "true"})


def test_a_failed_process_shows_its_exception_report_and_viewing_never_disposes(console, server):
    failed = snap(call(server, "GET", "run", 200, params={"processUri": "fail.ipd", "autoDispose": "fetch",
                                                          "peek": "true"}))
    page = console.open(f"#/process/{failed['executionId']}")
    expect(page.locator(STATE)).to_have_text("FAILED")
    expect(page.locator("#exception")).to_have_text("Broken: it broke (at root.f)")
    page.reload()
    expect(page.locator(STATE)).to_have_text("FAILED")
    # an ended `fetch` process read by the console is still there: the console peeks
    call(server, "GET", f"processes/{failed['executionId']}", 200, params={"peek": "true"})


def test_an_unknown_process_is_reported_not_drawn(console, server):
    console.expect_refusal(404)
    page = console.open("#/overview")
    page.goto(f"{page.url.split('#')[0]}#/process/no-such-execution")
    expect(page.get_by_role("alert")).to_contain_text("NotFound")


# -- accessibility -------------------------------------------------------------------------------------
AXE_RUN = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.filter((v) => ["serious", "critical"].includes(v.impact))
    .map((v) => `${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}"""


def test_no_view_has_a_serious_accessibility_violation(console, server, axe_source):
    held = waiting(server, unique())
    for fragment, heading in (("#/overview", "Overview"), ("#/processes", "Processes"),
                              (f"#/process/{held['executionId']}", "Process"), ("#/definitions", "Definitions"),
                              ("#/definition/handled-failure.ipd", "Definition"), ("#/cluster", "Cluster")):
        for width, height in ((1280, 800), (390, 844)):  # a laptop and a phone
            page = console.page
            page.set_viewport_size({"width": width, "height": height})
            console.open(fragment)
            expect(page.locator("h1")).to_contain_text(heading)
            page.evaluate(axe_source)
            assert page.evaluate(AXE_RUN) == [], (fragment, width)


def test_a_process_pipeline_shows_xml_indented_binary_to_download_and_the_standard_form(console, server):
    store = {"dataStore": {"entry": [
        {"name": "order", "type": "application/xml", "value": ['<order xmlns="urn:shop"><line no="1">tea</line></order>']},
        {"name": "blob", "type": "application/octet-stream", "value": ["aGVsbG8="]}]}}
    ran = snap(call(server, "POST", "run", 200, params={"processUri": "done.ipd", "autoDispose": "never"}, json=store))
    page = console.open(f"#/process/{ran['executionId']}")
    order = page.get_by_role("row", name=re.compile("^order ")).locator("pre")
    expect(order).to_have_text('<order xmlns="urn:shop">\n  <line no="1">tea</line>\n</order>')
    with page.expect_download() as downloaded:
        page.get_by_role("button", name="Download blob (5 bytes)").click()
    assert open(downloaded.value.path(), "rb").read() == b"hello"
    page.get_by_role("button", name="Show the standard form").click()
    standard = page.locator("pre.standard")  # the door's XML, indented
    expect(standard).to_contain_text('<pipeline xmlns="http://www.infinica.com/process-engine">')
    expect(standard).to_contain_text(re.compile(r'\n  <dat:values|\n  <values'))
    expect(standard).to_contain_text("aGVsbG8=")
    expect(page.get_by_role("button", name="Show the simple form")).to_have_attribute("aria-pressed", "true")


def test_attributes_permissions_and_the_owner_are_edited_on_the_process_page(console, server):
    held = waiting(server, unique())
    path = f"processes/{held['executionId']}"
    page = console.open(f"#/process/{held['executionId']}")
    page.get_by_label("Attribute", exact=True).fill("colour")
    page.get_by_label("Value", exact=True).fill("blue")
    page.get_by_role("button", name="Set attribute").click()
    expect(page.get_by_role("status")).to_have_text("Attribute colour set")
    expect(page.get_by_role("table", name="Attributes of the process")).to_contain_text("blue")
    assert call(server, "GET", f"{path}/attributes", 200).json()["attributes"]["attribute"] == [
        {"name": "colour", "value": "blue"}]

    page.get_by_label("User or role").fill("clerks")
    page.get_by_role("checkbox", name="read").check()
    page.get_by_role("checkbox", name="execute").check()
    page.get_by_role("button", name="Set permissions").click()
    permitted = settles(lambda: snap(call(server, "GET", path, 200, params={"peek": "true"})).get("permissions"))["ace"]
    assert [(ace["name"], sorted(ace["privilege"])) for ace in permitted] == [("clerks", ["execute", "read"])]
    expect(page.get_by_role("table", name="Permissions")).to_contain_text(", ".join(permitted[0]["privilege"]))

    page.get_by_label("Constant", exact=True).fill("limit")
    page.get_by_label("Text", exact=True).fill("5")
    page.get_by_role("button", name="Set constant").click()
    expect(page.get_by_role("status")).to_have_text("Constant limit set")
    expect(page.get_by_role("table", name="Constants of the instance").get_by_role("row", name=re.compile("^limit "))) \
        .to_contain_text("5")
    constants = call(server, "GET", f"{path}/constants", 200).json()
    assert {e["name"]: e["value"] for e in constants["dataStore"]["entry"]} == {"limit": ["5"]}

    page.get_by_label("Owner", exact=True).fill("someone")
    page.get_by_role("button", name="Hand over").click()
    expect(page.locator('[data-fact="Owner"]')).to_have_text("someone")
    assert snap(call(server, "GET", path, 200, params={"peek": "true"}))["owner"] == "someone"


@pytest.fixture(scope="module")
def limited(tmp_path_factory) -> Iterator[Server]:
    """A server whose bounded totals stop at 2 (`query.count_limit`)."""
    with sqlite_server(tmp_path_factory, "limited", "[query]\ncount_limit = 2\n") as running:
        yield running


def test_the_overview_counts_exactly_past_the_count_limit(page, limited):
    for _ in range(3):
        waiting(limited, unique())
    exact = count(limited, param("state", "equals", "WAITING"))
    assert exact >= 3
    found = call(limited, "POST", "processes/query", 200, json={"query": {**param("state", "equals", "WAITING"),
                                                                          "limit": "0"}})
    assert found.headers["X-Total-Count-Relation"] == "gte"  # the list's total alone would say "2+"
    console = Console(page, limited)
    console.open()
    expect(row_count(page, "Processes by state", "WAITING")).to_have_text(f"{exact:,}")
    assert console.unexpected_errors() == []


def test_a_process_page_lists_its_open_watchers_and_deletes_one(console, server):
    held = waiting(server, unique())
    watcher = call(server, "POST", "watchers", 200, params={"executionId": held["executionId"], "groupId": "ops",
                                                            "expectedState": "FINISHED"}).json()["processWatcher"]
    page = console.open(f"#/process/{held['executionId']}")
    watchers = page.get_by_role("table", name="Open watchers")
    expect(watchers).to_contain_text(watcher["id"])
    expect(watchers).to_contain_text("ops")
    page.get_by_role("button", name=f"Delete watcher {watcher['id'][:8]}").click()
    expect(page.get_by_role("status")).to_have_text("Watcher deleted")
    expect(page.get_by_role("table", name="Open watchers")).to_have_count(0)
    call(server, "GET", f"watchers/{watcher['id']}", 404)


def test_the_overviews_refresh_keeps_the_keyboard_where_it_was(console, server):
    page = console.open()
    page.get_by_role("link", name="FAILED", exact=True).focus()
    drawn = page.get_attribute("main", "data-drawn")
    page.wait_for_function("d => document.querySelector('main').dataset.drawn !== d", arg=drawn, timeout=15000)
    assert page.evaluate("document.activeElement.textContent") == "FAILED"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#/processes\?state=FAILED$"))


def test_bulk_offline_online_and_terminate_go_a_process_at_a_time_after_confirming(console, server):
    mine = unique()
    made = [waiting(server, mine)["executionId"] for _ in range(3)]
    ended = snap(call(server, "GET", "run", 200, params={"processUri": "done.ipd", "externalId": mine,
                                                          "autoDispose": "never"}))["executionId"]
    page = console.open(f"#/processes?externalId={mine}")
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))

    def states() -> list[tuple[str, bool]]:
        return [(s["state"], s["online"]) for s in
                (snap(call(server, "GET", f"processes/{i}", 200, params={"peek": "true"})) for i in made)]

    page.get_by_role("button", name="Set the live ones offline").click()
    expect(page.get_by_role("status")).to_have_text("set offline: 3 done")
    assert states() == [("WAITING", False)] * 3 and asked == ["Set offline 3 processes?"]
    page.get_by_role("button", name="Set the live ones online").click()
    expect(page.get_by_role("status")).to_have_text("set online: 3 done")
    assert states() == [("WAITING", True)] * 3
    page.get_by_role("button", name="Terminate the live ones").click()
    expect(page.get_by_role("status")).to_have_text("terminate: 3 done")
    assert settles(lambda: {state for state, _ in states()} == {"TERMINATED"})
    assert snap(call(server, "GET", f"processes/{made[0]}", 200, params={"peek": "true"}))["message"] == \
        "terminated by admin from the console"
    assert snap(call(server, "GET", f"processes/{ended}", 200, params={"peek": "true"}))["state"] == "FINISHED"


def test_the_filter_takes_a_time_range_of_creation_start_or_end(console, server):
    mine = unique()
    held = waiting(server, mine)["executionId"]
    ended = snap(call(server, "GET", "run", 200, params={"processUri": "done.ipd", "externalId": mine,
                                                          "autoDispose": "never"}))["executionId"]
    page = console.open(f"#/processes?externalId={mine}")
    listed = page.get_by_role("table", name="Matching processes")
    expect(listed.locator("tbody tr")).to_have_count(2)
    hour_ago = (datetime.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")  # the browser's local time
    page.get_by_label("Time of").select_option("finishedAt")
    page.get_by_label("After").fill(hour_ago)
    page.get_by_role("button", name="Find").click()
    expect(page).to_have_url(re.compile("time=finishedAt&from="))
    expect(listed.locator("tbody tr")).to_have_count(1)  # the waiting one has no end: no match
    expect(listed).to_contain_text(ended)
    page.get_by_label("Time of").select_option("createdAt")
    page.get_by_role("button", name="Find").click()
    expect(listed.locator("tbody tr")).to_have_count(2)
    expect(listed).to_contain_text(held)
    page.get_by_label("Before").fill(hour_ago)
    page.get_by_role("button", name="Find").click()
    expect(listed).to_contain_text("no process matches")
