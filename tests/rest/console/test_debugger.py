"""The diagram and the visual debugger in a real headless Chromium, on SQLite and PostgreSQL: plan a
breakpoint on a definition's diagram, start in debug mode from the parameter form, paused at that
element, step, remove the breakpoint on the instance's diagram, continue, finished — each checked
against the REST door too."""
from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from tests.support.common import write_definition
from tests.support.rest import call, snap, waiting
from tests.support.server import ROOT_PATH, unique

STATE, CURRENT = '[data-fact="State"]', '[data-fact="Current element"]'


def element(page, kind_and_id: str):
    """An element of the diagram by the name it has for assistive technology: what it shows ("assign collect items")."""
    return page.locator(f'svg.diagram g.element[aria-label^="{kind_and_id} "], svg.diagram g.element[aria-label="{kind_and_id}"]')


def outline(server, execution_id: str) -> dict:
    answer = server.session.get(f"{server.base}{ROOT_PATH}/console/api/outline",
                                params={"executionId": execution_id}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def value(page, name: str):
    return page.get_by_role("table", name="Pipeline").get_by_role("row", name=re.compile(f"^{name} ")).locator("td").nth(2)


def test_debug_a_definition_from_its_diagram_breakpoint_step_continue(console, server):
    page = console.open("#/definition/loop.ipd")
    expect(page.locator("h1")).to_have_text("Definition Loop")
    page.get_by_label("count (text/plain)").fill("3")
    mine = unique()
    page.get_by_label("External ID").fill(mine)
    page.get_by_label("Debug mode").check()
    collect = element(page, "assign collect")
    collect.click()  # planned: set before the start
    expect(element(page, "assign collect")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="Start instance").click()

    expect(page).to_have_url(re.compile("#/process/"))
    execution_id = page.url.rsplit("/", 1)[1]
    expect(page.locator(STATE)).to_have_text("PAUSED", timeout=15000)
    expect(page.locator(CURRENT)).to_have_text("root.count.collect")
    expect(element(page, "assign collect")).to_have_class(re.compile(r"\bcurrent\b.*\bbreakpoint\b"))
    expect(value(page, "i")).to_have_text("1")  # the pipeline as it stands, in debug mode
    paused = snap(call(server, "GET", f"processes/{execution_id}", 200, params={"peek": "true"}))
    assert paused["externalId"] == mine and paused["debug"] is True

    page.get_by_role("button", name="Step").click()
    expect(page.get_by_role("status")).to_have_text("Stepped to the next element")
    expect(page.locator(CURRENT)).to_have_text("root.count.next")  # the loop's next round
    expect(page.locator(STATE)).to_have_text("PAUSED")
    assert outline(server, execution_id)["breakpoints"] == ["root.count.collect"]  # the step's own are gone

    element(page, "assign collect").click()  # on the instance: removes its breakpoint
    expect(page.get_by_role("status")).to_have_text("Breakpoint removed from root.count.collect")
    assert outline(server, execution_id)["breakpoints"] == []
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(STATE)).to_have_text("FINISHED", timeout=15000)
    expect(value(page, "sum")).to_have_text("6")
    assert snap(call(server, "GET", f"processes/{execution_id}", 200, params={"peek": "true"}))["state"] == "FINISHED"


def test_a_breakpoint_set_on_a_waiting_process_pauses_it_when_it_goes_on(console, server):
    held = waiting(server, unique())  # hold.ipd: assign a, wait hold, assign b
    page = console.open(f"#/process/{held['executionId']}")
    expect(element(page, "wait hold")).to_have_class(re.compile(r"\bcurrent\b"))
    element(page, "assign b").focus()
    page.keyboard.press("Enter")  # the keyboard sets it as a click does
    expect(page.get_by_role("status")).to_have_text("Breakpoint set on root.b")
    expect(element(page, "assign b")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(STATE)).to_have_text("PAUSED", timeout=15000)
    expect(page.locator(CURRENT)).to_have_text("root.b")


def test_an_ended_process_diagram_offers_no_breakpoints(console, server):
    ended = snap(call(server, "GET", "run", 200, params={"processUri": "done.ipd", "autoDispose": "never"}))
    page = console.open(f"#/process/{ended['executionId']}")
    expect(page.locator(STATE)).to_have_text("FINISHED")
    expect(page.locator("svg.diagram").get_by_role("button")).to_have_count(0)
    expect(element(page, "endElement end")).to_have_class(re.compile(r"\bcurrent\b"))


# -- definitions and the cluster -------------------------------------------------------------------------
def test_the_definitions_list_opens_a_diagram_and_validates_an_uploaded_file(console, server):
    page = console.open("#/definitions")
    listed = page.get_by_role("table", name="Definitions in the repository")
    expect(listed).to_contain_text("Handled failure")
    listed.get_by_role("link", name="handled-failure.ipd").click()
    expect(page.locator("h1")).to_have_text("Definition Handled failure")
    expect(element(page, "scope attempt")).to_be_visible()
    expect(page.locator("svg.diagram text.block", has_text="onError")).to_have_count(1)

    page.get_by_role("link", name="Definitions").click()
    broken = b'<process xmlns="http://www.infinica.com/process-engine" version="4">\n<startElement id="s"/>\n<assign id="a"/>\n</process>'
    console.expect_refusal(400)
    page.get_by_label("File").set_input_files(files=[{"name": "broken.ipd", "mimeType": "application/xml", "buffer": broken}])
    page.get_by_role("button", name="Validate").click()
    expect(page.locator("#validation")).to_contain_text("InvalidDefinition")
    expect(page.locator("#validation")).to_contain_text("line 3, column 1")
    fine = broken.replace(b'<assign id="a"/>', b'<assign id="a" name="x">1</assign>')
    page.get_by_label("File").set_input_files(files=[{"name": "fine.ipd", "mimeType": "application/xml", "buffer": fine}])
    page.get_by_role("button", name="Validate").click()
    expect(page.locator("#validation")).to_have_text("Valid: unnamed, 2 elements, parameters: none")


def test_the_cluster_view_runs_the_checks_reads_telemetry_and_sets_the_engine_offline(console, server):
    node = call(server, "GET", "nodeState", 200).json()["nodeState"]["engineId"]
    page = console.open("#/cluster")
    expect(page.get_by_role("table", name="Nodes")).to_contain_text(node)
    page.get_by_role("button", name="Run the sanity checks").click()
    expect(page.locator("#sanity")).to_contain_text(re.compile(r"No problem found by \d+ checks|Problems"))
    page.get_by_role("button", name="Read the telemetry").click()
    expect(page.get_by_role("table", name="Telemetry")).to_contain_text("PROCESS_INSTANCE")
    try:
        page.on("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Set every node offline").click()
        expect(page.get_by_role("status")).to_have_text("Every node set offline")
        expect(page.get_by_role("table", name="Nodes").get_by_role("row", name=re.compile(node))).to_contain_text("offline")
        # (the node asked sets itself offline at once; on PostgreSQL this call may reach the server's other
        # worker, another node, which follows when the notification reaches it or at its next heartbeat)
        deadline = time.monotonic() + 10
        while call(server, "GET", "nodeState", 200).json()["nodeState"]["online"] is not False:
            assert time.monotonic() < deadline, "a node still said it was online 10 s after every node was set offline"
            time.sleep(0.1)
    finally:
        call(server, "POST", "setOnline", 204, params={"online": "true"})


def test_a_call_links_to_the_process_it_started(console, server):
    write_definition(server.log.parent / "repo", "calls-hold.ipd", '<call id="child" processUri="hold.ipd"/>')
    parent = snap(call(server, "GET", "run", 200, params={"processUri": "calls-hold.ipd", "states": "WAITING",
                                                           "externalId": unique()}))
    page = console.open(f"#/process/{parent['executionId']}")
    expect(element(page, "call child")).to_have_class(re.compile(r"\bcurrent\b"))
    called = page.get_by_role("table", name="Called processes")
    expect(called).to_contain_text("hold.ipd")
    called.get_by_role("link").first.click()
    expect(page.locator('[data-fact="Definition"]')).to_have_text("hold.ipd (version 1)")
    expect(page.locator(STATE)).to_have_text("WAITING")
