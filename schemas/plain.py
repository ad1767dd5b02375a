"""The plain readings of a data store (issue 15: a 10 MB store in and out at lxml's pace).

A store as clients and this service write one is read here without the XSD or marshmallow, exactly as
the full readings of `schemas.datastore` read it: tests hold the two side by side. Whatever a plain
reading does not decide (a shape it does not know, anything unusual, any mistake) raises Declined, and
the full reading decides, refusal and message included.
"""
from __future__ import annotations

import bisect
import contextlib
import functools
import mmap
import re
import threading
from typing import Any, Callable, Iterator

import orjson
from lxml import etree

from engine.errors import InvalidDataStore
from engine.model.datastore import BINARY, TEXT, XML, DataStore, Value, is_mime_type, kind_of, make_value
from engine.support.safexml import HARDENED, canonical
from schemas.namespaces import DATASTORE, qname

STORE, VALUES, VALUE, ENTRIES, ENTRY, CONTENT = (
    qname(DATASTORE, local) for local in ("dataStore", "values", "value", "entries", "entry", "content"))
WS = " \t\r\n"  # XML's whitespace; other Unicode spaces are content
ANY_WS = re.compile(f"[{WS}]")
NOT_XML_TEXT = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> bool:
    """Whether XML can carry `text`. Printable ASCII (most text) is told in half the pattern's time."""
    return (text.isascii() and text.isprintable()) or NOT_XML_TEXT.search(text) is None


# -- XML --------------------------------------------------------------------------------------------

class Declined(Exception):
    """The plain reading met something it does not decide: the full reading (XSD first) does."""


@functools.lru_cache(maxsize=1024)
def _plain_type(content_type: str | None) -> bool:
    """A content type that both the XSD's pattern and make_value take."""
    return content_type.__class__ is str and _XSD_TYPE.fullmatch(content_type) is not None \
        and is_mime_type(content_type) and not NOT_XML_TEXT.search(content_type)


_XSD_TYPE = re.compile(r"[^ \t\r\n/;]+/[^/;]+(;.*)?", re.DOTALL)


def _plain_id(text: Any) -> str:
    """A value ID as xs:token reads it, or Declined for anything but non-blank text in XML whitespace."""
    if text.__class__ is not str:
        raise Declined
    if text.isalnum():  # most IDs: no whitespace, no character XML cannot carry
        return text
    token = _plain_str(text).strip(WS)
    if not token or ANY_WS.search(token):
        raise Declined
    return token


def xml_tree(root: etree._Element) -> DataStore:
    """A data store as clients and this service write one, read without the XSD (issue 15: a 10 MB
    store in and out at lxml's pace). It takes only documents the XSD takes and reads them exactly as
    the full reading does (a test holds the two side by side); anything else — comments or attributes
    where none belong, a shape it does not know, any mistake — raises Declined, for the full reading."""
    plain = _PlainReading()
    for child in root:
        if child.tag == ENTRY:
            plain.simple_entry(child)
        for item in child if child.tag in (VALUES, ENTRIES) else ():
            if (child.tag, item.tag) == (VALUES, VALUE):
                plain.stored_value(item)
            elif (child.tag, item.tag) == (ENTRIES, ENTRY):
                plain.standard_entry(item)
    return plain.store(root)  # (and anything else is refused there)


STREAM_CHUNK = 1 << 16


def xml_stream(data: bytes, chunk: int = STREAM_CHUNK) -> DataStore:
    """xml_tree for a whole document, read as it is parsed, `chunk` bytes at a time: after each,
    the values and entries that are complete are read and freed, so the parsed tree never holds more
    than a chunk's worth of them (a 10 MB store's whole tree would take five times the document).
    Complete: every element but the last on the path the parser is at."""
    plain = _PlainReading()
    parser = etree.XMLPullParser(events=("start",), tag=STORE, **HARDENED)
    root = None
    try:
        for at in range(0, len(data), chunk):
            parser.feed(data[at:at + chunk])
            if root is None:
                root = next((element for _, element in parser.read_events()), None)
                if root is not None and root.getparent() is not None:
                    raise Declined  # a dataStore element below another root
            if root is not None:
                plain.read_complete(root, final=False)
        closed = parser.close()
    except etree.XMLSyntaxError:
        raise Declined from None
    if root is not closed:
        raise Declined
    plain.read_complete(root, final=True)
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None:
        raise Declined
    return plain.store(root)


class HeldStore:
    """xml_stream's reading of a data store whose tree another parse is building, inside a larger
    document (a SOAP envelope's parameter): `read()` after each piece the parser was fed reads and frees
    what is complete, `store()` once the store's last element has ended. `tidy` has each item before it
    is read, if given (what the larger document's reader would have done to it first). `root` is the dataStore
    element, or, `held`, the element that holds its children in its place (checked by its holder)."""

    def __init__(self, root: etree._Element, tidy: Callable[[etree._Element], Any] | None,
                 held: bool = False) -> None:
        self.root, self.tidy, self.held, self.reading = root, tidy, held, _PlainReading()

    def read(self) -> None:
        self.reading.read_complete(self.root, final=False, tidy=self.tidy)

    def store(self) -> DataStore:
        self.reading.read_complete(self.root, final=True, tidy=self.tidy)
        for frame in (self.root if self.held else (self.root,)) if self.tidy is not None else ():
            self.tidy(frame)  # (a holder's own attributes are its holder's)
        return self.reading.store(self.root, held=self.held)


class _PlainReading:
    """What xml_tree and xml_stream share: each value and entry read where it stands, then the
    frame around them (which the stream has emptied by then) checked."""

    def __init__(self) -> None:
        self.by_id: dict[str, Value] = {}
        self.named: dict[str, tuple[Value, ...]] = {}
        self.simple_values = 0
        self.done = 0  # how many of the root's children the stream has read whole

    def read_complete(self, root: etree._Element, final: bool,
                      tidy: Callable[[etree._Element], Any] | None = None) -> None:
        """Read the root's complete simple entries and its frames' complete items (all of them once the
        document is `final`), and free them: items leave their frame, an entry keeps only its element
        and tail. The frames' own elements, and the entries' places, stay for `store` to check.
        `tidy`, if given, has each complete item first (HeldStore)."""
        children = root[self.done:]
        for offset, child in enumerate(children):
            complete = final or offset < len(children) - 1
            if child.tag == ENTRY:
                if not complete:
                    return
                if tidy is not None:
                    tidy(child)
                self.simple_entry(child)
                child.clear(keep_tail=True)
            elif child.tag in (VALUES, ENTRIES):
                items = child[:] if complete else child[:-1]
                expected, reading = (VALUE, self.stored_value) if child.tag == VALUES else (ENTRY, self.standard_entry)
                for item in items:
                    if item.tag != expected or (item.tail and item.tail.strip(WS)):
                        raise Declined
                    if tidy is not None:
                        tidy(item)
                    reading(item)
                del child[:len(items)]
                if not complete:
                    return
            elif not complete:  # anything else is refused by store(), once it is there whole
                return
            self.done += 1

    def stored_value(self, item: etree._Element) -> None:
        if len(item.attrib) != 2 or len(item) != 1 or (item.text and item.text.strip(WS)):
            raise Declined
        value_id, content_type, content = _plain_id(item.get("id")), item.get("type"), item[0]
        if value_id in self.by_id or content.tag != CONTENT or content.attrib or not _plain_type(content_type) \
                or (content.tail and content.tail.strip(WS)):
            raise Declined
        self.by_id[value_id] = _plain_value(value_id, content_type, content)

    def standard_entry(self, entry: etree._Element) -> None:
        name, by_id = self.entry_name(entry, 1), self.by_id
        refs = []
        for ref in entry:
            if ref.tag != VALUE or ref.attrib or len(ref) or (ref.tail and ref.tail.strip(WS)):
                raise Declined
            value = by_id.get(ref.text) or by_id.get(_plain_id(ref.text))
            if value is None:
                raise Declined
            refs.append(value)
        self.named[name] = tuple(refs)

    def simple_entry(self, entry: etree._Element) -> None:
        content_type, items = entry.get("type"), list(entry)
        name = self.entry_name(entry, 1 + (content_type is not None))
        if (items or content_type is not None) and not _plain_type(content_type):
            raise Declined
        values = []
        for item in items:
            if item.tag != VALUE or item.attrib or (item.tail and item.tail.strip(WS)):
                raise Declined
            self.simple_values += 1
            values.append(_plain_value(str(self.simple_values), content_type, item))
        self.named[name] = tuple(values)

    def entry_name(self, entry: etree._Element, attributes: int) -> str:
        name = entry.get("name")
        if not name or name in self.named or len(entry.attrib) != attributes or (entry.text and entry.text.strip(WS)):
            raise Declined
        return name

    @staticmethod
    def check_tail(element: etree._Element, tag: str) -> None:
        """An element read (`tag`, no other), with nothing but whitespace after it."""
        if element.tag != tag or (element.tail and element.tail.strip(WS)):
            raise Declined

    def store(self, root: etree._Element, held: bool = False) -> DataStore:
        """The store, once the frame holds nothing the reads did not: no attribute, no text, values
        before entries or simple entries alone. `held`: the root is another element in the dataStore's
        place, whose name and attributes its holder has judged."""
        if (not held and (root.tag != STORE or root.attrib)) or (root.text and root.text.strip(WS)):
            raise Declined
        children = list(root)
        tags = [child.tag for child in children]
        simple = bool(tags) and all(tag == ENTRY for tag in tags)
        if not simple and tags not in ([], [VALUES], [ENTRIES], [VALUES, ENTRIES]):
            raise Declined
        for child in children:
            self.check_tail(child, child.tag)
            if not simple:
                if child.attrib or (child.text and child.text.strip(WS)):
                    raise Declined
                for item in child:
                    self.check_tail(item, VALUE if child.tag == VALUES else ENTRY)
        return DataStore.of(self.named)


def _plain_value(value_id: str, content_type: str, content: etree._Element) -> Value:
    kind = kind_of(content_type)
    if not len(content):
        if kind == TEXT:  # most values
            return Value(value_id, content_type, content.text or "")
    elif kind == XML and len(content) == 1:  # one element, whitespace around it at most
        element = content[0]
        if isinstance(element.tag, str) and not (content.text and content.text.strip(WS)) \
                and not (element.tail and element.tail.strip(WS)):
            return Value(value_id, content_type, canonical(element))
    try:
        return make_value(value_id, content_type, xml_content(content, content_type, "value"), parsed=True)
    except InvalidDataStore:
        raise Declined from None


def xml_content(content: etree._Element, content_type: str, what: str) -> str | etree._Element:
    """What make_value takes: the one element for XML types, the exact text (comments left out) else."""
    if not len(content):  # no child at all, not even a comment: its text is all (most values, fast)
        kind = kind_of(content_type)
        if kind == TEXT:
            return content.text or ""
        if kind == BINARY:
            return ANY_WS.sub("", content.text or "")
    elements = [child for child in content if isinstance(child.tag, str)]
    text = (content.text or "") + "".join(child.tail or "" for child in content)
    kind = kind_of(content_type)
    if kind == XML:
        if len(elements) != 1 or text.strip(WS):
            found = f"{len(elements)} element(s)" + (" and text" if text.strip(WS) else "")
            raise InvalidDataStore(f"{what}: content of type {content_type} must be one XML element, "
                                   f"found {found}")
        return elements[0]
    if elements:
        raise InvalidDataStore(f"{what}: content of type {content_type} must be text, not XML")
    return ANY_WS.sub("", text) if kind == BINARY else text


# -- XML by pattern ---------------------------------------------------------------------------------
# The standard form as clients and this service write it, read from its bytes with a few patterns,
# column by column: through element proxies, a 10 MB store's 28,000 values cost about 15 lxml calls
# each, which no tree reading avoids.
#
# Why it reads exactly what lxml would. The patterns take the whole document, tag by tag: the prolog,
# the frame's tags, each value's and entry's tags with their attributes (no tab or line break inside,
# which a parser would make spaces), text without `<` (line ends and references read as a parser reads
# them), and content that holds markup, which lxml parses: each content in a wrapper element whose name
# no content holds, under the namespaces the root declared, a few hundred KB of them at a time. As no
# content can close or open a wrapper, a wrapper document that parses into one wrapper per content
# shows that each content is whole in itself: its tags balanced, its comments, CDATA and instructions
# closed. So every `<` outside them is one of the tags the patterns took, nested as they say. lxml's
# parse of the whole document without a tree (`_NoTree`) vouches for the rest: encoding, characters,
# names, references, well-formedness.

def _bytes_pattern(pattern: str) -> re.Pattern[bytes]:
    return re.compile(pattern.encode("ascii"))


_S = "[ \t\r\n]"
_PROLOG = _bytes_pattern(
    rf"(?:\xef\xbb\xbf)?(?:<\?xml{_S}+version{_S}*={_S}*([\"'])1\.0\1(?:{_S}+encoding{_S}*={_S}*([\"'])(?i:utf-?8)\2)?"
    rf"(?:{_S}+standalone{_S}*={_S}*([\"'])(?:yes|no)\3)?{_S}*\?>)?{_S}*"
    rf"<(?:([A-Za-z_][A-Za-z0-9._-]*):)?dataStore{_S}+xmlns(?::([A-Za-z_][A-Za-z0-9._-]*))?{_S}*={_S}*"
    rf"([\"']){re.escape(DATASTORE)}\6{_S}*>{_S}*")
_ATTRIBUTE = "[^\"<\t\n\r]*"
_ATTRIBUTES = rf"(?:{_S}+[^\s=<>/]+{_S}*={_S}*(?:\"[^\"<]*\"|'[^'<]*'))+"
_ONE_ATTRIBUTE = _bytes_pattern(rf"{_S}+([^\s=<>/]+){_S}*={_S}*(\"[^\"<]*\"|'[^'<]*')")
_REFERENCE = re.compile("&(?:(lt|gt|amp|quot|apos)|#([0-9]+)|#x([0-9a-fA-F]+));|&")
_PREDEFINED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_CHANGED_BY_PARSER = _bytes_pattern("[\t\n\r]")
_WRAPPER, _WRAPPER_NS = b"pe-scanned", b"urn:x-process-engine:scanned"
_WRAPPER_TEXT = _WRAPPER.decode()
_PARSED_AT_ONCE = 1 << 16  # bytes of content parsed in one wrapper document
_SCANNED_AT_ONCE = 1 << 18  # bytes of a section split at a time
_CHECKED_ASIDE = 1 << 20  # a document this long is checked by lxml on a thread of its own (see xml_scan)


def _parser(**target: Any) -> etree.XMLParser:
    """The parser of the plain readings: what the hardened parser takes (engine.support.safexml), with
    its depth limit."""
    return etree.XMLParser(**HARDENED, **target)


class _NoTree:
    """lxml's target for a parse that only checks: no callback, so no tree and no Python per node."""

    def close(self) -> None:
        return None


@functools.lru_cache(maxsize=16)
def _scan_patterns(prefix: str) -> dict[str, Any]:
    """The patterns of a document whose root binds the store's namespace to `prefix` ("": default)."""
    t = re.escape(f"{prefix}:" if prefix else "")
    markup = rf"[^<]*(?:<(?!/{t}content{_S}*>)[^<]*)*"  # content up to its end tag, `<` by `<`
    unbinding = "( xmlns=\"\"| xmlns='')" if prefix else "((?!))"  # (unprefixed, it would move `content` itself)
    return {
        # groups: id, type (as most write them), or other attributes; plain text, empty content, or an
        # `xmlns=""` on the content and its markup
        "values item": _bytes_pattern(
            rf"<{t}value(?: id=\"({_ATTRIBUTE})\" type=\"({_ATTRIBUTE})\"|({_ATTRIBUTES})){_S}*>{_S}*"
            rf"(?:<{t}content>([^<]*)</{t}content>|<{t}content{_S}*/>()"
            rf"|<{t}content{unbinding}?{_S}*>({markup})</{t}content{_S}*>){_S}*</{t}value{_S}*>{_S}*"),
        # groups: name (as most write it), or other attributes; the references (none: `<entry/>`)
        "entries item": _bytes_pattern(
            rf"<{t}entry(?: name=\"({_ATTRIBUTE})\"|({_ATTRIBUTES})){_S}*"
            rf"(?:/>|>((?:{_S}*<{t}value>[^<]*</{t}value>)*){_S}*</{t}entry{_S}*>){_S}*"),
        "reference": _bytes_pattern(rf"<{t}value>([^<]*)</{t}value>"),
        "values": _bytes_pattern(rf"<{t}values{_S}*(/?)>{_S}*"),
        "values end": _bytes_pattern(rf"</{t}values{_S}*>{_S}*"),
        "values end tag": f"</{prefix}:values".encode() if prefix else b"</values",
        "values cut": f"<{prefix}:value".encode() if prefix else b"<value",
        "entries": _bytes_pattern(rf"<{t}entries{_S}*(/?)>{_S}*"),
        "entries end": _bytes_pattern(rf"</{t}entries{_S}*>{_S}*"),
        "entries end tag": f"</{prefix}:entries".encode() if prefix else b"</entries",
        "entries cut": f"<{prefix}:entry".encode() if prefix else b"<entry",
        "end": _bytes_pattern(rf"</{t}dataStore{_S}*>{_S}*"),
    }


def xml_scan(data: bytes | mmap.mmap, at_once: int = _SCANNED_AT_ONCE, aside: int = _CHECKED_ASIDE,
             path: str | None = None) -> DataStore:
    """The standard form, read by pattern (see above); anything else, or anything unusual, is Declined.
    `at_once`: bytes of a section split at a time (see `_section`). A document of `aside` bytes or more
    is checked by lxml on a thread of its own while the patterns read it: lxml lets go of the GIL while
    it parses without a tree, so a 10 MB store's check (about 20 ms) costs no time of the call's.
    `data` may be a memory map of the file at `path` (a large body, spooled as it arrived): lxml then
    reads the file, and the map's pages are let go of as the patterns pass them (see `_let_go`)."""
    head = _PROLOG.match(data)
    if head is None or head.group(4) != head.group(5):
        raise Declined
    with checked_by_lxml(path if path is not None else data if isinstance(data, bytes) else data[:],
                         aside=len(data) >= aside):
        return _scanned(data, head, at_once, len(data), _declarations({_prefix(head) or None: DATASTORE}), 1)


def xml_scan_within(data: bytes, start: int, stop: int, scope: dict[str | None, str], depth: int,
                    at_once: int = _SCANNED_AT_ONCE) -> DataStore:
    """xml_scan of a dataStore element that stands at `data[start:stop]` inside a larger document (a
    SOAP envelope's parameter), read where it stands, with no copy; `scope`: the namespaces in scope at
    the element (by prefix, the default's None; its own declaration of the store's namespace too), in
    which its XML values are read; `depth`: the element's (the root's is 1). Its caller has lxml check the whole larger document
    (`checked_by_lxml`) and makes sure that the element is where it says."""
    head = _PROLOG.match(data, start, stop)
    if head is None or head.start() != start or data[start:start + 1] != b"<" or head.group(4) != head.group(5):
        raise Declined
    return _scanned(data, head, at_once, stop, _declarations(scope), depth)


def _prefix(head: re.Match[bytes]) -> str:
    return (head.group(4) or b"").decode("ascii")


def _declarations(scope: dict[str | None, str]) -> bytes:
    """Namespace declarations of everything in `scope` (xml's aside, which is always in scope)."""
    return b" ".join(b'xmlns%s="%s"' % (b":" + prefix.encode() if prefix else b"", _escaped(uri).encode())
                     for prefix, uri in sorted(scope.items(), key=lambda pair: pair[0] or "") if prefix != "xml")


def _escaped(text: str) -> str:
    """`text` as a double-quoted attribute value a parser reads back as it is: written raw, a tab or a
    line end would be read as a space."""
    return text.translate(_ATTRIBUTE_ESCAPES)


_ATTRIBUTE_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", '"': "&quot;", "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"})


@contextlib.contextmanager
def checked_by_lxml(source: bytes | str, aside: bool) -> Iterator[None]:
    """lxml's parse of the whole document (or the file at the path `source`) without a tree, vouching
    for what the block reads of it by pattern: on a thread of its own while the block runs (`aside`),
    or after it. Declined once the block is done if the document is not well-formed."""
    check = _Check(source)
    if aside:
        check.start()
    try:
        yield
    finally:
        if check.ident is not None:
            check.join()  # (also when the patterns declined: no parse goes on past the call)
    if check.ident is None:
        check.run()
    if not check.well_formed:
        raise Declined


def _let_go(data: bytes | mmap.mmap, upto: int) -> None:
    """Hand back the pages of a mapped document before `upto`, which the reading has passed: they stay
    in the file's cache, out of the worker's memory, while the values they became are made. (Bytes are
    let go of by their holder, after the reading.)"""
    if isinstance(data, mmap.mmap) and upto >= mmap.PAGESIZE:
        data.madvise(mmap.MADV_DONTNEED, 0, upto - upto % mmap.PAGESIZE)


def _scanned(data: bytes, head: re.Match[bytes], at_once: int, stop: int, namespaces: bytes, depth: int) -> DataStore:
    """The store whose open tag `head` matched, at `depth`, which ends at `stop`; its XML values read
    under the `namespaces` declared."""
    patterns = _scan_patterns(_prefix(head))
    by_id: dict[str, Value] = {}
    named: dict[str, tuple[Value, ...]] = {}
    try:
        at = _section(data, head.end(), stop, patterns, at_once, "values", functools.partial(
            _scanned_values, by_id=by_id, namespaces=namespaces, depth=depth + 3))  # (values, value, content)
        at = _section(data, at, stop, patterns, at_once, "entries", functools.partial(
            _scanned_entries, by_id=by_id, named=named, references=patterns["reference"].findall))
    except UnicodeDecodeError:
        raise Declined from None
    end = patterns["end"].match(data, at, stop)
    if end is None or end.end() != stop:
        raise Declined
    return DataStore.of(named)


class _Check(threading.Thread):
    """lxml's parse of the whole document without a tree: run on its own thread (`start`) or in the
    caller's (`run`)."""

    def __init__(self, source: bytes | str) -> None:
        """`source`: the document, or the path of the file that holds it."""
        super().__init__(name="pe-xml-check", daemon=True)
        self.source, self.well_formed = source, False

    def run(self) -> None:
        parser = _parser(target=_NoTree())
        try:
            if isinstance(self.source, bytes):
                etree.fromstring(self.source, parser)
            else:
                etree.parse(self.source, parser)
        except Exception:  # noqa: BLE001 (a syntax error, or anything else: the full reading decides)
            return
        finally:
            self.source = b""
        self.well_formed = True


def _section(data: bytes, at: int, stop: int, patterns: dict[str, Any], at_once: int, name: str,
             read: Callable[[list[bytes], bool], None]) -> int:
    """Read the section `name` if it starts at `at` (and ends before `stop`), and return the position past it.

    Its items are split by their pattern a few hundred KB at a time, at the start of an item, and `read` gets
    each item's groups in a row, and whether the piece holds no `&` and no `\r`: the items of a 10 MB
    store never stand as bytes all at once beside the values they become, and no piece is copied to be
    split. Each piece must be items and nothing else, from its first byte to its last.
    """
    start = patterns[name].match(data, at, stop)
    if start is None:
        return at
    if start.group(1):  # an empty element: <values/>
        return start.end()
    end = data.rfind(patterns[f"{name} end tag"], at, stop)  # items hold no such text, nor does what follows them
    item, cut, at = patterns[f"{name} item"], patterns[f"{name} cut"], start.end()
    with memoryview(data) as view:
        while at < end:
            boundary = data.find(cut, at + at_once, end)
            parts = _items(item, view[at:boundary] if boundary > 0 else b"")
            if parts is None:  # (a cut inside some content, or no cut left): the rest at once
                boundary = end
                parts = _items(item, view[at:end])
                if parts is None:
                    raise Declined
            if boundary - at >= _LONGEST_TEXT and any(part is not None and len(part) >= _LONGEST_TEXT for part in parts):
                raise Declined  # (a text or an attribute value a parse that builds a tree refuses)
            read(parts, data.find(b"&", at, boundary) < 0 and data.find(b"\r", at, boundary) < 0)
            _let_go(data, boundary)
            at = boundary
    closing = patterns[f"{name} end"].match(data, at, stop)
    if closing is None:
        raise Declined
    return closing.end()


# The longest text or attribute value libxml2 takes in a tree without its "huge" option (its check
# without a tree takes longer ones): as bytes, a text is at least as long as it is parsed.
_LONGEST_TEXT = 10_000_000


def _items(item: re.Pattern[bytes], text: bytes | memoryview) -> list[bytes] | None:
    """The groups of the items that make up `text`, in a row; None if it is not items and nothing else.
    Checked first by a match of items in a row, none given back once taken (`++`): a split alone
    searches a piece that is not items for one at every `<`, each try running on to a distant end tag
    (a piece of 256 KB of CDATA written to look like items took 76 s); over items alone it searches
    nothing."""
    if _in_a_row(item).fullmatch(text) is None:
        return None
    parts = item.split(text)
    return parts[1:-1]


@functools.lru_cache(maxsize=64)
def _in_a_row(item: re.Pattern[bytes]) -> re.Pattern[bytes]:
    return re.compile(b"(?:%s)++" % item.pattern)


def _scanned_values(parts: list[bytes], as_is: bool, by_id: dict[str, Value], namespaces: bytes, depth: int) -> None:
    """`as_is`: the piece holds no reference and no `\r`, so its plain text is read as it stands."""
    ids, types, attributes, plain, empty, unbound, markup = (parts[i::8] for i in range(7))
    del parts
    if any(attributes):
        for i, found in enumerate(attributes):
            if found:
                ids[i], types[i] = _scanned_attributes(found, (b"id", b"type"))
    ids = [value_id.decode() if value_id.isalnum() else _plain_id(_unescaped(value_id)) for value_id in ids]
    known = len(by_id)
    by_id.update(zip(ids, ids))  # (placeholders: a value ID given twice shows in the count)
    if len(by_id) != known + len(ids):
        raise Declined
    text_type, decoded = {}, {}
    for content_type in set(types):
        decoded[content_type] = name = _unescaped(content_type)
        if not _plain_type(name):
            raise Declined
        text_type[content_type] = kind_of(name) == TEXT
    rest = [i for i, (content_type, content) in enumerate(zip(types, plain))
            if content is None or not text_type[content_type]]
    contents = [b"" if empty[i] is not None else plain[i] if plain[i] is not None else markup[i] for i in rest]
    types = list(map(decoded.__getitem__, types))
    values = list(map(Value, ids, types, [None if content is None else content.decode() if as_is else _plain_text(content)
                                          for content in plain]))
    if rest:
        for i, content in zip(rest, _parsed_contents(contents, [unbound[i] for i in rest], namespaces, depth)):
            values[i] = _plain_value(ids[i], types[i], content)
    by_id.update(zip(ids, values))


def _parsed_contents(contents: list[bytes], unbound: list[bytes | None], namespaces: bytes, depth: int
                     ) -> Iterator[etree._Element]:
    """Content elements for the contents, parsed a few at a time (see above for why they are the
    document's), each at the `depth` it stood at: a parse that builds a tree refuses an element
    deeper than 256 (its check without a tree took one more)."""
    if any(_WRAPPER in content for content in contents):
        raise Declined
    parser = _parser()
    opening, unbinding, closing = b"<%s:content>" % _WRAPPER, b'<%s:content xmlns="">' % _WRAPPER, \
        b"</%s:content>" % _WRAPPER
    padding = max(0, depth - 2)  # (the wrapper is 1, its contents 2)
    first = 0
    while first < len(contents):
        document, size, last = [b'<%s:all xmlns:%s="%s" %s>' % (_WRAPPER, _WRAPPER, _WRAPPER_NS, namespaces),
                                b"<%s:p>" % _WRAPPER * padding], 0, first
        while last < len(contents) and size < _PARSED_AT_ONCE:
            document += (unbinding if unbound[last] else opening, contents[last], closing)
            size += len(contents[last])
            last += 1
        document += (b"</%s:p>" % _WRAPPER * padding, b"</%s:all>" % _WRAPPER)
        try:
            wrapper = etree.fromstring(b"".join(document), parser)
        except etree.XMLSyntaxError:
            raise Declined from None
        for _ in range(padding):
            wrapper = wrapper[0]
        if len(wrapper) != last - first:
            raise Declined
        yield from wrapper
        first = last


def _scanned_entries(parts: list[bytes], as_is: bool, by_id: dict[str, Value], named: dict[str, tuple[Value, ...]],
                     references: Callable[[bytes], list[bytes]]) -> None:
    for name, attributes, refs in zip(parts[0::4], parts[1::4], parts[2::4]):
        name = _unescaped(_scanned_attributes(attributes, (b"name",))[0] if attributes else name)
        if not name or name in named:
            raise Declined
        ids = [_unescaped(ref) for ref in references(refs)] if refs else ()
        try:  # an ID as it was defined is one (most), else it is read as one
            named[name] = tuple([by_id[ref] if ref in by_id else by_id[_plain_id(ref)] for ref in ids])
        except KeyError:
            raise Declined from None


def _plain_text(raw: bytes) -> str:
    """Text as a parser reads it: line ends made line feeds, then references read."""
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return _unescaped(raw)


def _unescaped(raw: bytes) -> str:
    """Text with references read as a parser reads them (lxml's parse of the whole vouches for them)."""
    text = raw.decode()
    return _REFERENCE.sub(_referenced, text) if "&" in text else text


def _referenced(reference: re.Match[str]) -> str:
    name, decimal, hexadecimal = reference.groups()
    if name:
        return _PREDEFINED[name]
    if decimal or hexadecimal:
        code = int(decimal, 10) if decimal else int(hexadecimal, 16)
        if code <= 0x10FFFF:
            return chr(code)
    raise Declined  # an `&` that starts no reference a parser knows without a DTD


def _scanned_attributes(found: bytes, names: tuple[bytes, ...]) -> list[bytes]:
    """Attributes written otherwise (other quotes, order or spacing): exactly `names`, none normalized."""
    attributes = {name: quoted[1:-1] for name, quoted in _ONE_ATTRIBUTE.findall(found)}
    if sorted(attributes) != sorted(names) or any(_CHANGED_BY_PARSER.search(v) for v in attributes.values()):
        raise Declined
    return [attributes[name] for name in names]


# -- JSON -------------------------------------------------------------------------------------------

def _json_pattern(*tokens: bytes) -> re.Pattern[bytes]:
    """JSON tokens with any whitespace JSON allows between them."""
    return re.compile(rb"[ \t\r\n]*".join(tokens))


_HEAD = _json_pattern(b"", rb"\{", b'"dataStore"', b":", rb"\{", b'"values"', b":", rb"\{", b'"value"', b":", rb"\[")
_NEXT_VALUE = _json_pattern(rb"\}", b"(,)", rb"\{", b'"type"', b":")  # never inside a string: its `"` would end it
_VALUES_END = _json_pattern(rb"\}", rb"\]", rb"\}", b",", b'"entries"', b":")
_PIECE, _PIECE_BYTES = 512, 1 << 18  # values parsed at a time, and their text's length at most
# What in JSON text may stand for a character XML cannot carry: an escape (`\u…`, `\b`, `\f`), or
# U+FFFE or U+FFFF written raw (orjson refuses raw control characters and surrogates). An escaped
# backslash before b, f or u matches too: that only costs the check of each string.
_ESCAPED_NOT_XML, _RAW_NOT_XML = re.compile(rb"\\[bfu]"), re.compile(b"\xef\xbf[\xbe\xbf]")


def _xml_text_throughout(data: bytes | mmap.mmap) -> bool:
    """Whether every string in JSON text `data` is text XML can carry, told from its bytes in one pass:
    string by string, the check took an eighth of a 10 MB store's reading (28,000 values)."""
    return _ESCAPED_NOT_XML.search(data) is None and (data.find(b"\xef") < 0 or _RAW_NOT_XML.search(data) is None)


def json_in_pieces(data: bytes | mmap.mmap, piece: int = _PIECE) -> DataStore:
    """As json_document, for the standard form as this service writes it (values, then entries; `"type"`
    first in each value): its values parsed a few hundred at a time, each piece turned into values
    before the next is read.

    Parsed whole, a 10 MB store's values stood as 28 MB of dicts, lists and strings beside the text
    and the store (issue 15: peak memory). Every piece is cut at a comma between two values; that each
    piece parses as array items shows the cuts lie between items of the values array, so the pieces
    and the rest of the document (parsed apart, with the values array left empty) are exactly the
    document. Text written otherwise is parsed whole; a memory map of it (a large body, spooled as it
    arrived) is Declined then, and its pages are let go of as the pieces are read (see `_let_go`).
    """
    head = _HEAD.match(data)
    last = _VALUES_END.search(data, head.end()) if head else None
    if last is None:
        if not isinstance(data, bytes):
            raise Declined
        return json_document(_parsed(data))
    start, end = head.end(), last.start() + 1  # the values array's items: data[start:end]
    by_id: dict[str, Value] = {}
    commas = [match.start(1) for match in _NEXT_VALUE.finditer(data, start, end)] + [end]
    checked = _xml_text_throughout(data)
    _let_go(data, end)  # (the searches went through it all)
    first = 0
    with memoryview(data) as view:
        while first < len(commas):  # `piece` values at most, and at most _PIECE_BYTES but for one value
            last = max(first, min(first + piece, bisect.bisect_right(commas, start + _PIECE_BYTES, first)) - 1)
            stop = commas[last]
            _plain_values(_parsed(b"".join((b"[", view[start:stop], b"]"))), by_id, checked)
            _let_go(data, stop)
            start, first = stop + 1, last + 1
    body = _plain_body(_parsed(data[:head.end()] + data[end:]))
    if "entry" in body or _plain_list(_plain_dict(body, "values", _BOTH), "value", ("value",)):
        raise Declined
    return _plain_entries(body, by_id)


def _parsed(text: bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # not cut where it seemed, or not JSON: the whole text decides
        raise Declined from None


def _plain_body(obj: Any) -> dict:
    if type(obj) is not dict or len(obj) != 1 or type(obj.get("dataStore")) is not dict:
        raise Declined
    return obj["dataStore"]


def json_document(obj: Any) -> DataStore:
    """As xml_tree for XML: `{"dataStore": …}` as this service writes it, read without marshmallow
    (28,000 values in a twentieth of its time). Only strings where text belongs, arrays where items
    repeat, no key but the known ones, no mistake: anything else raises Declined, for the full reading."""
    body = _plain_body(obj)
    if "entry" in body:
        return _plain_json_simple(_plain_list(body, "entry", ("entry",)))
    by_id: dict[str, Value] = {}
    _plain_values(_plain_list(_plain_dict(body, "values", _BOTH), "value", ("value",)), by_id)
    return _plain_entries(body, by_id)


def _plain_values(items: list, by_id: dict[str, Value], checked: bool = False) -> None:
    """`checked`: every string is known to be text XML can carry (`_xml_text_throughout`)."""
    kinds: dict[str, tuple[str, str]] = {}  # one string for each type (the parser makes one for each
    markup: list[tuple[str, str, Any]] = []  # value: 28,000), and its kind
    for item in items:
        if type(item) is not dict or len(item) != 3:
            raise Declined
        value_id, content_type, content = _plain_id(item.get("id")), item.get("type"), item.get("content")
        if content_type.__class__ is not str or value_id in by_id or type(content) is not dict or len(content) != 1:
            raise Declined
        known = kinds.get(content_type)
        if known is None:
            if not _plain_type(content_type):
                raise Declined
            known = kinds[content_type] = (content_type, kind_of(content_type))
        content_type, kind = known
        texts = content.get("value")
        if type(texts) is not list or len(texts) != 1:
            raise Declined
        if kind == XML:
            by_id[value_id] = None  # (parsed with the others after the loop)
            markup.append((value_id, content_type, texts[0]))
        else:
            by_id[value_id] = _plain_json_value(value_id, content_type, texts[0], kind, checked)
    by_id.update(_xml_values(markup, checked))


def _xml_values(markup: list[tuple[str, str, Any]], checked: bool = False) -> Iterator[tuple[str, Value]]:
    """(value ID, value) for XML values given as text, as _plain_json_value makes them; a text as
    clients and this service write one (one element, nothing around it) is parsed with a few hundred
    KB of others, in one wrapper document, rather than as a document of its own: 2,570 values of a
    10 MB store took 26 ms as documents. Whatever parses otherwise in the wrapper than alone (anything
    around the element, CDATA, the wrapper's name, a mistake, the depth limit) is made alone."""
    together = []
    for value_id, content_type, text in markup:
        if _wrappable(text, checked):
            together.append((value_id, content_type, text))
        else:
            yield value_id, _plain_json_value(value_id, content_type, text, XML)
    first = 0
    while first < len(together):
        size, last = 0, first
        while last < len(together) and size < _PARSED_AT_ONCE:
            size += len(together[last][2])
            last += 1
        batch = together[first:last]
        for (value_id, content_type, text), item in zip(batch, _wrapped(batch)):
            element = item[0] if item is not None and len(item) == 1 and item.text is None else None
            if element is None or element.tail is not None or not isinstance(element.tag, str):
                yield value_id, _plain_json_value(value_id, content_type, text, XML)
            else:
                yield value_id, Value(value_id, content_type, canonical(element))
        first = last


def _wrappable(text: Any, checked: bool) -> bool:
    return text.__class__ is str and text[:1] == "<" and text[-1:] == ">" \
        and _WRAPPER_TEXT not in text and (checked or xml_text(text))


def _wrapped(batch: list[tuple[str, str, str]]) -> list[etree._Element | None]:
    """Each text parsed in a wrapper element of its own, all in one document; Nones if it does not parse
    (each is then made alone, and says why)."""
    document = "".join(["<%s:all xmlns:%s=\"%s\">" % (_WRAPPER_TEXT, _WRAPPER_TEXT, _WRAPPER_NS.decode()),
                        *(f"<{_WRAPPER_TEXT}:v>{text}</{_WRAPPER_TEXT}:v>" for _, _, text in batch),
                        f"</{_WRAPPER_TEXT}:all>"])
    try:
        wrapper = etree.fromstring(document.encode("utf-8"), _parser())
    except etree.XMLSyntaxError:
        return [None] * len(batch)
    return list(wrapper) if len(wrapper) == len(batch) else [None] * len(batch)


def _plain_entries(body: dict, by_id: dict[str, Value]) -> DataStore:
    named: dict[str, tuple[Value, ...]] = {}
    for entry in _plain_list(_plain_dict(body, "entries", _BOTH), "entry", ("entry",)):
        name = _plain_str(entry.get("name")) if type(entry) is dict else None
        if not name or name in named or not entry.keys() <= _NAME_VALUE:
            raise Declined
        refs = _plain_list(entry, "value", ("name", "value"))
        try:  # an ID as it was defined is one (most), else it is read as one
            named[name] = tuple([by_id[ref] if ref.__class__ is str and ref in by_id else by_id[_plain_id(ref)]
                                 for ref in refs])
        except KeyError:
            raise Declined from None
    return DataStore.of(named)


_BOTH, _NAME_VALUE, _NAME_TYPE_VALUE = {"values", "entries"}, {"name", "value"}, {"name", "type", "value"}


def _plain_dict(obj: dict, key: str, keys: set[str]) -> dict:
    """obj[key], an object (`{}` when absent), where obj holds no key but `keys`."""
    if not obj.keys() <= keys:
        raise Declined
    found = obj.get(key, {})
    if type(found) is not dict:
        raise Declined
    return found


def _plain_list(obj: dict, key: str, keys: tuple[str, ...]) -> list:
    """obj[key], an array (empty when absent), where obj holds no key but `keys`."""
    if len(obj) > len(keys) or any(k not in keys for k in obj):
        raise Declined
    found = obj.get(key, [])
    if type(found) is not list:
        raise Declined
    return found


def _plain_str(text: Any) -> str:
    if type(text) is not str or not xml_text(text):
        raise Declined
    return text


def _plain_json_value(value_id: str, content_type: str, text: Any, kind: str | None = None,
                      checked: bool = False) -> Value:
    """`kind`: the type's, where the caller knows it; `checked`: `text`, if a string, is XML's."""
    if text.__class__ is not str or not (checked or xml_text(text)):
        raise Declined
    kind = kind or kind_of(content_type)
    if kind == TEXT:
        return Value(value_id, content_type, text)
    try:
        return make_value(value_id, content_type, ANY_WS.sub("", text) if kind == BINARY else text, parsed=True)
    except InvalidDataStore:
        raise Declined from None


def _plain_json_simple(entries: list) -> DataStore:
    named: dict[str, tuple[Value, ...]] = {}
    value_id = 0
    for entry in entries:
        name = _plain_str(entry.get("name")) if type(entry) is dict else None
        if not name or name in named or not entry.keys() <= _NAME_TYPE_VALUE:
            raise Declined
        texts = _plain_list(entry, "value", ("name", "type", "value"))
        content_type = entry.get("type")
        if content_type is None:
            if texts or "type" in entry:
                raise Declined
        elif content_type.__class__ is not str or not _plain_type(content_type):
            raise Declined
        values = []
        for text in texts:
            value_id += 1
            values.append(_plain_json_value(str(value_id), content_type, text))
        named[name] = tuple(values)
    return DataStore.of(named)
