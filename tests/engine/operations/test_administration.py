"""The administration operations of the facade: caches, settings, features, modules, definitions,
version — what an administrator notices, and every error case."""
from __future__ import annotations

import os
import platform
from datetime import datetime, timedelta, timezone
from importlib.metadata import version as package_version
from pathlib import Path

import pytest

from engine import operations as ops
from engine.errors import AuthorizationError, InvalidParameter, NotFound
from engine.runtime.node import ProcessEngine
from engine.security.authorization import ANONYMOUS_ADMIN as ADMIN, Principal
from engine.model.states import ExecutionState as S
from tests.support.common import settles, write_definition

BOB = Principal("bob", frozenset({"clerks"}))
HOLD = '<wait id="hold"/><assign id="a" name="after">yes</assign>'
SPIN = '<assign id="i" name="i">0</assign><while id="w" test="true()"><assign id="n" name="i" select="$i + 1"/></while>'


@pytest.fixture
def pe(engine_factory, repo):
    write_definition(repo, "hold.ipd", HOLD, title="Hold")
    write_definition(repo, "done.ipd", '<endElement id="end"/>', title="Done")
    write_definition(repo, "spin.ipd", SPIN, title="Spin")
    return engine_factory(repo)



def retitle(repo: Path, uri: str, old: str, new: str) -> None:
    """Edit a definition's name in place so that the file check cannot see it: same inode, same size,
    same mtime. Only a cleared cache makes the engine read it again."""
    assert len(old) == len(new)
    path = repo / uri
    before = path.stat()
    path.write_text(path.read_text().replace(f'name="{old}"', f'name="{new}"'))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)


def name_of(pe, uri: str) -> str | None:
    return ops.validate(pe, ADMIN, uri).name


# -- clearCache -------------------------------------------------------------------------------------
def test_clear_one_definition_reads_an_unnoticed_edit_again(pe, repo):
    assert (name_of(pe, "hold.ipd"), name_of(pe, "done.ipd")) == ("Hold", "Done")
    retitle(repo, "hold.ipd", "Hold", "Wait")
    retitle(repo, "done.ipd", "Done", "Over")
    assert name_of(pe, "hold.ipd") == "Hold"  # the cache still answers
    assert ops.clear_cache(pe, ADMIN, ["definitions/hold.ipd"]) is None
    assert name_of(pe, "hold.ipd") == "Wait"
    assert name_of(pe, "done.ipd") == "Done"  # only the named entry went


@pytest.mark.parametrize("paths", [None, [], [" "], ["definitions"], ["definitions/./done.ipd"],
                                   ["definitions//done.ipd"], ["registrations, definitions"], "definitions"])
def test_clear_definitions_in_every_spelling(pe, repo, paths):
    assert name_of(pe, "done.ipd") == "Done"
    retitle(repo, "done.ipd", "Done", "Over")
    if paths is None:
        ops.clear_cache(pe, ADMIN)
    else:
        ops.clear_cache(pe, ADMIN, paths)
    assert name_of(pe, "done.ipd") == "Over"


def test_a_leading_slash_is_not_a_cache_path(pe):
    with pytest.raises(InvalidParameter, match="cachePaths"):
        ops.clear_cache(pe, ADMIN, ["/definitions"])


def test_clear_registrations_keeps_definition_numbers(pe, repo):
    first = ops.run(pe, ADMIN, "done.ipd", auto_dispose="never")
    assert pe.registered
    ops.clear_cache(pe, ADMIN, ["registrations"])
    assert not pe.registered
    again = ops.run(pe, ADMIN, "done.ipd", auto_dispose="never")
    assert again.definition.version == first.definition.version == 1  # read back from the database
    retitle(repo, "done.ipd", "Done", "Over")
    assert name_of(pe, "done.ipd") == "Done"  # the definition cache was left alone


@pytest.mark.parametrize("paths", [["bogus"], ["definitions", "bogus"], ["definitions,registration"],
                                   ["definitions/../outside.ipd"], ["definitions/"], ["definition/done.ipd"]])
def test_an_unknown_cache_path_clears_nothing(pe, repo, paths):
    ops.run(pe, ADMIN, "done.ipd", auto_dispose="never")
    retitle(repo, "done.ipd", "Done", "Over")
    with pytest.raises(InvalidParameter, match="cachePaths") as raised:
        ops.clear_cache(pe, ADMIN, paths)
    assert raised.value.parameter == "cachePaths"
    assert name_of(pe, "done.ipd") == "Done" and pe.registered


def test_the_error_names_the_valid_paths(pe):
    with pytest.raises(InvalidParameter) as raised:
        ops.clear_cache(pe, ADMIN, ["everything"])
    assert all(path in raised.value.message for path in ("definitions", "definitions/<uri>", "registrations"))


def test_clearing_a_definition_that_is_not_cached_is_fine(pe, repo):
    """Naming one that was never loaded clears nothing else: the cached ones stay as they were read."""
    assert name_of(pe, "done.ipd") == "Done"
    retitle(repo, "done.ipd", "Done", "Over")
    ops.clear_cache(pe, ADMIN, ["definitions/never-loaded.ipd"])
    assert name_of(pe, "done.ipd") == "Done"


# -- getBrokerUri, getTaskManagerUrl -------------------------------------------------------------------
def test_integration_urls_are_none_when_not_configured(pe):
    assert ops.get_broker_uri(pe, ADMIN) is None
    assert ops.get_task_manager_url(pe, ADMIN) is None


def test_integration_urls_from_the_settings(engine_factory, repo):
    pe = engine_factory(repo, integration={"broker_url": "amqp://broker:5672/pe",
                                           "task_manager_url": "https://tasks.example.com/tm"})
    assert ops.get_broker_uri(pe, ADMIN) == "amqp://broker:5672/pe"
    assert ops.get_task_manager_url(pe, ADMIN) == "https://tasks.example.com/tm"


# -- getConstants --------------------------------------------------------------------------------------
CONSTANTS = {"company": "Example Ltd", "billing": {"vat": "0.2", "eu": {"rate": "0.1", "zones": ["a", "b"]}},
             "empty": {}}


@pytest.fixture
def constants_pe(engine_factory, repo):
    return engine_factory(repo, constants=CONSTANTS)


def texts(store) -> dict[str, list[str]]:
    return {name: [v.text for v in values] for name, values in store.entries()}


def test_get_constants_all_by_full_name(constants_pe):
    assert texts(ops.get_constants(constants_pe, ADMIN)) == {
        "company": ["Example Ltd"], "billing/vat": ["0.2"], "billing/eu/rate": ["0.1"], "billing/eu/zones": ["a", "b"]}
    assert texts(ops.get_constants(constants_pe, ADMIN, "")) == texts(ops.get_constants(constants_pe, ADMIN))


def test_get_constants_of_a_partition_relative_to_it(constants_pe):
    assert texts(ops.get_constants(constants_pe, ADMIN, "billing")) == {
        "vat": ["0.2"], "eu/rate": ["0.1"], "eu/zones": ["a", "b"]}
    assert texts(ops.get_constants(constants_pe, ADMIN, "/billing/eu/")) == {"rate": ["0.1"], "zones": ["a", "b"]}
    assert len(ops.get_constants(constants_pe, ADMIN, "empty")) == 0


def test_get_constants_hands_out_a_copy(constants_pe):
    ops.get_constants(constants_pe, ADMIN).remove("company")
    assert "company" in ops.get_constants(constants_pe, ADMIN)


@pytest.mark.parametrize("path", ["nope", "company", "billing/vat", "billing/nope", "bill"])
def test_get_constants_of_an_unknown_partition(constants_pe, path):
    with pytest.raises(NotFound, match="constants partition"):
        ops.get_constants(constants_pe, ADMIN, path)


# -- getFeatures ---------------------------------------------------------------------------------------
def features(pe) -> dict[str, str]:
    return {f.name: f.state for f in ops.get_features(pe, ADMIN)}


def test_instantiate_is_inactive_until_start_up_has_finished(engine_factory, repo):
    slow = engine_factory(repo, engine={"startup_delay_ms": 500})
    assert features(slow)["instantiate"] == "inactive"
    assert settles(lambda: features(slow)["instantiate"] == "active")


def test_features_of_a_plain_node(pe, storage_url):
    found = features(pe)
    assert found["instantiate"] == found["execution"] == "active"
    assert found["cluster"] == ("disabled" if storage_url.startswith("sqlite") else "active")
    assert found["tasks"] == found["messaging"] == "disabled"


def test_execution_follows_the_online_flag(pe):
    pe.set_online(False)
    assert features(pe)["execution"] == "inactive"
    pe.set_online(True)
    assert features(pe)["execution"] == "active"


def test_tasks_and_messaging_are_active_when_configured(engine_factory, repo):
    pe = engine_factory(repo, integration={"broker_url": "amqp://b", "task_manager_url": "http://t"})
    assert features(pe)["tasks"] == features(pe)["messaging"] == "active"


# -- getModules ----------------------------------------------------------------------------------------
def util_of(modules):
    return next(m for m in modules if m.name == "util")


def test_get_modules_in_english_by_default(pe):
    util = util_of(ops.get_modules(pe, ADMIN))
    assert util.version == "1.0" and util.description.startswith("Small helpers")
    operations = {o.name: o for o in util.operations}
    assert operations["uuid"].description == "A new random UUID."
    assert operations["sha256"].parameters == (("data", "text or binary value"),)


@pytest.mark.parametrize("lang", ["de", "DE", "de-AT", "de_CH"])
def test_get_modules_in_german(pe, lang):
    util = util_of(ops.get_modules(pe, ADMIN, lang))
    assert util.description.startswith("Kleine Helfer")
    assert {o.name: o.description for o in util.operations}["upper"] == "text in Großbuchstaben."


def test_get_modules_falls_back_to_english(pe):
    assert util_of(ops.get_modules(pe, ADMIN, "fr")).description.startswith("Small helpers")


class _Alpha:
    name = "alpha"
    version = "2.1"
    descriptions = {"en": "First"}
    operations: dict = {}


def test_get_modules_sorted_by_name(make_settings, repo):
    from engine.modules.util import UtilModule

    pe = ProcessEngine(make_settings(repo), modules={"util": UtilModule(), "alpha": _Alpha()})
    try:
        assert [m.name for m in ops.get_modules(pe, ADMIN)] == ["alpha", "util"]
    finally:
        pe.db.dispose()


# -- listProcessDefinitions ----------------------------------------------------------------------------
def test_list_process_definitions(pe, repo):
    write_definition(repo, "sub/plain.ipd", '<endElement id="end"/>')
    (repo / "broken.ipd").write_text("<process")
    (repo / "notes.txt").write_text("not a definition")
    moment = datetime(2026, 11, 22, 23, 24, 56, 123000, timezone.utc)
    stamp = int(moment.timestamp()) * 10**9 + 123_456_789
    os.utime(repo / "done.ipd", ns=(stamp, stamp))
    listing = {d.uri: d for d in ops.list_process_definitions(pe, ADMIN)}
    assert sorted(listing) == ["broken.ipd", "done.ipd", "hold.ipd", "spin.ipd", "sub/plain.ipd"]
    assert listing["done.ipd"].name == "Done" and listing["done.ipd"].changed_at == moment
    assert listing["sub/plain.ipd"].name is None and listing["broken.ipd"].name is None
    assert listing["hold.ipd"].changed_at.tzinfo is not None
    assert listing["hold.ipd"].changed_at.microsecond % 1000 == 0


# -- version -------------------------------------------------------------------------------------------
def test_version(pe):
    text = ops.version(pe, ADMIN)
    assert text.startswith(f"process-engine {package_version('process-engine')} ")
    assert platform.python_version() in text


# -- uncacheProcesses ----------------------------------------------------------------------------------
def edit_all(repo: Path) -> None:
    for uri, old, new in (("hold.ipd", "Hold", "Wait"), ("done.ipd", "Done", "Over"), ("spin.ipd", "Spin", "Turn")):
        retitle(repo, uri, old, new)


def test_uncache_drops_the_definitions_of_inactive_instances(pe, repo):
    ops.run(pe, ADMIN, "done.ipd", auto_dispose="never")
    ops.run(pe, ADMIN, "hold.ipd", states=["WAITING"])
    edit_all(repo)
    assert ops.uncache_processes(pe, ADMIN) == 2  # WAITING is inactive: its definition may go too
    assert ops.uncache_processes(pe, ADMIN) == 0  # nothing left to drop
    assert (name_of(pe, "done.ipd"), name_of(pe, "hold.ipd")) == ("Over", "Wait")


def test_uncache_keeps_a_definition_an_active_instance_uses(pe, repo):
    running = ops.run(pe, ADMIN, "spin.ipd", states=["RUNNING"])
    stopped = ops.run(pe, ADMIN, "spin.ipd", states=["RUNNING"])
    ops.terminate_process(pe, ADMIN, stopped.execution_id, kill=True)
    ops.run(pe, ADMIN, "done.ipd", auto_dispose="never")
    edit_all(repo)
    try:
        # the killed instance is selected, but another instance still runs its definition
        assert ops.uncache_processes(pe, ADMIN, process_uris=["spin.ipd"]) == 0
        assert ops.uncache_processes(pe, ADMIN) == 1  # done.ipd only
        assert (name_of(pe, "spin.ipd"), name_of(pe, "done.ipd")) == ("Spin", "Over")
    finally:
        ops.terminate_process(pe, ADMIN, running.execution_id, kill=True)


def test_uncache_selects_by_every_filter(pe, repo):
    done = ops.run(pe, ADMIN, "done.ipd", auto_dispose="never")
    held = ops.run(pe, ADMIN, "hold.ipd", states=["WAITING"])
    later = datetime.now(timezone.utc) + timedelta(minutes=1)
    nothing = [dict(execution_ids=["no-such-id"]), dict(owners=["bob"]), dict(process_uris=["spin.ipd"]),
               dict(states=["FAILED", "PAUSED"]), dict(health=["LOST"]), dict(engine_ids=["other-node"]),
               dict(timestamp=done.created_at - timedelta(seconds=1)), dict(states=["FINISHED"], owners=["bob"])]
    for filters in nothing:
        assert ops.uncache_processes(pe, ADMIN, **filters) == 0, filters
    assert ops.uncache_processes(pe, ADMIN, states=["FINISHED"], owners=["admin", "bob"], health=["OK"],
                                 engine_ids=[pe.node_id], timestamp=later) == 1
    assert ops.uncache_processes(pe, ADMIN, execution_ids=[done.execution_id]) == 0  # already dropped
    assert ops.uncache_processes(pe, ADMIN, process_uris=["/hold.ipd"],
                                 execution_ids=[held.execution_id, done.execution_id]) == 1


def test_an_uncached_instance_continues_as_before(pe):
    held = ops.run(pe, ADMIN, "hold.ipd", states=["WAITING"])
    assert ops.uncache_processes(pe, ADMIN, execution_ids=[held.execution_id]) == 1
    end = ops.start_process(pe, ADMIN, held.execution_id, inspect_pipeline=True)
    assert end.state is S.FINISHED and end.pipeline.first_text("after") == "yes"


def test_uncache_takes_comma_separated_lists(pe):
    ops.run(pe, ADMIN, "done.ipd", auto_dispose="never")
    ops.run(pe, ADMIN, "hold.ipd", states=["WAITING"])
    assert ops.uncache_processes(pe, ADMIN, states=["WAITING,FINISHED"]) == 2


def test_uncache_by_age_uses_creation_until_a_process_has_ended(pe):
    held = ops.run(pe, ADMIN, "hold.ipd", states=["WAITING"])
    assert ops.uncache_processes(pe, ADMIN, timestamp=held.created_at - timedelta(milliseconds=1)) == 0
    assert ops.uncache_processes(pe, ADMIN, timestamp=held.created_at) == 1


def test_uncache_leaves_disposed_instances_out(pe):
    done = ops.run(pe, ADMIN, "done.ipd", auto_dispose="never")
    ops.dispose_process(pe, ADMIN, done.execution_id)
    assert ops.uncache_processes(pe, ADMIN) == 0


@pytest.mark.parametrize("filters, parameter", [
    (dict(states=["DONE"]), "states"), (dict(states=["finished"]), "states"), (dict(health=["SICK"]), "health"),
    (dict(process_uris=["../outside.ipd"]), "processUri"),
])
def test_uncache_refuses_invalid_names(pe, filters, parameter):
    with pytest.raises(InvalidParameter) as raised:
        ops.uncache_processes(pe, ADMIN, **filters)
    assert raised.value.parameter == parameter


# -- admin only ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("operation, args, name", [
    (ops.clear_cache, (), "clearCache"), (ops.get_broker_uri, (), "getBrokerUri"),
    (ops.get_task_manager_url, (), "getTaskManagerUrl"), (ops.get_constants, ("billing",), "getConstants"),
    (ops.get_features, (), "getFeatures"), (ops.get_modules, ("de",), "getModules"),
    (ops.list_process_definitions, (), "listProcessDefinitions"), (ops.version, (), "version"),
    (ops.uncache_processes, (), "uncacheProcesses"),
])
def test_every_administration_operation_is_admin_only(pe, repo, operation, args, name):
    assert name_of(pe, "done.ipd") == "Done"
    retitle(repo, "done.ipd", "Done", "Over")
    with pytest.raises(AuthorizationError) as denied:
        operation(pe, BOB, *args)
    assert (denied.value.user_id, denied.value.permission_name, denied.value.resource_id) == ("bob", "admin", name)
    assert name_of(pe, "done.ipd") == "Done"  # a refused clearCache cleared nothing
    assert ops.run(pe, ADMIN, "done.ipd").state is S.FINISHED


def test_uncache_drops_the_parsed_definition_of_a_posted_stream(engine_factory, repo):
    pe = engine_factory(repo)
    source = (b'<process xmlns="http://www.infinica.com/process-engine" version="4" name="Posted">'
              b'<startElement id="s"/><endElement id="e"/></process>')
    done = ops.instantiate(pe, ADMIN, "posted/p.ipd", process=source)
    ops.start_process(pe, ADMIN, done.execution_id, peek=True)
    revision = __import__("hashlib").sha256(source).hexdigest()
    assert revision in pe.repository._parsed
    assert ops.uncache_processes(pe, ADMIN, execution_ids=[done.execution_id]) == 1
    assert revision not in pe.repository._parsed
