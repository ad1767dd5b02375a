"""The authorization matrix's plumbing: callers and accounts, a client per door and caller, the admin's view.

Plumbing for tests/contract/test_authorization.py: the callers and their accounts, a REST and a SOAP
client per caller whose answers come back in one form (`Outcome`), and the administrator's view of the
service (its REST answers, and a read-only look into its SQLite database to tell whether a call changed
anything at all).

Both doors are asked for XML: a REST answer in XML is the very element SOAP puts in its response
wrapper (CONTRACT §2), so one check reads either door's answer.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import requests
from lxml import etree
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from zeep import Client
from zeep.exceptions import Error as ZeepError
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from tests.support.namespaces import DAT, PE, Q
from tests.support.server import Server

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
CHALLENGE = 'Basic realm="process-engine"'
STREAM_ROLES = ("designers",)
BROKER = "amqp://broker.example:5672/pe"
TASKS = "https://tasks.example/tm"


@dataclass(frozen=True)
class Caller:
    label: str                 # what a test ID calls it
    user: str | None           # None: no credentials at all
    roles: tuple[str, ...] = ()

    @property
    def password(self) -> str:
        return f"{self.user}-Pa55-4u7h"

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


ANONYMOUS = Caller("anonymous", None)
STRANGER = Caller("stranger", "sam", ("clerks",))             # shares the owner's role: no grant by that
OTHERS = Caller("other-privileges", "otto", ("clerks",))      # an ACE with every privilege but the one needed
USER_ACE = Caller("user-ace", "uma", ("clerks",))             # an ACE naming her, granting the privilege
ROLE_ACE = Caller("role-ace", "rita", ("auditors", "designers"))  # an ACE naming a role of hers; a stream role
OWNER = Caller("owner", "olivia", ("clerks",))                # started the instance
ADMIN = Caller("admin", "boss", ("admin",))                   # the admin role (not the name)
CALLERS = (ANONYMOUS, STRANGER, OTHERS, USER_ACE, ROLE_ACE, OWNER, ADMIN)
NAMED_ADMIN = Caller("named-admin", "admin", ("clerks",))     # the name, without the role: no matrix caller


def settings_toml(hash_password: Any) -> str:
    users = "".join(f'[[auth.users]]\nname = "{c.user}"\npassword_hash = "{hash_password(c.password)}"\n'
                    f"roles = {list(c.roles)!r}\n".replace("'", '"') for c in (*CALLERS, NAMED_ADMIN) if c.user)
    return ("[[services]]\nid = 'report'\nprocessUri = 'services/report.ipd'\n"
            "[[services]]\nid = 'beat'\nprocessUri = 'services/heartbeat.ipd'\nautostart = true\n"
            f"[integration]\nbroker_url = '{BROKER}'\ntask_manager_url = '{TASKS}'\n"
            f"[auth]\nstream_roles = {list(STREAM_ROLES)!r}\n".replace("'", '"') + users)


def unique() -> str:
    return f"authz-{uuid.uuid4().hex[:12]}"


# -- answers ------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    """One answer of either door: the HTTP status, and either the result (an element, a text, or None
    for nothing) or the `<error>` element (REST's body, SOAP's fault detail)."""

    door: str
    status: int
    value: Any = None
    error: etree._Element | None = None
    fault_code: str | None = None      # SOAP only: Client or Server
    challenge: str | None = None       # the WWW-Authenticate header
    total: int | None = None           # findExecutions: REST's X-Total-Count, SOAP's totalCount
    raw: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None and self.fault_code is None and 200 <= self.status < 300

    def __repr__(self) -> str:
        return f"<{self.door} HTTP {self.status}: {self.raw[:600]}>"


def _error_element(root: etree._Element | None) -> etree._Element | None:
    if root is None:
        return None
    return root if root.tag == f"{{{PE}}}error" else root.find(f".//{{{PE}}}error")


class Rest:
    """REST as one caller (HTTP Basic), always asking for XML."""

    def __init__(self, server: Server, caller: Caller) -> None:
        self.server, self.caller = server, caller
        self.session = requests.Session()
        if caller.user:
            self.session.auth = (caller.user, caller.password)

    def __call__(self, method: str, path: str, *, params: Any = None, data: Any = None, files: Any = None,
                 content_type: str | None = None) -> Outcome:
        headers = {"Accept": "application/xml"}
        if content_type:
            headers["Content-Type"] = content_type
        answer = self.session.request(method, self.server.url(path), params=params, data=data, files=files,
                                      headers=headers, timeout=60)
        outcome = Outcome("rest", answer.status_code, challenge=answer.headers.get("WWW-Authenticate"),
                          raw=answer.text)
        if "X-Total-Count" in answer.headers:
            outcome.total = int(answer.headers["X-Total-Count"])
        kind = answer.headers.get("Content-Type", "")
        if answer.status_code >= 400:
            outcome.error = _error_element(etree.fromstring(answer.content)) if "xml" in kind else None
        elif answer.status_code != 204:
            outcome.value = etree.fromstring(answer.content) if "xml" in kind else answer.text
        return outcome

    @staticmethod
    def parse(answer: requests.Response) -> etree._Element:
        return etree.fromstring(answer.content)

    def must(self, method: str, path: str, **kwargs: Any) -> Any:
        """A call of the test's own preparation: it must succeed; its result."""
        outcome = self(method, path, **kwargs)
        assert outcome.ok, (method, path, outcome)
        return outcome.value


SCALARS = {"version", "brokerUri", "taskManagerUrl", "runningProcesses", "deleted"}


class Soap:
    """SOAP through zeep on the served WSDL as one caller: HTTP Basic, or (`token`) a WS-Security
    UsernameToken. zeep only writes the request; the answer is read from the wire as it came."""

    def __init__(self, server: Server, caller: Caller, token: bool = False) -> None:
        self.caller, self.door = caller, "soap-wsse" if token else "soap"
        self.last: requests.Response | None = None
        session = requests.Session()
        session.hooks["response"].append(self._keep)
        wsse = None
        if caller.user and token:
            wsse = UsernameToken(caller.user, caller.password)
        elif caller.user:
            session.auth = (caller.user, caller.password)
        self.client = Client(server.root("soap?wsdl"), transport=Transport(session=session, timeout=60,
                                                                           operation_timeout=60), wsse=wsse)

    def _keep(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.last = response

    def __call__(self, operation: str, **params: Any) -> Outcome:
        self.last = None
        try:
            getattr(self.client.service, operation)(**params)
        except ZeepError:
            if self.last is None:  # zeep refused to write the request: a mistake of this test
                raise
        answer = self.last
        assert answer is not None and answer.request.method == "POST", operation
        outcome = Outcome(self.door, answer.status_code, challenge=answer.headers.get("WWW-Authenticate"),
                          raw=answer.text)
        body = etree.fromstring(answer.content).find(f"{{{SOAP_ENV}}}Body")
        fault = body.find(f"{{{SOAP_ENV}}}Fault")
        if fault is not None:
            outcome.fault_code = fault.findtext("faultcode", "").rpartition(":")[2]
            outcome.error = _error_element(fault.find("detail"))
            return outcome
        wrapper = body[0]
        if len(wrapper):
            first = wrapper[0]
            outcome.value = first.text if etree.QName(first).localname in SCALARS else first
        total = wrapper.findtext(f"{{{PE}}}totalCount")
        outcome.total = int(total) if total is not None else None
        return outcome


# -- the administrator's view -------------------------------------------------------------------------
class Database:
    """The server's database (SQLite or PostgreSQL), read as it is — and one deliberate write: a LOST
    instance."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, poolclass=NullPool)

    def rows(self, sql: str, **args: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql), args)]

    def instance(self, execution_id: str) -> dict[str, Any]:
        found = self.rows("SELECT * FROM process_instances WHERE execution_id = :e", e=execution_id)
        assert len(found) == 1, execution_id
        return found[0]

    def fingerprint(self, execution_id: str) -> tuple:
        """Everything stored of an instance: its row, its ACEs, its watchers, its log."""
        return (self.instance(execution_id),
                self.rows("SELECT name, privilege FROM process_permissions WHERE execution_id = :e "
                          "ORDER BY name, privilege", e=execution_id),
                self.watchers(execution_id),
                self.rows("SELECT COUNT(*) AS n FROM process_log WHERE execution_id = :e", e=execution_id))

    def watchers(self, execution_id: str) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM watchers WHERE execution_id = :e ORDER BY id", e=execution_id)

    def live_with(self, external_id: str) -> list[dict[str, Any]]:
        return self.rows("SELECT execution_id, owner, state, definition_name FROM process_instances "
                         "WHERE external_id = :x AND disposed_at IS NULL", x=external_id)

    def mark_lost(self, execution_id: str) -> None:
        """What a node's death leaves behind (CONTRACT §3), without killing one: health LOST."""
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE process_instances SET health = 'LOST', health_message = 'node gone' "
                              "WHERE execution_id = :e"), {"e": execution_id})

    def close(self) -> None:
        self.engine.dispose()


# -- documents ----------------------------------------------------------------------------------------
def query_xml(external_id: str) -> str:
    """A query for the instances carrying `external_id`."""
    return (f'<query xmlns="{Q}" xmlns:dat="{DAT}"><param field="externalId" operation="equals">'
            f"<values><dat:value>{external_id}</dat:value></values></param></query>")


def entries(holder: etree._Element | None) -> dict[str, list[str]]:
    """A simple-form data store's (or a pipeline's) entries as {name: values}."""
    if holder is None:
        return {}
    return {e.get("name"): [v.text for v in e.findall(f"{{{DAT}}}value")] for e in holder.findall(f"{{{DAT}}}entry")}


