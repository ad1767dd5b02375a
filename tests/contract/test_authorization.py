"""The authorization matrix (CONTRACT §8): every operation of the spec, through REST and through SOAP, as
each kind of caller — and each answer checked.

Callers (tests/support/authorization.py):
- `anonymous`: no credentials. 401 with `WWW-Authenticate: Basic realm="process-engine"` on both doors
  (SOAP: HTTP 401 too, with a Client fault; CONTRACT §6).
- `stranger`: signed in, no grant on the instance (though sharing the owner's role).
- `other-privileges`: an ACE naming the user grants every privilege but the one needed (nor `admin`).
- `user-ace`: an ACE naming the user grants exactly the needed privilege (set by the owner).
- `role-ace`: an ACE naming a role of the user grants it (set by admin); this user also holds the
  stream role of `auth.stream_roles`.
- `owner`: started the instance, so holds every privilege on it.
- `admin`: the `admin` role (the user is not called admin): everything.

What each operation needs is written in the table (`OPERATIONS`): a privilege on the instance
(`read`, `write`, `execute`, `dispose`, `admin`), the admin role (administration, services, cluster,
diagnostics), the stream role (posting a definition stream), or only a signed-in caller. A caller
lacking it gets 403 / a Client fault whose detail is an AuthorizationException naming user,
permission and resource — and the call changed nothing (the instance's stored row, ACEs, watchers and
log, or the engine state the operation touches, are as before). A caller holding it gets an answer,
and the operation took effect (checked by the administrator afterwards). Either way, a call of an
operation that changes something is in the operation log once, by its caller, `refused` or `ok`, naming
the process it was about (a bulk call: a row on each process it changed too); a read, or an anonymous
call, is not (CONTRACT §12, `assert_logged`). `findExecutions`,
`disposeProcesses` and `recoverProcesses` apply the privilege inside the query: a caller without it
is answered, but without the instance, which stays as it was.

Doors: `rest` (HTTP Basic), `soap` (zeep on the served WSDL, HTTP Basic) and, for a few rows (`token`),
`soap-wsse` (a WS-Security UsernameToken instead). A test ID names row, caller and door, e.g.
`test_authorization[sqlite-setAttribute-user-ace-soap]`.

Every case works on a fresh instance of the owner's. A LOST instance (for the recover operations) is
made by writing health LOST into the database, as a node's death leaves it: killing a node per case
would cost seconds and prove nothing more about authorization. The whole table runs on SQLite; the
rows about instances run again on PostgreSQL (`test_authorization_on_postgres`). After the table:
grants that change (revoked ACEs, a new owner, a watcher's creator), idempotency keys, and requests
off the operations, which must answer a stranger nothing but the challenge either.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from engine.security.authentication import hash_password
from tests.support.authorization import (ADMIN, ANONYMOUS, BROKER, CALLERS, CHALLENGE, OTHERS, OWNER, ROLE_ACE,
                                         STREAM_ROLES, TASKS, USER_ACE, Caller, Database, Outcome, Rest, Soap, entries,
                                         query_xml, settings_toml, unique, NAMED_ADMIN)
from tests.support.common import param, where
from tests.support.namespaces import DAT, PE, pe
from tests.support.server import Server, start_server
from tests.support.soap import query, store, store_xml

# What an operation needs: a privilege on the instance, or one of these.
PRIVILEGES = ("read", "write", "execute", "dispose", "admin")
ADMIN_ROLE, STREAM_ROLE, SIGNED_IN = "admin role", "stream role", "signed in"
TEXT = "text/plain"
XML = "application/xml"
STREAMED = (b'<process xmlns="http://www.infinica.com/process-engine" version="4" name="Streamed">'
            b'<startElement id="start"/><wait id="hold"/><endElement id="end"/></process>')


@dataclass
class Subject:
    """What a case works on: a fresh instance of the owner's (when the operation is about one), and a
    fresh external ID (to find what the case created)."""

    external_id: str
    execution_id: str = ""
    watcher_id: str = ""


@dataclass
class Case:
    """One call's circumstances, handed to the table's checks; `admin` and `db` look from outside."""

    caller: Caller
    subject: Subject
    admin: Rest
    owner: Rest
    db: Database
    answer: Outcome | None = None

    @property
    def eid(self) -> str:
        return self.subject.execution_id

    def snapshot(self) -> Any:
        """The instance as admin sees it now (pipeline included, never disposing it); None if gone."""
        found = self.admin("GET", f"processes/{self.eid}", params={"peek": "true", "inspectPipeline": "true"})
        assert found.ok or found.status == 404, found
        return found.value if found.ok else None

    def row(self) -> dict[str, Any]:
        return self.db.instance(self.eid)

    def node(self) -> Any:
        return self.admin.must("GET", "nodeState")


RestCall = Callable[[Rest, Subject], Outcome]
SoapCall = Callable[[Soap, Subject], Outcome]
Check = Callable[[Case], Any]


@dataclass(frozen=True)
class Op:
    """One row: an operation (or a variant of one), how each door calls it, what it needs, what an
    allowed call must have done, and what a refused one must have left alone."""

    name: str                          # the spec's operation name (SOAP's)
    needs: tuple[str, ...]             # in the order the service checks them
    rest: RestCall
    soap: SoapCall | None              # None: a REST-only variant of an operation
    effect: Check                      # true after an allowed call (the answer is in `case.answer`)
    subject: str | None = "waiting"    # waiting | created | lost | None (no instance)
    variant: str = ""
    filtered: bool = False             # the privilege applies inside a query
    refuses_visible: bool = False      # filtered, but a process the caller may read is refused, not left out
    left_out: Check | None = None      # filtered: true for the answer of a caller without the privilege
    prepare: Check | None = None       # more set-up, by owner or admin
    observe: Check | None = None       # what a refused call must not change (default: the instance)
    cleanup: Check | None = None       # put the engine back after the case, whoever called
    token: bool = False                # also played over SOAP with a WS-Security UsernameToken
    resource: str = "processInstance"  # what a refusal names: the instance, or the watcher it is about

    @property
    def id(self) -> str:
        return f"{self.name}:{self.variant}" if self.variant else self.name


# -- small readers of answers ---------------------------------------------------------------------------
def snapshot_of(case: Case) -> Any:
    value = case.answer.value
    return value if value is not None and value.tag == pe("processExecutionSnapshot") else None


def answers_subject(case: Case) -> bool:
    found = snapshot_of(case)
    return found is not None and found.get("executionId") == case.eid


def listed_ids(case: Case) -> list[str]:
    """The execution IDs of an `executionIds` or `processExecutionSnapshots` answer."""
    value = case.answer.value
    if value.tag == pe("executionIds"):
        return [item.text for item in value.findall(pe("executionId"))]
    assert value.tag == pe("processExecutionSnapshots"), value.tag
    return [item.get("executionId") for item in value.findall(pe("processExecutionSnapshot"))]


def count_of(case: Case) -> int:
    return int(case.answer.value.get("count"))


def one_new_instance(case: Case, state: str) -> bool:
    """The case's external ID names exactly one instance, the caller's, in `state`."""
    mine = case.db.live_with(case.subject.external_id)
    answered = snapshot_of(case)
    return (len(mine) == 1 and mine[0]["owner"] == case.caller.user and mine[0]["state"] == state
            and answered is not None and answered.get("owner") == case.caller.user)


def health(case: Case) -> str | None:
    found = case.snapshot()
    return None if found is None else found.find(pe("health")).get("state")


def acl(case: Case) -> dict[str, set[str]]:
    permissions = case.snapshot().find(pe("permissions"))
    return {} if permissions is None else {
        ace.get("name"): {p.text for p in ace.findall(pe("privilege"))} for ace in permissions.findall(pe("ace"))}


def attributes_answer(case: Case) -> dict[str, str]:
    return {a.get("name"): a.text for a in case.answer.value.findall(pe("attribute"))}


def engine_state(case: Case) -> tuple:
    """What the administration operations could change: online flag, cluster connection, maintenance level."""
    node = case.node()
    level = case.admin.must("GET", "maintenance")
    return node.get("online"), node.find(pe("cluster")).get("connectionStatus"), level.get("id")


def service_state(case: Case) -> tuple:
    return engine_state(case), case.db.rows("SELECT * FROM service_instances")


def new_instances(case: Case) -> list:
    return case.db.live_with(case.subject.external_id)


def nothing(case: Case) -> None:
    return None


def is_tag(local: str, namespace: str = PE) -> Check:
    return lambda case: case.answer.value is not None and case.answer.value.tag == f"{{{namespace}}}{local}"


# -- set-up steps -------------------------------------------------------------------------------------
def owner_sets_attribute(case: Case) -> None:
    case.owner.must("PUT", f"processes/{case.eid}/attributes/color", data="red", content_type=TEXT)


def owner_sets_constants(case: Case) -> None:
    case.owner.must("POST", f"processes/{case.eid}/constants", data=store_xml(limit="7"), content_type=XML)


def admin_watches(case: Case) -> None:
    watcher = case.admin.must("POST", "watchers", params={"executionId": case.eid, "expectedState": "FINISHED"})
    case.subject.watcher_id = watcher.get("id")


def admin_sets_breakpoint(case: Case) -> None:
    case.admin.must("POST", f"processes/{case.eid}/breakpoints/root.b", params={"timeout": "0"})


def admin_disconnects(case: Case) -> None:
    case.admin.must("POST", "cluster/disconnect", params={"timeout": "0"})


def admin_connects(case: Case) -> None:
    if case.node().find(pe("cluster")).get("connectionStatus") != "connected":
        case.admin.must("POST", "cluster/connect", params={"timeout": "5000"})


def admin_sets_online(case: Case) -> None:
    if case.node().get("online") != "true":
        case.admin.must("POST", "setOnline", params={"online": "true", "param": "self"})


def admin_sets_normal(case: Case) -> None:
    if case.admin.must("GET", "maintenance").get("id") != "normal":
        case.admin.must("PUT", "maintenance", data="normal", content_type=TEXT)


def form(**fields: Any) -> dict[str, tuple]:
    return {name: (name + ".ipd", value, XML) if isinstance(value, bytes) else (None, value)
            for name, value in fields.items()}


# -- the table ----------------------------------------------------------------------------------------
def instance(name: str, privilege: str, rest: RestCall, soap: SoapCall | None, effect: Check, **more: Any) -> Op:
    return Op(name, (privilege,), rest, soap, effect, **more)


def administration(name: str, rest: RestCall, soap: SoapCall, effect: Check, **more: Any) -> Op:
    more.setdefault("observe", engine_state)
    return Op(name, (ADMIN_ROLE,), rest, soap, effect, subject=None, **more)


OPERATIONS: tuple[Op, ...] = (
    # -- Lifecycle Management ----------------------------------------------------------------------------
    instance("disposeProcess", "dispose",
             lambda r, s: r("DELETE", f"processes/{s.execution_id}"),
             lambda x, s: x("disposeProcess", executionId=s.execution_id),
             lambda c: answers_subject(c) and c.snapshot() is None),
    instance("disposeProcesses", "dispose",
             lambda r, s: r("DELETE", "processes", params={"reportExecutionIds": "true"},
                            data=query_xml(s.external_id), content_type=XML),
             lambda x, s: x("disposeProcesses", query=query(s.external_id), reportExecutionIds=True),
             lambda c: listed_ids(c) == [c.eid] and count_of(c) == 1 and c.snapshot() is None,
             filtered=True, refuses_visible=True, left_out=lambda c: count_of(c) == 0 and listed_ids(c) == [],
             token=True),
    instance("disposeProcesses", "dispose",
             lambda r, s: r("POST", "processes/dispose", params={"reportExecutionIds": "true"},
                            data=query_xml(s.external_id), content_type=XML),
             None,
             lambda c: listed_ids(c) == [c.eid] and c.snapshot() is None,
             variant="post-alias", filtered=True, refuses_visible=True, left_out=lambda c: count_of(c) == 0),
    Op("instantiate", (SIGNED_IN,),
       lambda r, s: r("POST", "processes", files=form(processUri="hold.ipd", externalId=s.external_id,
                                                      autoDispose="never")),
       lambda x, s: x("instantiate", processUri="hold.ipd", externalId=s.external_id, autoDispose="never"),
       lambda c: one_new_instance(c, "CREATED"), subject=None, observe=new_instances),
    Op("instantiate", (STREAM_ROLE,),
       lambda r, s: r("POST", "processes", files=form(processUri="streamed.ipd", externalId=s.external_id,
                                                      autoDispose="never", process=STREAMED)),
       lambda x, s: x("instantiate", processUri="streamed.ipd", externalId=s.external_id, autoDispose="never",
                      process=STREAMED),
       lambda c: one_new_instance(c, "CREATED") and new_instances(c)[0]["definition_name"] == "Streamed",
       variant="stream", subject=None, observe=new_instances, token=True),
    instance("reload", "execute",
             lambda r, s: r("POST", f"processes/{s.execution_id}/reload", params={"processUri": "done.ipd"}),
             lambda x, s: x("reload", executionId=s.execution_id, processUri="done.ipd"),
             lambda c: answers_subject(c) and c.snapshot().find(pe("definitionInfo")).get("uri") == "done.ipd",
             subject="created"),
    Op("reload", ("execute", STREAM_ROLE),
       lambda r, s: r("POST", f"processes/{s.execution_id}/reload", files=form(process=STREAMED)),
       lambda x, s: x("reload", executionId=s.execution_id, process=STREAMED),
       lambda c: answers_subject(c) and c.row()["definition_name"] == "Streamed",
       variant="stream", subject="created"),
    instance("recoverProcess", "execute",
             lambda r, s: r("POST", f"processes/{s.execution_id}/recover"),
             lambda x, s: x("recoverProcess", executionId=s.execution_id),
             lambda c: answers_subject(c) and health(c) == "OK", subject="lost"),
    instance("recoverProcesses", "execute",
             lambda r, s: r("POST", "recover", params={"reportExecutionIds": "true"}, data=query_xml(s.external_id),
                            content_type=XML),
             lambda x, s: x("recoverProcesses", query=query(s.external_id), reportExecutionIds=True),
             lambda c: listed_ids(c) == [c.eid] and health(c) == "OK",
             subject="lost", filtered=True, refuses_visible=True,
             left_out=lambda c: count_of(c) == 0 and listed_ids(c) == []),
    Op("run", (SIGNED_IN,),
       lambda r, s: r("POST", "run", params={"processUri": "echo.ipd", "externalId": s.external_id,
                                             "autoDispose": "never"}, data=store_xml(**{"in": "x"}), content_type=XML),
       lambda x, s: x("run", processUri="echo.ipd", externalId=s.external_id, autoDispose="never",
                      processParams=store(**{"in": "x"})),
       lambda c: one_new_instance(c, "FINISHED") and entries(snapshot_of(c).find(pe("pipeline")))["out"] == ["echo x"],
       subject=None, observe=new_instances, token=True),
    Op("run", (SIGNED_IN,),
       lambda r, s: r("GET", "run", params={"processUri": "echo.ipd", "externalId": s.external_id,
                                            "autoDispose": "never", "in.in": "y"}),
       None,
       lambda c: one_new_instance(c, "FINISHED") and entries(snapshot_of(c).find(pe("pipeline")))["out"] == ["echo y"],
       variant="get", subject=None, observe=new_instances),
    instance("setAttribute", "write",
             lambda r, s: r("PUT", f"processes/{s.execution_id}/attributes/color", data="blue", content_type=TEXT),
             lambda x, s: x("setAttribute", executionId=s.execution_id, name="color", value="blue"),
             lambda c: c.answer.value is None and '"color":"blue"' in c.row()["attributes"].replace(" ", ""),
             token=True),
    instance("setBreakpoint", "write",
             lambda r, s: r("POST", f"processes/{s.execution_id}/breakpoints/root.b", params={"timeout": "0"}),
             lambda x, s: x("setBreakpoint", executionId=s.execution_id, elementId="root.b", timeout=0),
             lambda c: answers_subject(c) and "root.b" in c.row()["breakpoints"]),
    instance("setBreakpoint", "write",
             lambda r, s: r("DELETE", f"processes/{s.execution_id}/breakpoints/root.b", params={"timeout": "0"}),
             lambda x, s: x("setBreakpoint", executionId=s.execution_id, elementId="root.b", remove=True, timeout=0),
             lambda c: answers_subject(c) and "root.b" not in c.row()["breakpoints"],
             variant="remove", prepare=admin_sets_breakpoint),
    instance("setInstanceConstants", "write",
             lambda r, s: r("POST", f"processes/{s.execution_id}/constants", data=store_xml(limit="9"),
                            content_type=XML),
             lambda x, s: x("setInstanceConstants", executionId=s.execution_id, constants=store(limit="9")),
             lambda c: answers_subject(c) and entries(c.admin.must("GET", f"processes/{c.eid}/constants")) == {
                 "limit": ["9"]}),
    instance("setLogSettings", "write",
             lambda r, s: r("POST", f"processes/{s.execution_id}/logSettings", params={"diagnosticLevel": "debug"}),
             lambda x, s: x("setLogSettings", executionId=s.execution_id, diagnosticLevel="debug"),
             lambda c: answers_subject(c) and '"diagnosticLevel":"debug"' in c.row()["log_settings"].replace(" ", "")),
    instance("setOnline", "write",
             lambda r, s: r("PUT", f"processes/{s.execution_id}/online", data="false", content_type=TEXT),
             lambda x, s: x("setOnline", executionId=s.execution_id, online=False),
             lambda c: answers_subject(c) and c.snapshot().get("online") == "false"),
    instance("setOwner", "admin",
             lambda r, s: r("PUT", f"processes/{s.execution_id}/owner", data="oscar", content_type=TEXT),
             lambda x, s: x("setOwner", executionId=s.execution_id, owner="oscar"),
             lambda c: answers_subject(c) and c.snapshot().get("owner") == "oscar"),
    instance("setPermissions", "admin",
             lambda r, s: r("PUT", f"processes/{s.execution_id}/permissions/guests", data="read", content_type=TEXT),
             lambda x, s: x("setPermissions", executionId=s.execution_id, name="guests", privileges=["read"]),
             lambda c: answers_subject(c) and acl(c).get("guests") == {"read"}),
    instance("startProcess", "execute",
             lambda r, s: r("POST", f"processes/{s.execution_id}/start"),
             lambda x, s: x("startProcess", executionId=s.execution_id),
             lambda c: answers_subject(c) and c.snapshot().get("state") == "FINISHED"),
    instance("terminateProcess", "execute",
             lambda r, s: r("POST", f"processes/{s.execution_id}/terminate"),
             lambda x, s: x("terminateProcess", executionId=s.execution_id),
             lambda c: answers_subject(c) and c.snapshot().get("state") == "TERMINATED", token=True),
    instance("updateCredentials", "execute",
             lambda r, s: r("POST", f"processes/{s.execution_id}/updateCredentials"),
             lambda x, s: x("updateCredentials", executionId=s.execution_id),
             lambda c: answers_subject(c) and c.snapshot().get("currentUser") == c.caller.user),
    # -- Process State Queries ---------------------------------------------------------------------------
    instance("getAttributes", "read",
             lambda r, s: r("GET", f"processes/{s.execution_id}/attributes"),
             lambda x, s: x("getAttributes", executionId=s.execution_id),
             lambda c: attributes_answer(c) == {"color": "red"}, prepare=owner_sets_attribute),
    instance("getInstanceConstants", "read",
             lambda r, s: r("GET", f"processes/{s.execution_id}/constants"),
             lambda x, s: x("getInstanceConstants", executionId=s.execution_id),
             lambda c: entries(c.answer.value) == {"limit": ["7"]}, prepare=owner_sets_constants),
    instance("getProcessSnapshot", "read",
             lambda r, s: r("GET", f"processes/{s.execution_id}"),
             lambda x, s: x("getProcessSnapshot", executionId=s.execution_id),
             answers_subject, token=True),
    instance("findExecutions", "read",
             lambda r, s: r("POST", "processes/query", data=query_xml(s.external_id), content_type=XML),
             lambda x, s: x("findExecutions", query=query(s.external_id)),
             lambda c: listed_ids(c) == [c.eid] and c.answer.total == 1,
             filtered=True, left_out=lambda c: listed_ids(c) == [] and c.answer.total == 0, token=True),
    Op("validate", (SIGNED_IN,),
       lambda r, s: r("POST", "validate", params={"processUri": "hold.ipd"}),
       lambda x, s: x("validate", processUri="hold.ipd"),
       is_tag("processValidationResult"), subject=None, observe=nothing),
    Op("validate", (STREAM_ROLE,),
       lambda r, s: r("POST", "validate", params={"processUri": "streamed.ipd"}, files=form(process=STREAMED)),
       lambda x, s: x("validate", processUri="streamed.ipd", process=STREAMED),
       lambda c: is_tag("processValidationResult")(c) and c.answer.value.get("name") == "Streamed",
       variant="stream", subject=None, observe=nothing),
    instance("waitForProcess", "read",
             lambda r, s: r("GET", f"processes/{s.execution_id}/wait", params={"timeout": "0"}),
             lambda x, s: x("waitForProcess", executionId=s.execution_id, timeout=0),
             answers_subject),
    # -- Process Watchers --------------------------------------------------------------------------------
    instance("createWatcher", "read",
             lambda r, s: r("POST", "watchers", params={"executionId": s.execution_id, "expectedState": "FINISHED"}),
             lambda x, s: x("createWatcher", executionId=s.execution_id, expectedState=["FINISHED"]),
             lambda c: (is_tag("processWatcher")(c) and c.answer.value.get("executionId") == c.eid
                        and [w["id"] for w in c.db.watchers(c.eid)] == [c.answer.value.get("id")])),
    instance("getWatcher", "read",
             lambda r, s: r("GET", f"watcher/{s.watcher_id}"),
             lambda x, s: x("getWatcher", watcherId=s.watcher_id),
             lambda c: is_tag("processWatcher")(c) and c.answer.value.get("id") == c.subject.watcher_id,
             prepare=admin_watches, resource="processWatcher"),
    instance("deleteWatcher", "read",
             lambda r, s: r("DELETE", f"watcher/{s.watcher_id}"),
             lambda x, s: x("deleteWatcher", watcherId=s.watcher_id),
             lambda c: c.answer.value == "true" and c.db.watchers(c.eid) == [], prepare=admin_watches,
             resource="processWatcher"),
    # -- Administration ----------------------------------------------------------------------------------
    administration("clearCache", lambda r, s: r("POST", "clearCache"), lambda x, s: x("clearCache"),
                   lambda c: c.answer.value is None),
    administration("getBrokerUri", lambda r, s: r("GET", "brokerUrl"), lambda x, s: x("getBrokerUri"),
                   lambda c: c.answer.value == BROKER),
    administration("getConstants", lambda r, s: r("GET", "constants"), lambda x, s: x("getConstants"),
                   is_tag("dataStore", DAT)),
    administration("getFeatures", lambda r, s: r("GET", "features"), lambda x, s: x("getFeatures"),
                   is_tag("features")),
    administration("getMaintenanceLevel", lambda r, s: r("GET", "maintenance"), lambda x, s: x("getMaintenanceLevel"),
                   lambda c: is_tag("maintenanceLevel")(c) and c.answer.value.get("id") == "normal"),
    administration("getModules", lambda r, s: r("GET", "modules"), lambda x, s: x("getModules"),
                   is_tag("modules")),
    administration("getNodeState", lambda r, s: r("GET", "nodeState"), lambda x, s: x("getNodeState"),
                   is_tag("nodeState")),
    administration("getNodeStates", lambda r, s: r("GET", "nodeStates"), lambda x, s: x("getNodeStates"),
                   is_tag("nodeStates")),
    administration("getTaskManagerUrl", lambda r, s: r("GET", "taskManagerUrl"), lambda x, s: x("getTaskManagerUrl"),
                   lambda c: c.answer.value == TASKS),
    administration("listProcessDefinitions", lambda r, s: r("GET", "processDefinitions"),
                   lambda x, s: x("listProcessDefinitions"),
                   lambda c: "hold.ipd" in [d.get("uri") for d in c.answer.value.iter(pe("processDefinition"))]),
    administration("setEngineOnline",
                   lambda r, s: r("POST", "setOnline", params={"online": "false", "param": "self"}),
                   lambda x, s: x("setEngineOnline", online=False, param="self"),
                   lambda c: c.node().get("online") == "false", cleanup=admin_sets_online),
    administration("setMaintenanceLevel",
                   lambda r, s: r("PUT", "maintenance", data="frozen", content_type=TEXT),
                   lambda x, s: x("setMaintenanceLevel", levelId="frozen"),
                   lambda c: c.admin.must("GET", "maintenance").get("id") == "frozen", cleanup=admin_sets_normal),
    administration("uncacheProcesses", lambda r, s: r("POST", "uncacheProcesses", params={"states": "FINISHED"}),
                   lambda x, s: x("uncacheProcesses", states=["FINISHED"]), lambda c: c.answer.value is None),
    administration("version", lambda r, s: r("GET", "version"), lambda x, s: x("version"),
                   lambda c: bool(c.answer.value and c.answer.value.strip()), token=True),
    administration("waitForNoRunningProcesses",
                   lambda r, s: r("GET", "waitForNoRunningProcesses", params={"timeout": "0"}),
                   lambda x, s: x("waitForNoRunningProcesses", timeout=0),
                   lambda c: c.answer.value.strip().isdigit()),
    # -- Service Management ------------------------------------------------------------------------------
    administration("listServices", lambda r, s: r("GET", "services"), lambda x, s: x("listServices"),
                   lambda c: "report" in [e.get("id") for e in c.answer.value.iter(pe("service"))]),
    administration("getServiceSnapshot",
                   lambda r, s: r("GET", "services/report", params={"peek": "true"}),
                   lambda x, s: x("getServiceSnapshot", serviceId="report", peek=True),
                   lambda c: c.answer.value is None or is_tag("processExecutionSnapshot")(c), observe=service_state),
    administration("startService",
                   lambda r, s: r("POST", "services/report/start", params={"peek": "true"}),
                   lambda x, s: x("startService", serviceId="report", peek=True),
                   lambda c: is_tag("processExecutionSnapshot")(c) and len(c.db.rows("SELECT * FROM service_instances")),
                   observe=service_state),
    # -- Cluster Control ---------------------------------------------------------------------------------
    administration("clusterConnect",
                   lambda r, s: r("POST", "cluster/connect", params={"timeout": "5000"}),
                   lambda x, s: x("clusterConnect", timeout=5000),
                   lambda c: c.node().find(pe("cluster")).get("connectionStatus") == "connected",
                   prepare=admin_disconnects, cleanup=admin_connects),
    administration("clusterDisconnect",
                   lambda r, s: r("POST", "cluster/disconnect", params={"timeout": "0"}),
                   lambda x, s: x("clusterDisconnect", timeout=0),
                   lambda c: c.node().find(pe("cluster")).get("connectionStatus") == "disconnected",
                   cleanup=admin_connects),
    # -- Diagnostic Operations ---------------------------------------------------------------------------
    administration("checkSanity", lambda r, s: r("GET", "diagnostic/sanity"), lambda x, s: x("checkSanity"),
                   is_tag("sanityReport")),
    administration("getTelemetryData", lambda r, s: r("GET", "diagnostic/telemetry"),
                   lambda x, s: x("getTelemetryData"), is_tag("telemetryData")),
    administration("garbageCollect", lambda r, s: r("GET", "diagnostic/garbageCollect", params={"timeout": "0"}),
                   lambda x, s: x("garbageCollect", timeout=0), lambda c: c.answer.value is None),
)


# -- what the operation log must show (CONTRACT §12) ---------------------------------------------------
# The spec's operations that change something: each call of one through either door, allowed or refused,
# is a row of the operation log, with its caller, its outcome and what it acted on. Written out here
# from the spec, not read from the engine, so that an operation the engine forgets to log fails.
STATE_CHANGING = frozenset({
    "disposeProcess", "disposeProcesses", "instantiate", "reload", "recoverProcess", "recoverProcesses", "run",
    "setAttribute", "setBreakpoint", "setInstanceConstants", "setLogSettings", "setOnline", "setOwner",
    "setPermissions", "startProcess", "terminateProcess", "updateCredentials", "createWatcher", "deleteWatcher",
    "clearCache", "setEngineOnline", "setMaintenanceLevel", "uncacheProcesses", "startService", "clusterConnect",
    "clusterDisconnect", "garbageCollect"})
BULK = frozenset({"disposeProcesses", "recoverProcesses"})  # a row for the call, and one on each process changed


def logged(case: Case, op: Op) -> list[dict[str, Any]]:
    """The operation log's rows of `op`'s operation by the case's caller (by anyone, for the anonymous),
    oldest first, as the administrator reads them."""
    params = [param("operation", "equals", op.name)]
    if case.caller.user:
        params.append(param("user", "equals", case.caller.user))
    answer = case.admin.session.post(case.admin.server.url("history/operations/query"), timeout=60,
                                     headers={"Accept": "application/json"}, json=where(*params, limit=1000))
    assert answer.status_code == 200, answer.text
    return answer.json()["operations"]["operation"]


def assert_logged(case: Case, op: Op, before: list[dict[str, Any]], outcome: str | None, acted: bool = False) -> None:
    """The call is in the log once with `outcome` (None: not at all, a read or an anonymous call), naming
    the case's process; a bulk call that `acted` on it has a row on it too."""
    rows = logged(case, op)
    assert rows[:len(before)] == before, f"{op.id}: the log's earlier rows changed"
    new = rows[len(before):]
    if outcome is None:
        assert new == [], f"{op.id} by {case.caller.label} logged, but changes nothing or was no one's: {new}"
        return
    assert new, f"{op.id} by {case.caller.label} ({outcome}) is not in the operation log"
    assert {row["outcome"] for row in new} == {outcome}, new
    assert case.caller.password not in repr(new), "a password in the operation log"
    call, *each = new
    if op.name in BULK:
        assert call["targetKind"] == "executions" and "target" not in call, call
        assert [(row["targetKind"], row.get("target")) for row in each] == ([("execution", case.eid)] if acted
                                                                            else []), each
        return
    assert each == [], f"{op.id}: one call, one row: {new}"
    if op.subject is not None and op.resource == "processInstance":
        assert (call["targetKind"], call.get("target")) == ("execution", case.eid), call


# -- who holds what -----------------------------------------------------------------------------------
def holds(caller: Caller, need: str) -> bool:
    """Whether `caller` meets `need` on a fresh instance of the owner's, granted as `grant` does."""
    if caller.user is None:
        return False
    if caller.is_admin or need == SIGNED_IN:
        return True
    if need == ADMIN_ROLE:
        return False
    if need == STREAM_ROLE:
        return bool(set(caller.roles) & set(STREAM_ROLES))
    return caller in (OWNER, USER_ACE, ROLE_ACE)


def reads(caller: Caller, op: Op) -> bool:
    """Whether `caller` may read the case's instance: the ACE of other privileges grants read, unless read is
    what the op needs."""
    return holds(caller, "read") or (caller is OTHERS and "read" not in op.needs)


def grant(case: Case, op: Op) -> None:
    """The ACE that makes the caller what it is, on the case's instance, for the op's privilege."""
    privilege = next((n for n in op.needs if n in PRIVILEGES), None)
    if privilege is None:
        return
    if case.caller is USER_ACE:
        ace = (case.owner, USER_ACE.user, [privilege])
    elif case.caller is ROLE_ACE:
        ace = (case.admin, "auditors", [privilege])
    elif case.caller is OTHERS:
        ace = (case.owner, OTHERS.user, [p for p in PRIVILEGES if p not in (privilege, "admin")])
    else:
        return
    by, name, privileges = ace
    by.must("PUT", f"processes/{case.eid}/permissions/{name}", data=",".join(privileges), content_type=TEXT)


def refusal(case: Case, op: Op, need: str) -> tuple[str, str, str, str]:
    """(userId, permissionName, resourceName, resourceId) of the AuthorizationException for `need`."""
    if need in PRIVILEGES and op.resource == "processWatcher":
        return case.caller.user, need, op.resource, case.subject.watcher_id
    if need in PRIVILEGES:
        return case.caller.user, need, op.resource, case.eid
    if need == ADMIN_ROLE:
        return case.caller.user, "admin", "operation", op.name
    return case.caller.user, "postDefinitionStream", "operation", "process"


# -- the server and the clients -----------------------------------------------------------------------
@dataclass
class World:
    server: Server
    db: Database
    rest: dict[str, Rest] = field(default_factory=dict)
    soap: dict[tuple[str, bool], Soap] = field(default_factory=dict)

    def rest_as(self, caller: Caller) -> Rest:
        if caller.label not in self.rest:
            self.rest[caller.label] = Rest(self.server, caller)
        return self.rest[caller.label]

    def soap_as(self, caller: Caller, token: bool) -> Soap:
        if (caller.label, token) not in self.soap:
            self.soap[caller.label, token] = Soap(self.server, caller, token)
        return self.soap[caller.label, token]


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A secured server on SQLite, or (param "postgres") on PostgreSQL."""
    folder: Path = tmp_path_factory.mktemp("authorization")
    backend = getattr(request, "param", "sqlite")
    url = f"sqlite:///{folder / 'engine.db'}" if backend == "sqlite" else request.getfixturevalue("pg_schemas")()
    server = start_server(folder, url, settings_toml(hash_password))
    db = Database(url)
    yield World(server, db)
    server.stop()
    db.close()


def make_subject(world: World, op: Op) -> Subject:
    subject = Subject(unique())
    owner = world.rest_as(OWNER)
    if op.subject in ("waiting", "lost"):
        held = owner.must("GET", "run", params={"processUri": "hold.ipd", "states": "WAITING", "timeout": "10000",
                                                "externalId": subject.external_id, "autoDispose": "never"})
        assert held.get("state") == "WAITING"
        subject.execution_id = held.get("executionId")
        if op.subject == "lost":
            world.db.mark_lost(subject.execution_id)
    elif op.subject == "created":
        created = owner.must("POST", "processes", files=form(processUri="hold.ipd", externalId=subject.external_id,
                                                             autoDispose="never"))
        subject.execution_id = created.get("executionId")
    return subject


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def cases(rows: tuple[Op, ...] = OPERATIONS) -> list[Any]:
    """Every row through each of its doors as every caller."""
    found = []
    for op in rows:
        doors = ["rest"] + (["soap"] if op.soap else []) + (["soap-wsse"] if op.token and op.soap else [])
        found += [pytest.param(op, caller, door, id=f"{op.id}-{caller.label}-{door}")
                  for door in doors for caller in CALLERS]
    return found


# -- the test -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("op, caller, door", cases())
@pytest.mark.parametrize("world", ["sqlite"], indirect=True)
def test_authorization(world: World, op: Op, caller: Caller, door: str) -> None:
    check(world, op, caller, door)


@pytest.mark.postgres
@pytest.mark.parametrize("op, caller, door", cases(tuple(op for op in OPERATIONS if ADMIN_ROLE not in op.needs)))
@pytest.mark.parametrize("world", ["postgres"], indirect=True)
def test_authorization_on_postgres(world: World, op: Op, caller: Caller, door: str) -> None:
    """The rows about instances again on PostgreSQL, whose SQL the privileges compile into too (the
    admin role's checks are no database's, and its node-specific calls would meet either of its two
    gunicorn workers)."""
    check(world, op, caller, door)


def check(world: World, op: Op, caller: Caller, door: str) -> None:
    case = Case(caller, make_subject(world, op), world.rest_as(ADMIN), world.rest_as(OWNER), world.db)
    grant(case, op)
    if op.prepare:
        op.prepare(case)
    observe = op.observe or (lambda c: c.db.fingerprint(c.eid))
    before, calls = observe(case), logged(case, op)
    changes = op.name in STATE_CHANGING
    if door == "rest":
        case.answer = op.rest(world.rest_as(caller), case.subject)
    else:
        case.answer = op.soap(world.soap_as(caller, door == "soap-wsse"), case.subject)
    answer = case.answer
    unmet = [need for need in op.needs if not holds(caller, need)]
    try:
        if caller is ANONYMOUS:
            assert_unauthenticated(answer)
            assert_logged(case, op, calls, None)
        elif unmet and (not op.filtered or (op.refuses_visible and reads(caller, op))):
            # CONTRACT §10: dispose/recover refuse a selected process the caller may not act on; one the
            # caller may not even read is never selected
            assert_refused(answer, [refusal(case, op, need) for need in unmet])
            assert_logged(case, op, calls, "refused" if changes else None)
        else:
            assert answer.ok, f"{caller.label} may call {op.id}: {answer!r}"
            assert_logged(case, op, calls, "ok" if changes else None, acted=not unmet)
            if unmet:  # the query left the instance out
                assert op.left_out(case), f"{op.id} as {caller.label} should leave the instance out: {answer!r}"
            else:
                assert op.effect(case), f"{op.id} as {caller.label} answered, but did not take effect: {answer!r}"
                return
        assert observe(case) == before, f"a refused {op.id} changed something"
    finally:
        if op.cleanup:
            op.cleanup(case)


def assert_unauthenticated(answer: Outcome) -> None:
    assert answer.status == 401, f"no credentials must be a 401: {answer!r}"
    assert answer.challenge == CHALLENGE, answer
    assert answer.error is not None and answer.error.get("type") == "Unauthenticated", answer
    if answer.door != "rest":
        assert answer.fault_code == "Client", answer


def assert_refused(answer: Outcome, expected: list[tuple[str, str, str, str]]) -> None:
    if answer.door == "rest":
        assert answer.status == 403, f"expected 403 AuthorizationException: {answer!r}"
    else:
        assert (answer.status, answer.fault_code) == (500, "Client"), f"expected a Client fault: {answer!r}"
    error = answer.error
    assert error is not None and error.get("type") == "AuthorizationException", answer
    said = (error.get("userId"), error.get("permissionName"), error.get("resourceName"), error.get("resourceId"))
    assert said in expected, f"{said} is none of {expected}"


def test_the_matrix_plays_every_state_changing_operation() -> None:
    """So that the operation log is checked for each (`assert_logged`)."""
    assert STATE_CHANGING - {op.name for op in OPERATIONS} == set()


# -- beyond the matrix: grants that change ----------------------------------------------------------------
ROWS = {op.id: op for op in OPERATIONS}
DOORS = ["rest", "soap"]
ON_BOTH = pytest.mark.parametrize("world", BACKENDS, indirect=True)


def play(world: World, op_id: str, caller: Caller, door: str, subject: Subject) -> Outcome:
    """The table's call of `op_id` through `door` as `caller`."""
    op = ROWS[op_id]
    return op.rest(world.rest_as(caller), subject) if door == "rest" else op.soap(world.soap_as(caller, False), subject)


def set_acl(world: World, by: Caller, door: str, subject: Subject, name: str, privileges: list[str]) -> Outcome:
    if door == "rest":
        return world.rest_as(by)("PUT", f"processes/{subject.execution_id}/permissions/{name}",
                                 data=",".join(privileges), content_type=TEXT)
    return world.soap_as(by, False)("setPermissions", executionId=subject.execution_id, name=name,
                                    privileges=privileges)


def seen(world: World, caller: Caller, door: str, subject: Subject) -> bool:
    """Whether `caller` may read the instance, by both ways of reading: asking for it, and querying."""
    asked = play(world, "getProcessSnapshot", caller, door, subject)
    found = play(world, "findExecutions", caller, door, subject)
    assert asked.ok or asked.status in (403, 500), asked
    assert found.ok, found
    listed = [s.get("executionId") for s in found.value.findall(pe("processExecutionSnapshot"))]
    assert asked.ok == (listed == [subject.execution_id]), (asked, found)
    return asked.ok


@ON_BOTH
@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("reader, name", [(USER_ACE, USER_ACE.user), (ROLE_ACE, "auditors")], ids=["user", "role"])
def test_a_revoked_ace_grants_nothing_any_more(world: World, door: str, reader: Caller, name: str) -> None:
    subject = make_subject(world, ROWS["getProcessSnapshot"])
    assert not seen(world, reader, door, subject)
    assert set_acl(world, OWNER, door, subject, name, ["read"]).ok
    assert seen(world, reader, door, subject)
    assert set_acl(world, OWNER, door, subject, name, []).ok  # no privileges: the entry goes
    assert not seen(world, reader, door, subject)
    assert world.db.fingerprint(subject.execution_id)[1] == []


@ON_BOTH
@pytest.mark.parametrize("door", DOORS)
def test_set_owner_hands_the_owners_privileges_over(world: World, door: str) -> None:
    subject = make_subject(world, ROWS["setOwner"])
    handed = (world.rest_as(OWNER)("PUT", f"processes/{subject.execution_id}/owner", data=USER_ACE.user,
                                   content_type=TEXT) if door == "rest" else
              world.soap_as(OWNER, False)("setOwner", executionId=subject.execution_id, owner=USER_ACE.user))
    assert handed.ok, handed
    assert seen(world, USER_ACE, door, subject)
    assert not seen(world, OWNER, door, subject)
    refused = play(world, "terminateProcess", OWNER, door, subject)
    assert_refused(refused, [(OWNER.user, "execute", "processInstance", subject.execution_id)])
    assert world.db.instance(subject.execution_id)["state"] == "WAITING"


@ON_BOTH
@pytest.mark.parametrize("door", DOORS)
def test_a_watchers_creator_sees_nothing_once_read_is_revoked(world: World, door: str) -> None:
    """CONTRACT §8: watchers are `read`. A watcher made while its creator could read the instance
    must not go on handing out the instance (its snapshot, pipeline included) once that is revoked."""
    subject = make_subject(world, ROWS["createWatcher"])
    assert set_acl(world, OWNER, door, subject, USER_ACE.user, ["read"]).ok
    made = play(world, "createWatcher", USER_ACE, door, subject)
    assert made.ok, made
    subject.watcher_id = made.value.get("id")
    assert set_acl(world, OWNER, door, subject, USER_ACE.user, []).ok
    world.rest_as(OWNER).must("PUT", f"processes/{subject.execution_id}/attributes/secret", data="42",
                              content_type=TEXT)
    finished = (world.rest_as(USER_ACE)("GET", f"watchers/{subject.watcher_id}", params={"finish": "true"})
                if door == "rest" else
                world.soap_as(USER_ACE, False)("getWatcher", watcherId=subject.watcher_id, finish=True))
    assert_refused(finished, [(USER_ACE.user, "read", "processWatcher", subject.watcher_id)])
    assert [w["finished"] for w in world.db.watchers(subject.execution_id)] == [0]  # nothing captured for her
    gone = play(world, "deleteWatcher", USER_ACE, door, subject)
    assert_refused(gone, [(USER_ACE.user, "read", "processWatcher", subject.watcher_id)])
    assert len(world.db.watchers(subject.execution_id)) == 1


@ON_BOTH
def test_an_idempotency_key_is_the_callers_own(world: World) -> None:
    """Repeating another user's Idempotency-Key must not hand out that user's execution."""
    key = unique()
    params = {"processUri": "hold.ipd", "states": "WAITING", "timeout": "10000", "autoDispose": "never"}
    first = world.server.session.get(world.server.url("run"), params=params, timeout=60, headers={
        "Idempotency-Key": key, "Accept": "application/xml"}, auth=(OWNER.user, OWNER.password))
    second = world.server.session.get(world.server.url("run"), params=params, timeout=60, headers={
        "Idempotency-Key": key, "Accept": "application/xml"}, auth=(USER_ACE.user, USER_ACE.password))
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    mine, theirs = (Rest.parse(first), Rest.parse(second))
    assert mine.get("owner") == OWNER.user and theirs.get("owner") == USER_ACE.user
    assert mine.get("executionId") != theirs.get("executionId")



@ON_BOTH
def test_a_user_named_admin_is_no_administrator(world: World) -> None:
    """The admin role makes an administrator, not the name: a user called `admin` without the role
    neither administers nor owns what the engine started on its own (an autostarted service)."""
    beat = world.rest_as(ADMIN).must("GET", "services/beat", params={"peek": "true"})
    assert beat is not None and beat.get("state") == "WAITING", beat
    subject = Subject(beat.get("externalId"), beat.get("executionId"))
    before = world.db.fingerprint(subject.execution_id)
    assert not seen(world, NAMED_ADMIN, "rest", subject)
    refused = play(world, "terminateProcess", NAMED_ADMIN, "rest", subject)
    assert_refused(refused, [(NAMED_ADMIN.user, "execute", "processInstance", subject.execution_id)])
    refused = world.rest_as(NAMED_ADMIN)("GET", "version")
    assert_refused(refused, [(NAMED_ADMIN.user, "admin", "operation", "version")])
    assert world.db.fingerprint(subject.execution_id) == before

# -- beyond the operations: a stranger learns nothing but the challenge -------------------------------
OFF_THE_OPERATIONS = [
    ("rest", "OPTIONS", "rest/processes/some-id"),   # Flask's automatic OPTIONS answer
    ("rest", "GET", "rest/no-such-operation"),       # an unknown route
    ("rest", "PATCH", "rest/version"),               # a method no operation takes
    ("soap", "GET", "soap"),                         # the SOAP endpoint without ?wsdl
    ("soap", "POST", "soap/no-such-endpoint"),
]


@pytest.mark.parametrize("world", ["sqlite"], indirect=True)
@pytest.mark.parametrize("door, method, path", OFF_THE_OPERATIONS, ids=[f"{d}-{m} {p}" for d, m, p in OFF_THE_OPERATIONS])
def test_without_credentials_only_the_challenge_answers(world: World, door: str, method: str, path: str) -> None:
    """CONTRACT §8: with users configured, only the WSDL, the OpenAPI document and the health endpoints
    answer without credentials — not even with a 404, a 405 or the methods a route takes."""
    answer = world.server.session.request(method, world.server.root(path), timeout=60)
    assert answer.status_code == 401, f"{method} {path} answered a stranger {answer.status_code}: {answer.text[:300]}"
    assert answer.headers.get("WWW-Authenticate") == CHALLENGE
    assert "Allow" not in answer.headers
    if door == "rest":  # signed in, the same request gets its ordinary answer
        signed_in = world.server.session.request(method, world.server.root(path), timeout=60,
                                                 auth=(OWNER.user, OWNER.password))
        assert signed_in.status_code in (404, 405), signed_in.text
