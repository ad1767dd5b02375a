"""The definition repository (CONTRACT §7): process URIs confined to a folder, loading, the parse cache,
posted streams and listing."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.definitions.repository import DefinitionRepository
from engine.errors import InvalidDefinition, InvalidParameter, NotFound
from engine.modules import load_modules

NS = "http://www.infinica.com/process-engine"


def ipd(step_id: str = "start", name: str | None = None) -> str:
    title = f' name="{name}"' if name else ""
    return f'<process xmlns="{NS}" version="4"{title}><startElement id="{step_id}"/></process>'


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    folder.mkdir()
    return folder


@pytest.fixture
def repository(root: Path) -> DefinitionRepository:
    return DefinitionRepository(root, load_modules())


def write(root: Path, uri: str, content: str, mtime_ns: int | None = None) -> Path:
    path = root / uri
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


# -- normalise -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("uri, expected", [
    ("a.ipd", "a.ipd"), ("x/y/a.ipd", "x/y/a.ipd"), ("./a.ipd", "a.ipd"), ("a/./b.ipd", "a/b.ipd"),
    ("a/../b.ipd", "b.ipd"), ("a//b.ipd", "a/b.ipd"), ("/a.ipd", "a.ipd"), ("/x/a.ipd", "x/a.ipd"),
    ("a/b/../../c.ipd", "c.ipd"),
])
def test_normalise_relative_paths(repository, uri, expected):
    assert repository.normalise(uri) == expected


@pytest.mark.parametrize("uri, base, expected", [
    ("child.ipd", "sub/parent.ipd", "sub/child.ipd"), ("../c.ipd", "sub/parent.ipd", "c.ipd"),
    ("deep/c.ipd", "sub/parent.ipd", "sub/deep/c.ipd"), ("c.ipd", "parent.ipd", "c.ipd"),
    ("/c.ipd", "sub/parent.ipd", "c.ipd"),
])
def test_normalise_relative_to_the_callers_uri(repository, uri, base, expected):
    assert repository.normalise(uri, base) == expected


@pytest.mark.parametrize("uri", [
    "..", "../x.ipd", "a/../../x.ipd", "/../x.ipd", "/a/../../x.ipd", ".", "./", "file:a.ipd",
    "file:///etc/passwd", "http://example.com/a.ipd", "https://example.com/a.ipd", "a\\b.ipd",
    "..\\x.ipd", "a\x00.ipd", "", "   ",
])
def test_normalise_refuses_what_leaves_the_repository(repository, uri):
    with pytest.raises(InvalidParameter) as info:
        repository.normalise(uri)
    assert info.value.parameter == "processUri"


def test_normalise_refuses_climbing_out_of_the_callers_folder(repository):
    with pytest.raises(InvalidParameter, match="outside"):
        repository.normalise("../../x.ipd", "sub/parent.ipd")


def test_normalise_refuses_non_strings(repository):
    with pytest.raises(InvalidParameter):
        repository.normalise(None)  # type: ignore[arg-type]


def test_absolute_path_is_taken_inside_the_repository(repository, root, tmp_path):
    outside = write(tmp_path, "outside.ipd", ipd())
    with pytest.raises(NotFound):
        repository.load(str(outside))
    write(root, str(outside).lstrip("/"), ipd("inner"))
    assert list(repository.load(str(outside)).definition.elements) == ["root.inner"]


# -- loading -------------------------------------------------------------------------------------------

def test_load_parses_the_file(repository, root):
    write(root, "sub/p.ipd", ipd(name="P"))
    loaded = repository.load("./sub/p.ipd")
    assert (loaded.uri, loaded.origin, loaded.definition.name) == ("sub/p.ipd", "repository", "P")
    assert loaded.source == ipd(name="P").encode()


def test_load_relative_to_a_base(repository, root):
    write(root, "sub/child.ipd", ipd("child"))
    assert repository.load("child.ipd", base="sub/parent.ipd").uri == "sub/child.ipd"


def test_missing_file_is_not_found(repository):
    with pytest.raises(NotFound) as info:
        repository.load("missing.ipd")
    assert info.value.key == "missing.ipd"


def test_a_folder_is_not_a_definition(repository, root):
    (root / "folder.ipd").mkdir()
    with pytest.raises(NotFound):
        repository.load("folder.ipd")


def test_load_refuses_a_uri_outside(repository):
    with pytest.raises(InvalidParameter):
        repository.load("../x.ipd")


def test_symlink_to_a_file_outside_is_refused(repository, root, tmp_path):
    outside = write(tmp_path, "outside.ipd", ipd())
    (root / "evil.ipd").symlink_to(outside)
    with pytest.raises(InvalidParameter, match="outside"):
        repository.load("evil.ipd")


def test_symlinked_folder_outside_is_refused(repository, root, tmp_path):
    write(tmp_path, "elsewhere/x.ipd", ipd())
    (root / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(InvalidParameter):
        repository.load("link/x.ipd")


def test_symlink_to_a_file_inside_works(repository, root):
    write(root, "real/p.ipd", ipd("real"))
    (root / "alias.ipd").symlink_to(root / "real" / "p.ipd")
    loaded = repository.load("alias.ipd")
    assert loaded.uri == "alias.ipd" and list(loaded.definition.elements) == ["root.real"]


def test_symlink_retargeted_outside_after_caching_is_refused(repository, root, tmp_path):
    write(root, "real.ipd", ipd())
    link = root / "alias.ipd"
    link.symlink_to(root / "real.ipd")
    repository.load("alias.ipd")
    link.unlink()
    link.symlink_to(write(tmp_path, "outside.ipd", ipd("out")))
    with pytest.raises(InvalidParameter):
        repository.load("alias.ipd")


def test_invalid_file_raises_invalid_definition_naming_the_uri(repository, root):
    write(root, "sub/bad.ipd", f'<process xmlns="{NS}" version="4">\n<startElement id="s"/>\n<nope/></process>')
    with pytest.raises(InvalidDefinition) as info:
        repository.load("sub/bad.ipd")
    assert info.value.uri == "sub/bad.ipd" and "sub/bad.ipd" in str(info.value)
    assert info.value.line == 3


def test_invoke_of_an_unknown_module_is_refused_on_load(repository, root):
    write(root, "m.ipd", f'<process xmlns="{NS}" version="4"><startElement id="s"/>'
                         f'<invoke id="i" module="nope" operation="x"/></process>')
    with pytest.raises(InvalidDefinition, match="nope"):
        repository.load("m.ipd")


def test_a_fixed_file_loads_after_a_failure(repository, root):
    write(root, "p.ipd", "<process", mtime_ns=1_000_000_000_000_000_000)
    with pytest.raises(InvalidDefinition):
        repository.load("p.ipd")
    write(root, "p.ipd", ipd(), mtime_ns=1_000_000_001_000_000_000)
    assert repository.load("p.ipd").definition.elements


# -- cache -------------------------------------------------------------------------------------------

def test_unchanged_file_returns_the_same_object(repository, root):
    write(root, "p.ipd", ipd())
    assert repository.load("p.ipd") is repository.load("./p.ipd")


def test_changed_file_yields_a_new_revision(repository, root):
    write(root, "p.ipd", ipd("one"), mtime_ns=1_000_000_000_000_000_000)
    first = repository.load("p.ipd")
    write(root, "p.ipd", ipd("two"), mtime_ns=1_000_000_005_000_000_000)
    second = repository.load("p.ipd")
    assert second.revision != first.revision
    assert list(second.definition.elements) == ["root.two"]
    assert second.changed_at > first.changed_at


def test_changed_file_of_the_same_size_is_noticed_by_its_mtime(repository, root):
    write(root, "p.ipd", ipd("aaa"), mtime_ns=1_000_000_000_000_000_000)
    first = repository.load("p.ipd")
    write(root, "p.ipd", ipd("bbb"), mtime_ns=1_000_000_000_000_000_001)
    assert list(repository.load("p.ipd").definition.elements) == ["root.bbb"]
    assert repository.load("p.ipd").revision != first.revision


def test_touched_file_with_the_same_content_keeps_the_parsed_definition(repository, root):
    write(root, "p.ipd", ipd(), mtime_ns=1_000_000_000_000_000_000)
    first = repository.load("p.ipd")
    write(root, "p.ipd", ipd(), mtime_ns=1_000_000_009_000_000_000)
    second = repository.load("p.ipd")
    assert second is not first
    assert second.revision == first.revision and second.definition is first.definition


def test_revision_is_the_sha256_of_the_content(repository, root):
    import hashlib

    write(root, "p.ipd", ipd())
    assert repository.load("p.ipd").revision == hashlib.sha256(ipd().encode()).hexdigest()


def test_cache_false_rereads_and_reparses(repository, root):
    write(root, "p.ipd", ipd())
    first = repository.load("p.ipd")
    again = repository.load("p.ipd", cache=False)
    assert again is not first and again.definition is not first.definition
    assert again.revision == first.revision


def test_repository_without_cache_always_rereads(root):
    repository = DefinitionRepository(root, load_modules(), cache=False)
    write(root, "p.ipd", ipd())
    assert repository.load("p.ipd").definition is not repository.load("p.ipd").definition


def test_deleted_file_is_not_found_even_when_cached(repository, root):
    write(root, "p.ipd", ipd())
    repository.load("p.ipd")
    (root / "p.ipd").unlink()
    with pytest.raises(NotFound):
        repository.load("p.ipd")


def test_clear_all_forgets_every_definition(repository, root):
    write(root, "a.ipd", ipd("a"))
    write(root, "b.ipd", ipd("b"))
    a, b = repository.load("a.ipd"), repository.load("b.ipd")
    assert repository.clear() == 4  # two files, two parsed revisions
    assert repository.load("a.ipd") is not a and repository.load("b.ipd").definition is not b.definition


def test_clear_some_forgets_only_those(repository, root):
    write(root, "a.ipd", ipd("a"))
    write(root, "b.ipd", ipd("b"))
    a, b = repository.load("a.ipd"), repository.load("b.ipd")
    assert repository.clear(["./a.ipd", "never-loaded.ipd"]) == 1
    assert repository.load("a.ipd").definition is not a.definition
    assert repository.load("b.ipd") is b


def test_clear_of_an_empty_cache_drops_nothing(repository):
    assert repository.clear() == 0 and repository.clear(["x.ipd"]) == 0


# -- streams -------------------------------------------------------------------------------------------

def test_load_stream_parses_without_touching_disk(tmp_path):
    repository = DefinitionRepository(tmp_path / "does-not-exist", load_modules())
    loaded = repository.load_stream("sub/posted.ipd", ipd("posted").encode())
    assert (loaded.uri, loaded.origin) == ("sub/posted.ipd", "stream")
    assert list(loaded.definition.elements) == ["root.posted"]


def test_load_stream_ignores_a_file_at_its_uri(repository, root):
    write(root, "p.ipd", "<not a definition")
    loaded = repository.load_stream("p.ipd", ipd("posted").encode())
    assert list(loaded.definition.elements) == ["root.posted"]


def test_load_stream_uri_is_the_base_for_relative_calls(repository):
    loaded = repository.load_stream("sub/posted.ipd", ipd().encode())
    assert repository.normalise("child.ipd", base=loaded.uri) == "sub/child.ipd"


def test_load_stream_without_uri(repository):
    assert repository.load_stream(None, ipd().encode()).uri == "stream.ipd"


def test_load_stream_refuses_a_uri_outside(repository):
    with pytest.raises(InvalidParameter):
        repository.load_stream("../posted.ipd", ipd().encode())


def test_invalid_stream_names_its_uri(repository):
    with pytest.raises(InvalidDefinition) as info:
        repository.load_stream("sub/posted.ipd", b"<process")
    assert info.value.uri == "sub/posted.ipd" and info.value.line == 1


# -- listing -------------------------------------------------------------------------------------------

def test_list_finds_nested_definitions_sorted(repository, root):
    for uri in ("b.ipd", "a/z.ipd", "a/b/c.ipd", "a.ipd"):
        write(root, uri, ipd())
    write(root, "notes.txt", "not a definition")
    write(root, "a/readme.ipd.bak", "")
    listed = repository.list()
    assert [uri for uri, _ in listed] == ["a.ipd", "a/b/c.ipd", "a/z.ipd", "b.ipd"]
    assert all(path == root / uri for uri, path in listed)


def test_list_of_an_empty_repository(repository):
    assert repository.list() == []


def test_listed_uris_load(repository, root):
    write(root, "x/y.ipd", ipd())
    uri, _path = repository.list()[0]
    assert repository.load(uri).uri == "x/y.ipd"


def test_list_leaves_out_a_symlink_that_leads_outside(repository, root, tmp_path):
    write(root, "good.ipd", ipd())
    (root / "evil.ipd").symlink_to(write(tmp_path, "outside.ipd", ipd()))
    assert [uri for uri, _ in repository.list()] == ["good.ipd"]
