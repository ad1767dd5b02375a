"""The data store model: a copy shares its dicts until one side changes (issue 15), and nothing a
change does to one side shows in the other; a store read in one step indexes its values when a change
first needs them."""
from __future__ import annotations

import copy

from hypothesis import given, settings, strategies as st

from engine.model.datastore import DataStore, make_value


def text(value_id: str, content: str):
    return make_value(value_id, "text/plain", content)


def shown(store: DataStore) -> list[tuple[str, list[tuple[str, str, str]]]]:
    return [(name, [(v.id, v.type, v.content) for v in values]) for name, values in store.entries()]


def test_a_copy_and_its_source_change_apart():
    source = DataStore([("a", [text("1", "one")]), ("b", [text("2", "two")])])
    copy = source.copy()
    copy.set("a", [text("3", "three")])
    source.remove("b")
    assert shown(source) == [("a", [("1", "text/plain", "one")])]
    assert shown(copy) == [("b", [("2", "text/plain", "two")]), ("a", [("3", "text/plain", "three")])]


def test_a_store_merged_into_an_empty_one_is_not_changed_by_it():
    given_ = DataStore([("in", [text("1", "x")])])
    pipeline = DataStore()
    pipeline.update(given_)
    pipeline.append("in", [text("1", "y")])  # the same ID, other content: a fresh ID
    assert shown(given_) == [("in", [("1", "text/plain", "x")])]
    assert shown(pipeline) == [("in", [("1", "text/plain", "x"), ("2", "text/plain", "y")])]


def test_a_store_read_in_one_step_keeps_one_value_per_id_once_changed():
    shared = text("7", "shared")
    store = DataStore.of({"a": (shared,), "b": (shared, text("8", "eight"))})
    store.set("c", [text("7", "other")])  # clashes with the value both entries hold
    store.remove("a")
    assert [v.id for v in store.get("c")] == ["1"] and store.get("c")[0].content == "other"
    store.remove("b")
    assert store.values() == list(store.get("c"))


_OPS = st.lists(st.tuples(st.sampled_from(["set", "append", "remove", "update"]), st.sampled_from("abc"),
                          st.lists(st.tuples(st.sampled_from("123"), st.sampled_from(["x", "y"])), max_size=3)),
                max_size=12)


@settings(max_examples=150, deadline=None)
@given(before=_OPS, after_on_source=_OPS, after_on_copy=_OPS, read_in_one_step=st.booleans())
def test_changes_after_a_copy_show_only_where_they_were_made(before, after_on_source, after_on_copy,
                                                              read_in_one_step):
    def apply(store: DataStore, ops) -> None:
        for op, name, values in ops:
            made = [text(i, c) for i, c in values]
            if op == "set":
                store.set(name, made)
            elif op == "append":
                store.append(name, made)
            elif op == "remove":
                store.remove(name)
            else:
                store.update(DataStore([(name, made)]))

    source = DataStore()
    apply(source, before)
    if read_in_one_step:
        source = DataStore.of(dict(source.entries()))
    # the same changes made to deep copies, which share nothing, are what each side must show
    alone_source, alone_copy = copy.deepcopy(source), copy.deepcopy(source)
    copy_ = source.copy()
    apply(source, after_on_source)
    apply(copy_, after_on_copy)
    apply(alone_source, after_on_source)
    apply(alone_copy, after_on_copy)
    assert shown(source) == shown(alone_source) and shown(copy_) == shown(alone_copy)
    for store in (source, copy_):  # one value per ID across entries
        seen: dict[str, tuple[str, str]] = {}
        for _, values in store.entries():
            for value in values:
                assert seen.setdefault(value.id, (value.type, value.content)) == (value.type, value.content)
