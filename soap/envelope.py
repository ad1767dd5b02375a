"""The request's envelope, parsed once with the hardened parser's settings (CONTRACT §8) for Spyne to
read. A large one (a data store of megabytes as `processParams`) is parsed in pieces, and each data store
parameter is read as the parse goes, its values and entries freed as soon as they are read: the whole
tree of a 10 MB store takes five times the document (issue 15: peak memory). Spyne then finds those
parameters empty and the operation takes the store read for each (`soap.params`). A dataStore element
in the standard form, as most stubs send it, is read quicker still: from the envelope's bytes, by the
patterns REST reads a document with (`_read_scanned`). Anything a reading does not take — a mistake, a
shape it does not know — goes to the next, and last the envelope is parsed whole and read as a small
one is, so that every refusal says what it says for a small envelope."""
from __future__ import annotations

import re
import secrets
from typing import Callable, Iterator

from lxml import etree

from engine.errors import InvalidParameter
from engine.model.datastore import DataStore
from engine.support.safexml import HARDENED, XmlError, parse
from schemas.datastore import reading_large
from schemas.documents import position
from schemas.namespaces import DATASTORE
from schemas.plain import ENTRIES, ENTRY, STORE, VALUES, WS, Declined, HeldStore, checked_by_lxml, xml_scan_within
from schemas.signatures import SIGNATURES

from .params import tidy_store_item
from .types import XSI

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_ENVELOPE, _HEADER, _BODY = f"{{{SOAP_ENV}}}Envelope", f"{{{SOAP_ENV}}}Header", f"{{{SOAP_ENV}}}Body"
READ_AS_PARSED = 1 << 20  # an envelope this long or longer is parsed in pieces (and no shorter one)
_PIECE = 1 << 16
# For each operation with a data store parameter, their names (the parameters' elements' local names).
_STORES = {operation: frozenset(p.name for p in parameters if p.kind == "datastore")
           for operation, parameters in SIGNATURES.items() if any(p.kind == "datastore" for p in parameters)}
_HELD_TAGS = [f"{{*}}{name}" for name in sorted(set().union(*_STORES.values()))]
Stores = dict[etree._Element, DataStore]  # a parameter's element → the store read from it as it was parsed


def read_envelope(body: bytes, before: Callable[[etree._Element], None] | None = None) -> tuple[etree._Element, Stores]:
    """The envelope, and the data stores its parameters held where they were read as it was parsed.
    `before`, if given, has the envelope once, as soon as its Header has been parsed and before any
    store is read (a stranger's UsernameToken is checked there: nothing of theirs is read first). Its
    Header is whole; the rest may be cut short, or be the envelope's with a store left out."""
    pending = [before] if before is not None else []
    if len(body) >= READ_AS_PARSED:
        for reading in (_read_scanned, _read_as_parsed):
            try:
                with reading_large():
                    return reading(body, pending)
            except (Declined, etree.LxmlError, ValueError):
                pass  # the next reading; last, parsed whole below: as a small envelope is, with its refusals
    envelope = _envelope(body)
    _once(pending, envelope)
    return envelope, {}


def _once(pending: list[Callable[[etree._Element], None]], envelope: etree._Element) -> None:
    while pending:
        pending.pop()(envelope)


def _envelope(body: bytes) -> etree._Element:
    try:
        envelope = parse(body)
    except XmlError as exc:
        raise InvalidParameter("request", f"{position(exc.line, exc.column)}invalid XML: {exc.message}") from None
    except (UnicodeError, ValueError) as exc:
        raise InvalidParameter("request", f"invalid XML: {exc}") from None
    if envelope.tag != _ENVELOPE:
        raise InvalidParameter("request", f"the root element must be Envelope in namespace {SOAP_ENV} (SOAP 1.1)")
    return envelope


def _read_scanned(body: bytes, before: list[Callable[[etree._Element], None]]) -> tuple[etree._Element, Stores]:
    """An envelope whose one large data store parameter holds a dataStore element in the standard form,
    as most clients send it: the store read from the envelope's bytes by pattern, as REST reads a
    document (`schemas.plain.xml_scan_within`; through lxml's element proxies it took 3 µs a value),
    and the envelope around it parsed with the store cut out, a dataStore element left in its place.

    That the patterns read what a parse would: the envelope around must hold the element left in the
    store's place (marked with a value no client can know beforehand) alone in a store parameter of
    its operation, and the namespaces in scope there are those the store's XML values are read in; the
    patterns take the store from its start tag to its end tag, item by item (none with an `xsi:type`);
    and lxml's parse of the whole envelope without a tree, beside them, vouches for the rest
    (schemas.plain, "XML by pattern"). UTF-8 only, and no comment or instruction anywhere. Declined
    otherwise. (Stubs that send the simple form's entries in the dataStore element's place, typed or
    not, are read as parsed: read by pattern in a trial, untyped ones came no quicker, typed ones a
    quarter quicker, for much more code.)"""
    if _encoding(body) not in (b"utf-8", b"utf8") or _MARKUP_FIRST.match(body, _after_bom(body)) is None or \
            _commented(body):
        raise Declined
    opening = _STORE_TAG.search(body)
    if opening is None or opening[1] != opening[2]:
        raise Declined
    name = b"%s%sdataStore" % (opening[1] or b"", b":" if opening[1] else b"")
    start, stop = opening.start(), _end_of_last(body, name, opening.end())
    if len(body) - (stop - start) > _AROUND:
        raise Declined  # (what was found is not the store, or not all of it: the tree around would be large)
    mark = secrets.token_hex(8)
    try:  # (whatever is wrong with it, the readings after this one say)
        envelope = parse(b"".join((body[:start], b'%s %s="%s"/>' % (opening[0][:-1], _MARK, mark.encode()),
                                   body[stop:])))
    except XmlError:
        raise Declined from None
    marked = [element for element in envelope.iter(STORE) if element.get(_MARK) == mark]
    if envelope.tag != _ENVELOPE or len(marked) != 1:
        raise Declined
    store, parameter = marked[0], marked[0].getparent()
    if parameter is None or not _is_store_parameter(parameter) or len(parameter) != 1 or \
            (parameter.text and parameter.text.strip(WS)) or (store.tail and store.tail.strip(WS)):
        raise Declined
    if any(sibling.tag == _HEADER for sibling in parameter.getparent().getparent().itersiblings()):
        raise Declined  # (a Header after the Body may stand where the cut was: the envelope's own is before it)
    del store.attrib[_MARK]
    _once(before, envelope)  # (its Header is the envelope's: it came before the cut, byte for byte)
    with checked_by_lxml(body, aside=True):
        return envelope, {parameter: xml_scan_within(body, start, stop, store.nsmap,
                                                      1 + sum(1 for _ in store.iterancestors()))}


def _end_of_last(body: bytes, name: bytes, after: int) -> int:
    """Where the last end tag of `name` in `body` ends, if after `after`; Declined else."""
    close = body.rfind(b"</" + name, after)
    closing = _END_TAG.match(body, close) if close >= 0 else None
    if closing is None or closing[1] != name:
        raise Declined
    return closing.end()


# An XML name as these patterns take it (ASCII: a name they do not take is read as parsed instead).
_NAME = rb"[A-Za-z_][A-Za-z0-9._-]*"
# A dataStore element's start tag as the standard form has it: declaring the namespace of its name, and nothing else.
_STORE_TAG = re.compile(rb"<(?:(" + _NAME + rb"):)?dataStore[ \t\r\n]+xmlns(?::(" + _NAME + rb"))?"
                        rb"[ \t\r\n]*=[ \t\r\n]*([\"'])" + re.escape(DATASTORE.encode()) + rb"\3[ \t\r\n]*>")
_END_TAG = re.compile(rb"</((?:" + _NAME + rb":)?" + _NAME + rb")[ \t\r\n]*>")
_MARK = b"pe-cut-out"
_AROUND = 1 << 16  # bytes of the envelope around a store read by pattern, at most


def _read_as_parsed(body: bytes, before: list[Callable[[etree._Element], None]]) -> tuple[etree._Element, Stores]:
    """Declined (or the parser's error) for anything `_envelope` should say or read itself."""
    parser = etree.XMLPullParser(events=("start", "end"), tag=_HELD_TAGS, **HARDENED)
    holders: dict[etree._Element, _Holder] = {}
    tidy = _tidying(body)
    for piece in _pieces(body):
        parser.feed(piece)
        for event, element in parser.read_events():
            if event == "start" and _is_store_parameter(element):
                _once(before, element.getroottree().getroot())  # (the Header, if any, came before the Body)
                holders[element] = _Holder(element, tidy)
            elif event == "end" and element in holders:
                holders[element].end()
        for holder in holders.values():
            holder.read()
    envelope = parser.close()
    info = envelope.getroottree().docinfo
    if envelope.tag != _ENVELOPE or info.doctype or info.internalDTD is not None:
        raise Declined
    _once(before, envelope)
    return envelope, {element: holder.stored for element, holder in holders.items() if holder.stored is not None}


def _tidying(body: bytes) -> Callable[[etree._Element], None] | None:
    """What each item of a store needs before it is read (`tidy_store_item`), unless the envelope holds
    no comment or instruction past its declaration and declares no XML Schema instance namespace: then
    none has any (most envelopes, and a check of the bytes is quicker than a look at every item). The
    bytes tell only in an encoding that writes markup as ASCII does (UTF-8, Latin-1; not UTF-16)."""
    if _encoding(body) not in _AS_ASCII or _MARKUP_FIRST.match(body, _after_bom(body)) is None:
        return tidy_store_item
    if _XSI_BYTES in body or _commented(body):
        return tidy_store_item
    return None


def _after_bom(body: bytes) -> int:
    return len(_UTF8_BOM) if body.startswith(_UTF8_BOM) else 0


def _commented(body: bytes) -> bool:
    """Whether the envelope (in an encoding that writes markup as ASCII does) holds a comment or an
    instruction past its declaration."""
    at = _after_bom(body)
    declaration = _DECLARATION.match(body, at)
    return _holds(body, b"<!--", at) or _holds(body, b"<?", declaration.end() if declaration else at)


def _encoding(body: bytes) -> bytes:
    """The encoding the envelope's declaration names (lower case), UTF-8 without one."""
    declaration = _DECLARATION.match(body, _after_bom(body))
    named = _ENCODING.search(declaration[0]) if declaration else None
    return named[1].lower() if named else b"utf-8"


_LOOKS = 64  # places of a mark's second byte looked at one by one, before the rest is searched whole


def _holds(body: bytes, mark: bytes, at: int) -> bool:
    """Whether `mark` (`<` and more) is in `body` from `at` on. Found by its second byte, which most
    envelopes never hold, in a byte search: a search for the whole short mark goes byte by byte (6 to
    9 ms in 10 MB, against 0.3)."""
    found = body.find(mark[1:2], at + 1)
    for _ in range(_LOOKS):
        if found < 0:
            return False
        if body.startswith(mark, found - 1):
            return True
        found = body.find(mark[1:2], found + 1)
    return found >= 0 and body.find(mark, found - 1) >= 0


_UTF8_BOM, _XSI_BYTES, _MARKUP_FIRST = b"\xef\xbb\xbf", XSI.encode(), re.compile(rb"[ \t\r\n]*<[^\x00]")
_DECLARATION = re.compile(rb"<\?xml[^>]*\?>")
_ENCODING = re.compile(rb"encoding[ \t\r\n]*=[ \t\r\n]*[\"']([A-Za-z0-9._-]+)[\"']")
_AS_ASCII = {b"utf-8", b"utf8", b"us-ascii", b"ascii", b"iso-8859-1", b"latin1", b"latin-1"}


def _pieces(body: bytes) -> Iterator[bytes]:
    for at in range(0, len(body), _PIECE):
        yield body[at:at + _PIECE]


def _is_store_parameter(element: etree._Element) -> bool:
    """A data store parameter of an operation: Envelope / Body / operation / the parameter."""
    operation = element.getparent()
    body = operation.getparent() if operation is not None else None
    if body is None or body.tag != _BODY or body.getparent() is None or body.getparent().getparent() is not None:
        return False
    return etree.QName(element).localname in _STORES.get(etree.QName(operation).localname, ())


class _Holder:
    """One data store parameter, read as it is parsed in whichever element shape of CONTRACT §11 it came:
    the dataStore element alone, or its children directly under the parameter. Text (a document as
    text, XML or JSON) is left whole for the parameter's usual reading, as is anything else."""

    def __init__(self, element: etree._Element, tidy: Callable[[etree._Element], None] | None) -> None:
        self.element, self.tidy = element, tidy
        self.reading: HeldStore | None = None
        self.stored: DataStore | None = None
        self.left = False  # whole for the usual reading

    def read(self) -> None:
        reading = self._begun()
        if reading is not None and self.stored is None:
            reading.read()

    def _begun(self) -> HeldStore | None:
        """Its reading, begun once its first element has been parsed; None before, or if it is left."""
        if self.reading is None and not self.left:
            self.reading = self._reading()
        return None if self.left else self.reading

    def _reading(self) -> HeldStore | None:
        element = self.element
        if element.text and element.text.strip(WS):
            self.left = True
            return None
        first = next((child for child in element if isinstance(child.tag, str)), None)
        if first is None:
            return None  # (not yet)
        if first.tag == STORE:
            return HeldStore(first, self.tidy)
        if first.tag in (VALUES, ENTRIES, ENTRY):
            return HeldStore(element, self.tidy, held=True)
        self.left = True
        return None

    def end(self) -> None:
        """The parameter's end was parsed: the store, or Declined for the usual reading to say why not."""
        reading = self._begun()
        if reading is None:
            self.left = True  # (empty, or other content: read as it is)
            return
        element = self.element
        if reading.held:
            if any(not name.startswith(f"{{{XSI}}}") for name in element.attrib):
                raise Declined
        elif (element.text and element.text.strip(WS)) or len(element) != 1 or \
                (reading.root.tail and reading.root.tail.strip(WS)):
            raise Declined
        self.stored = reading.store()
