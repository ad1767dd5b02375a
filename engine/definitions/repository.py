"""The definition repository: a folder of IPD files addressed by `processUri`, and a parse cache.

A URI is a path relative to the folder (a leading `/` means the folder itself, not the file system's
root); whatever resolves outside it (`..` too far up, a symlink that leads out) is refused. Parsed definitions are cached by URI and content revision (SHA-256), and a
file is re-read only when its size, mtime or inode changed — or when a caller says `cache=false`.
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from ..support.clock import now
from ..errors import InvalidParameter, NotFound
from .elements import Definition
from .parser import parse_definition

_MAX_PARSED = 512


@dataclass(frozen=True)
class LoadedDefinition:
    uri: str                # normalised, relative to the repository
    location: str
    revision: str
    origin: str             # repository | stream
    changed_at: datetime
    source: bytes
    definition: Definition


class DefinitionRepository:
    def __init__(self, root: Path, modules: Mapping[str, Any], cache: bool = True) -> None:
        self.root = Path(root).resolve()
        self._root_text = str(self.root)  # joined as text per load: a Path per request costs more than the stat
        self.modules = modules
        self.cache_enabled = cache
        self._lock = threading.Lock()
        self._files: dict[str, tuple[tuple[int, int, int, int], LoadedDefinition]] = {}
        self._parsed: OrderedDict[str, Definition] = OrderedDict()

    # -- addressing ------------------------------------------------------------------------------
    def normalise(self, uri: str, base: str | None = None) -> str:
        """The repository-relative form of `uri` (relative to `base`'s folder when given)."""
        if not isinstance(uri, str) or not uri.strip():
            raise InvalidParameter("processUri", "is empty")
        if "\\" in uri or "\x00" in uri or "://" in uri or uri.startswith("file:"):
            raise InvalidParameter("processUri", f"{uri!r} is not a path inside the repository")
        if uri.startswith("/"):
            joined = uri.lstrip("/")
        else:
            joined = posixpath.join(posixpath.dirname(base), uri) if base else uri
        normal = posixpath.normpath(joined)
        if normal in (".", "") or normal == ".." or normal.startswith("../"):
            raise InvalidParameter("processUri", f"{uri!r} resolves outside the repository")
        return normal

    def path_of(self, uri: str) -> Path:
        path = (self.root / uri).resolve()
        if not path.is_relative_to(self.root):
            raise InvalidParameter("processUri", f"{uri!r} resolves outside the repository")
        return path

    # -- loading ---------------------------------------------------------------------------------
    def load(self, uri: str, cache: bool = True, base: str | None = None) -> LoadedDefinition:
        """The definition at `uri`: NotFound if there is no such file, InvalidDefinition if it is bad.

        A cached definition is reused while the file (followed through symlinks) is the same inode
        with the same size and mtime; anything else re-resolves the path and checks it again.
        """
        uri = self.normalise(uri, base)
        try:
            stat = os.stat(os.path.join(self._root_text, uri))
        except OSError:
            raise NotFound("definition", uri) from None
        key = (stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_size)
        use_cache = cache and self.cache_enabled
        held = self._files.get(uri)  # one dict read: no lock, which every request thread would queue on
        if use_cache and held is not None and held[0] == key:
            return held[1]
        path = self.path_of(uri)
        try:
            if not path.is_file():
                raise NotFound("definition", uri)
            source = path.read_bytes()
        except OSError:
            raise NotFound("definition", uri) from None
        changed = datetime.fromtimestamp(stat.st_mtime, timezone.utc).replace(microsecond=0)
        loaded = self._build(uri, source, "repository", changed, use_cache)
        with self._lock:
            self._files[uri] = (key, loaded)
        return loaded

    def load_stream(self, uri: str | None, source: bytes, changed_at: datetime | None = None) -> LoadedDefinition:
        """A definition posted as a stream; `uri` only serves as its base for relative URIs."""
        uri = self.normalise(uri) if uri else "stream.ipd"
        return self._build(uri, source, "stream", changed_at or now(), True)

    def _build(self, uri: str, source: bytes, origin: str, changed: datetime, use_cache: bool) -> LoadedDefinition:
        revision = hashlib.sha256(source).hexdigest()
        definition = self._parsed_cache(revision) if use_cache else None
        if definition is None:
            definition = parse_definition(source, uri, self.modules)
            with self._lock:
                self._parsed[revision] = definition
                while len(self._parsed) > _MAX_PARSED:
                    self._parsed.popitem(last=False)
        return LoadedDefinition(uri, uri, revision, origin, changed, source, definition)

    def _parsed_cache(self, revision: str) -> Definition | None:
        with self._lock:
            found = self._parsed.get(revision)
            if found is not None:
                self._parsed.move_to_end(revision)
            return found

    def clear(self, uris: list[str] | None = None, revisions: list[str] | None = None) -> int:
        """Forget cached definitions: all (no arguments), or those of the given URIs and the parsed
        definitions of the given content revisions (posted streams live only there); how many went."""
        with self._lock:
            if uris is None and revisions is None:
                count = len(self._files) + len(self._parsed)
                self._files.clear()
                self._parsed.clear()
                return count
            count = 0
            for uri in uris or ():
                held = self._files.pop(self.normalise(uri), None)
                if held is not None:
                    self._parsed.pop(held[1].revision, None)
                    count += 1
            for revision in revisions or ():
                count += self._parsed.pop(revision, None) is not None
            return count

    def cache_stats(self) -> dict[str, int]:
        """How much the caches hold: definition files, parsed revisions, and the latter's capacity."""
        with self._lock:
            return {"files": len(self._files), "parsed": len(self._parsed), "capacity": _MAX_PARSED}

    def list(self) -> list[tuple[str, Path]]:
        """Every *.ipd file under the root that `load` would accept, as (uri, path), sorted by URI."""
        found = []
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                path = Path(folder) / name
                if name.endswith(".ipd") and path.resolve().is_relative_to(self.root):
                    found.append((path.relative_to(self.root).as_posix(), path))
        return sorted(found)
