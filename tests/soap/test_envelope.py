"""A large envelope's data store parameters, read as the envelope is parsed (soap.envelope, issue 15):
the same store as the usual reading of the whole tree gives, in every element shape stubs send, cut
into pieces anywhere; anything that reading would refuse or read otherwise is left to it (the envelope is
then parsed whole, and the refusal is word for word a small envelope's); and the tree of the store is
never in memory whole."""
from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from lxml import etree

from engine.errors import EngineError, InvalidParameter
from engine.model.datastore import XML, DataStore, Value, kind_of, make_value
from schemas.datastore import dump_xml
from soap import envelope as module
from soap.envelope import read_envelope
from schemas.plain import Declined
from soap.params import data_store
from tests.support.common import ROOT
from tests.support.namespaces import DAT, PE
from tests.support.soap import ENV, XS
from tests.support.strategies import shaped_xml, stores

XSI = "http://www.w3.org/2001/XMLSchema-instance"
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PIECES = st.sampled_from([1, 7, 64, 4096, 1 << 20])


def as_parsed(piece: int, scanned: bool = False):
    """Every envelope read as a large one is: as parsed, fed to the parser `piece` bytes at a time; or,
    `scanned`, its store by pattern first where it can be (soap.envelope._read_scanned)."""
    return mock.patch.multiple(module, READ_AS_PARSED=0, _PIECE=piece,
                               **({} if scanned else {"_read_scanned": _declined}))


def _declined(*_args: object) -> None:
    raise Declined


@contextlib.contextmanager
def counting_scans():
    """The stores the patterns read (soap.envelope._read_scanned), as they are read."""
    scanned: list[DataStore] = []

    def counted(real):
        def scan(*args: object) -> DataStore:
            scanned.append(real(*args))
            return scanned[-1]
        return scan
    with mock.patch.object(module, "xml_scan_within", counted(module.xml_scan_within)):
        yield scanned


def envelope(inside: str, operation: str = "run", xsi: bool = True) -> bytes:
    """`xsi`: with the XML Schema instance namespace declared (without it, and without comments, the
    items are read as they are, untidied)."""
    declared = f' xmlns:xsi="{XSI}"' if xsi else ""
    return (f'<e:Envelope xmlns:e="{ENV}"{declared} xmlns:xsd="{XS}" xmlns:pe="{PE}" xmlns:dat="{DAT}">'
            f'<e:Body><pe:{operation}><pe:processUri>echo.ipd</pe:processUri>{inside}</pe:{operation}></e:Body>'
            f'</e:Envelope>').encode()


def parameter(tree: etree._Element) -> etree._Element:
    return tree.find(f"{{{ENV}}}Body/{{{PE}}}run/{{{PE}}}processParams")


def usual(body: bytes) -> DataStore | None:
    """What the whole tree gives: comments and instructions stripped, as Spyne's envelope has none."""
    tree, stores_read = read_envelope(body)  # (a small envelope: parsed whole)
    assert stores_read == {}
    etree.strip_tags(tree, etree.Comment, etree.ProcessingInstruction)
    return data_store("processParams", parameter(tree))


def written(store: DataStore, simple: bool, held: bool, typed: bool, commented: bool) -> str:
    """The store as a stub writes it: the dataStore element, or (`held`) its children under the parameter;
    `typed`, with the xsi:types of JAX-WS, .NET and gSOAP on its structure; `commented`, with a comment
    and an instruction inside its values."""
    document = dump_xml(store, simple)
    for element in document.iter(f"{{{DAT}}}*"):
        name = etree.QName(element).localname
        if typed and name in ("value", "content") and not len(element):
            element.set(f"{{{XSI}}}type", "xsd:string")
        elif typed and name == "entry":
            element.set(f"{{{XSI}}}type", "dat:SimpleEntry" if simple else "dat:Entry")
    if commented:
        for holder in document.iter(f"{{{DAT}}}value", f"{{{DAT}}}content"):
            if len(holder) and isinstance(holder[0].tag, str):  # an XML value's element
                holder[0].insert(0, etree.Comment(" noted "))
                holder[0].append(etree.ProcessingInstruction("pi", "x"))
            elif holder.text:
                holder.insert(0, etree.Comment("c"))
                holder[0].tail, holder.text = holder.text, None
    markup = (etree.tostring(document, encoding="unicode") if not held else
              "".join(etree.tostring(child, encoding="unicode") for child in document))
    return f"<pe:processParams>{markup}</pe:processParams>"


@FUZZ
@given(stores(), st.booleans(), st.booleans(), st.booleans(), st.booleans(), PIECES, st.booleans())
def test_a_store_read_as_parsed_is_the_store_the_whole_tree_gives(store, simple, held, typed, commented, piece,
                                                                  scanned):
    """As parsed, or by pattern where it can be (`scanned`): the dataStore element in the standard form,
    with no xsi:type in it and no comment anywhere, is read by pattern."""
    body = envelope(written(store, simple, held, typed, commented), xsi=typed)
    expected = usual(body)
    with as_parsed(piece, scanned), counting_scans() as scans:
        tree, read = read_envelope(body)
    holder = parameter(tree)
    if not read:  # (an empty parameter: nothing to read as it goes; the usual reading has it)
        assert not len(holder) and data_store("processParams", holder) == expected
        return
    commented = b"<!--" in body or b"<?" in body  # (a store with no value has no comment written)
    typed = b"xsi:type" in body  # (as for comments)
    by_pattern = not held and not typed and not simple
    assert scans == ([expected] if scanned and by_pattern and not commented else [])
    assert list(read) == [holder]
    assert list(read[holder].entries()) == list(expected.entries())
    assert [v.id for v in read[holder].values()] == [v.id for v in expected.values()]
    assert not any(len(frame) for frame in holder.iter(f"{{{DAT}}}values", f"{{{DAT}}}entries"))  # freed


def outcome(read: callable) -> tuple[str, object]:
    try:
        return "store", read()
    except EngineError as error:
        return type(error).__name__, error.message


@FUZZ
@given(shaped_xml(), st.booleans(), PIECES, st.booleans())
def test_what_the_usual_reading_refuses_or_reads_otherwise_is_left_to_it(element, held, piece, scanned):
    if held:
        inside = "".join(etree.tostring(child, encoding="unicode") for child in element)
        inside = f'<pe:processParams xmlns:dat="{DAT}">{inside}</pe:processParams>'
    else:
        inside = f"<pe:processParams>{etree.tostring(element, encoding='unicode')}</pe:processParams>"
    body = envelope(inside, xsi=not scanned)  # (an envelope that declares xsi is never read by pattern)
    expected = outcome(lambda: usual(body))
    with as_parsed(piece, scanned):
        tree, read = read_envelope(body)
    if read:
        assert expected == ("store", read[parameter(tree)])
    else:  # the whole envelope, for the usual reading
        assert outcome(lambda: data_store("processParams", parameter(tree))) == expected


@pytest.mark.parametrize("inside", [
    "<pe:processParams>{&quot;dataStore&quot;: {}}</pe:processParams>",
    "<pe:processParams>&lt;dataStore xmlns=&quot;http://www.infinica.com/datastore&quot;/&gt;</pe:processParams>",
    "<pe:processParams/>",
    '<pe:processParams xsi:nil="true"/>',
    "<pe:processParams><other/></pe:processParams>",
], ids=["json text", "xml text", "empty", "nil", "another element"])
def test_a_parameter_of_text_or_of_another_element_is_left_whole_for_the_usual_reading(inside):
    body = envelope(inside)
    with as_parsed(3):
        tree, read = read_envelope(body)
    assert read == {}
    assert etree.tostring(parameter(tree)) == etree.tostring(parameter(read_envelope(body)[0]))


def test_the_store_of_another_operation_or_elsewhere_in_the_envelope_is_not_read_as_parsed():
    store = DataStore([("a", [Value("1", "text/plain", "x")])])
    inside = written(store, True, False, False, False)
    with as_parsed(64):
        assert read_envelope(envelope(inside, operation="getProcessSnapshot"))[1] == {}
        assert read_envelope(envelope(f"<pe:other>{inside}</pe:other>"))[1] == {}
        constants = inside.replace("processParams", "constants")
        tree, read = read_envelope(envelope(constants, operation="setInstanceConstants"))
    assert list(read.values()) == [store]


@pytest.mark.parametrize("broken, words", [
    (lambda body: body.replace(b"value 7", b"value &bogus; 7", 1), "Entity 'bogus' not defined"),
    (lambda body: body.replace(b"value 7", b"value \x01 7", 1), "invalid XML"),
    (lambda body: body[:-40], "invalid XML"),
    (lambda body: b'<!DOCTYPE e:Envelope [<!ENTITY x "y">]>' + body, "DOCTYPE"),
    (lambda body: body.replace(b"e:Envelope", b"e:Letter"), "the root element must be Envelope"),
    # x at depth 257 (held, the store's items are a level higher): refused by a parse that builds a
    # tree, not by lxml's check without one
    (lambda body: body.replace(b"<x/>", b"<y>" * (248 + (b"dataStore" not in body)) + b"<x/>" +
                               b"</y>" * (248 + (b"dataStore" not in body))), "Excessive depth"),
    (lambda body: body.replace(b"<x/>", b"<y>" * 250 + b"<x/>" + b"</y>" * 250), "Excessive depth"),
    (lambda body: body.replace(b"value 7", b"x" * 10_000_001, 1), "Text node too long"),
], ids=["undefined entity", "control character", "cut short", "doctype", "not an envelope", "one too deep",
        "too deep there", "a text too long"])
@pytest.mark.parametrize("held", [True, False], ids=["held", "dataStore element"])
def test_a_large_envelope_that_is_no_good_is_refused_word_for_word_as_a_small_one(broken, words, held):
    """Read by pattern too (a dataStore element): an XML value nested as deep as the parser takes it in
    a document of its own, but not inside the envelope, is refused as it is in the envelope; so is one
    nested one level deeper than a parse that builds a tree takes, and a text longer than it takes."""
    store = DataStore([(f"e{n}", [Value(str(n), "text/plain", f"value {n}")]) for n in range(40)] +
                      [("deep", [make_value("x", "text/xml", "<x/>")])])
    body = broken(envelope(written(store, False, held, False, False), xsi=False))
    with pytest.raises(InvalidParameter) as whole:
        read_envelope(body)
    for scanned in (False, True):
        with as_parsed(16, scanned), pytest.raises(InvalidParameter) as piecewise:
            read_envelope(body)
        assert piecewise.value.message == whole.value.message and words in whole.value.message


PEAK = """
import sys
from soap.envelope import _envelope, read_envelope
from schemas.plain import Declined
from soap.params import data_store
def peak():
    return next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM"))
body = open(sys.argv[1], "rb").read()
before = peak()
if sys.argv[2] == "whole":  # what a call did before: the whole tree, then its parameter read
    data_store("processParams", _envelope(body).find(".//{http://www.infinica.com/process-engine}processParams"))
else:
    read_envelope(body)
print(peak() - before)
"""


def test_a_large_store_is_never_a_whole_tree_in_memory(tmp_path):
    """A 10 MB envelope of 30,000 short values, as stubs write it: its whole tree takes several times
    the document; read as parsed, the store and a piece of the tree at a time."""
    store = DataStore([(f"e{n}", [Value(str(n), "text/plain", f"value {n} " + "x" * 300)]) for n in range(30_000)])
    body = envelope(written(store, False, True, True, False))
    (tmp_path / "envelope").write_bytes(body)
    grown = {}
    for how in ("whole", "as parsed"):
        done = subprocess.run([sys.executable, "-c", PEAK, str(tmp_path / "envelope"), how], cwd=ROOT,
                              capture_output=True, text=True, timeout=120, check=True)
        grown[how] = int(done.stdout)
    assert grown["as parsed"] < grown["whole"] / 2, grown


def test_an_xml_value_read_as_parsed_keeps_its_namespaces_from_the_envelope():
    """A prefix an XML value uses may be declared on the Envelope: the value is read with it."""
    inside = ('<pe:processParams><dat:entry name="x" type="text/xml"><dat:value><o:order id="1"/></dat:value>'
              '</dat:entry></pe:processParams>')
    body = envelope(inside).replace(b"<e:Envelope ", b'<e:Envelope xmlns:o="urn:shop" ')
    with as_parsed(5):
        tree, read = read_envelope(body)
    (stored,) = read.values()
    (value,) = stored.get("x")
    assert kind_of(value.type) == XML and value.content == '<o:order xmlns:o="urn:shop" id="1"></o:order>'
    assert stored == usual(body)


@pytest.mark.parametrize("piece", [None, 6])
def test_an_xml_value_keeps_the_prefixes_it_came_with_in_the_stubs_shape(piece):
    """Its namespace also declared on the Envelope as dat: the value still says q, as sent (the usual
    reading once moved the parameter's children under a new element, and lxml renamed q to dat)."""
    inside = (f'<pe:processParams><dat:entry name="x" type="text/xml"><dat:value><q:X xmlns:q="{DAT}" '
              f'xsi:type="q:T"/></dat:value></dat:entry></pe:processParams>')
    body = envelope(inside)
    if piece is None:
        stored = usual(body)
    else:
        with as_parsed(piece):
            (stored,) = read_envelope(body)[1].values()
    assert stored.get("x")[0].content == (f'<q:X xmlns:q="{DAT}" xmlns:xsi="{XSI}" xsi:type="q:T"></q:X>')


@pytest.mark.parametrize("encoded", [
    lambda text: text.encode("utf-16"),
    lambda text: b"\xef\xbb\xbf" + text.encode(),
    lambda text: '<?xml version="1.0" encoding="ISO-8859-1"?>'.encode() + text.encode("latin-1"),
], ids=["utf-16", "utf-8 with a byte order mark", "latin-1 declared"])
def test_an_envelope_in_any_encoding_is_tidied_as_the_usual_reading_tidies_it(encoded):
    """Whether a store's items need tidying is told from the bytes only where markup is written as
    ASCII writes it; UTF-16's comments and xsi:types are found by looking, as the usual reading does."""
    store = DataStore([("a", [Value("1", "text/plain", "caf\xe9 au lait")]),
                       ("b", [make_value("2", "text/xml", "<o><i>1</i></o>")])])  # (written with an instruction)
    body = encoded(envelope(written(store, False, True, True, True)).decode())
    with as_parsed(16):
        tree, read = read_envelope(body)
    assert list(read.values()) == [store] == [usual(body)]


@pytest.mark.parametrize("piece", [None, 64])
@pytest.mark.parametrize("held", [True, False], ids=["held", "dataStore element"])
def test_what_is_to_come_before_the_stores_has_the_envelope_with_its_header_before_any_is_read(piece, held,
                                                                                               monkeypatch):
    """A stranger's UsernameToken is checked with the Header as soon as it is parsed: refused, nothing of
    their store is read (read whole, the envelope is parsed first, and then checked). A dataStore
    element is read by pattern: not before either."""
    from engine.errors import Unauthenticated

    store = DataStore([(f"e{n}", [Value(str(n), "text/plain", "x")]) for n in range(50)])
    body = envelope(written(store, False, held, False, False), xsi=False).replace(
        b"<e:Body>", b"<e:Header><t:token xmlns:t='urn:t'>no</t:token></e:Header><e:Body>")
    seen = []

    def refuse(root):
        seen.append(root.find(f"{{{ENV}}}Header/{{urn:t}}token").text)
        raise Unauthenticated("no")
    for reader in ("HeldStore", "xml_scan_within"):
        monkeypatch.setattr(module, reader, lambda *args, **kwargs: pytest.fail("a store was read"))
    with (as_parsed(piece, scanned=True) if piece else mock.patch.object(module, "READ_AS_PARSED", 1 << 30)):
        with pytest.raises(Unauthenticated):
            read_envelope(body, refuse)
    assert seen == ["no"]
    monkeypatch.undo()
    with as_parsed(64, scanned=True):  # let in: the stores are read, and it was asked once, with the Header
        asked = []
        tree, read = read_envelope(body, lambda root: asked.append(root.find(f"{{{ENV}}}Header/{{urn:t}}token").text))
    assert asked == ["no"] and list(read.values()) == [usual(body)]


@FUZZ
@given(st.lists(st.sampled_from([b"!", b"?", b"<", b"-", b"<!", b"<?", b"<!--", b"<![CDATA[", b"x", b"?>"]),
                max_size=40), st.integers(0, 3), st.sampled_from([b"<!--", b"<?"]), st.integers(0, 5))
def test_a_comment_or_an_instruction_is_found_in_the_bytes_however_many_look_like_one(parts, at, mark, looks):
    """Whether the envelope holds a comment or an instruction (then its items are tidied) is told from
    the second byte of each: every place of it looked at, then the rest searched whole."""
    body = b"".join(parts)
    with mock.patch.object(module, "_LOOKS", looks):
        assert module._holds(body, mark, at) == (body.find(mark, at) >= 0)


STORE = (f'<dataStore xmlns="{DAT}"><values><value id="1" type="text/xml"><content><order/></content></value>'
         '<value id="2" type="text/plain"><content>caf\xe9</content></value></values>'
         '<entries><entry name="x"><value>1</value><value>2</value></entry></entries></dataStore>')
PREFIXED = (f'<d:dataStore xmlns:d="{DAT}"><d:values><d:value id="1" type="text/xml"><d:content><order/></d:content>'
            '</d:value><d:value id="2" type="text/plain"><d:content>caf\xe9</d:content></d:value></d:values>'
            '<d:entries><d:entry name="x"><d:value>1</d:value><d:value>2</d:value></d:entry></d:entries></d:dataStore>')
# (zeep declares a prefix on each entry; each XML value's unprefixed names are the operation's)
ZEEP = (f'<ns1:entry xmlns:ns1="{DAT}" name="x" type="text/xml"><ns1:value><order n="1"/></ns1:value>'
        f'<ns1:value> <order/> </ns1:value></ns1:entry><ns2:entry xmlns:ns2="{DAT}" name="y" type="text/plain">'
        f'<ns2:value>a &amp; b</ns2:value><ns2:value/></ns2:entry><ns4:entry xmlns:ns1="urn:x" xmlns:ns4="{DAT}" '
        'name="z"/>')
TYPED_INSIDE = STORE.replace("<order/>", '<order xsi:type="xsd:int"/>')
TYPED = STORE.replace("<content>caf", '<content xsi:type="xsd:string">caf')
OPERATION = f"<e:Envelope xmlns:e=\"{ENV}\"><e:Body><run xmlns=\"{PE}\"><processUri>echo.ipd</processUri>"


@pytest.mark.parametrize("body, by_pattern", [
    (f"{OPERATION}<processParams>{STORE}</processParams></run></e:Body></e:Envelope>".encode(), True),
    # under the operation's default namespace, `order` is in it (in a document of its own, in none)
    (f"{OPERATION}<processParams>{PREFIXED}</processParams></run></e:Body></e:Envelope>".encode(), True),
    (envelope(f"<pe:processParams>{PREFIXED}</pe:processParams>", xsi=False), True),
    # a store's tags in other text, before and after it
    (f'{OPERATION.replace("echo.ipd", f"<![CDATA[{STORE[:60]}]]>")}<processParams>{STORE}</processParams>'
     f'<externalId><![CDATA[</dataStore>]]></externalId></run></e:Body></e:Envelope>'.encode(), False),
    # two stores (the second another parameter's, and of another operation's): neither is read by pattern
    (f"{OPERATION}<processParams>{STORE}</processParams><constants>{STORE}</constants></run></e:Body>"
     f"</e:Envelope>".encode(), False),
    # a store's text in Latin-1: read as UTF-8, it would be another
    (b'<?xml version="1.0" encoding="ISO-8859-1"?>' +
     f"{OPERATION}<processParams>{STORE}</processParams></run></e:Body></e:Envelope>".encode("latin-1"), False),
    # the element left in the store's place, sent by the client: no other element is taken for it
    (f"{OPERATION}<processParams>{STORE}</processParams></run></e:Body></e:Envelope>".encode().replace(
        b"<processUri>", b'<processUri><dataStore xmlns="%s" pe-cut-out="1"/>' % DAT.encode()), True),
    # xsi declared, and used in an XML value (not on the store's structure): its prefix is the envelope's
    (f"{OPERATION}<processParams>{TYPED_INSIDE}</processParams></run></e:Body></e:Envelope>".encode().replace(
        b"<e:Envelope ", b'<e:Envelope xmlns:xsi="%s" xmlns:xsd="%s" ' % (XSI.encode(), XS.encode())), True),
    # an xsi:type on its structure, which the usual reading leaves out
    (f"{OPERATION}<processParams>{TYPED}</processParams></run></e:Body></e:Envelope>".encode().replace(
        b"<e:Envelope ", b'<e:Envelope xmlns:xsi="%s" xmlns:xsd="%s" ' % (XSI.encode(), XS.encode())), False),
    # the simple form's entries in its place, as stubs write them (zeep: a prefix declared on each)
    (f"{OPERATION}<processParams>{ZEEP}</processParams></run></e:Body></e:Envelope>".encode(), False),
], ids=["default namespace", "prefixed under a default namespace", "prefixed", "its tags in other text",
        "two stores", "latin-1", "a look-alike of what is left", "xsi in an XML value", "an xsi:type on it",
        "entries in its place"])
def test_a_store_is_read_by_pattern_only_where_that_reads_what_the_parse_does(body, by_pattern):
    """Its XML values in the namespaces in scope where it stands in the envelope."""
    expected = outcome(lambda: usual(body))
    with as_parsed(16, scanned=True), counting_scans() as scans:
        read = outcome(lambda: list(read_envelope(body)[1].values()))
    assert read == (expected[0], [expected[1]]) if expected[0] == "store" else read == ("store", [])
    assert len(scans) == by_pattern
    if by_pattern:
        assert scans == [expected[1]]


def test_what_is_to_come_before_the_store_has_the_envelope_s_own_header_however_the_store_was_cut():
    """The store's start tag in one Body and another's end tag in a second, with a Header between (the
    envelope's first, the one read) and one after: the envelope with the store cut out would have only
    the one after. It is not what a stranger's token is checked on (read as parsed, the store's
    parameter comes before any Header: none is there to check, and the stranger is refused)."""
    def header(token):
        return f'<e:Header><t:token xmlns:t="urn:t">{token}</t:token></e:Header>'
    inside = written(DataStore([("a", [Value("1", "text/plain", "x")])]), False, False, False, False)
    assert "<dat:dataStore" in inside  # (the cut: from its start tag to the last end tag of its name)
    body = envelope(inside, xsi=False).replace(b"</e:Envelope>", (
        header("mallory") + f'<e:Body><pe:run><pe:processParams><dat:dataStore xmlns:dat="{DAT}">x</dat:dataStore>'
        "</pe:processParams></pe:run></e:Body>" + header("alice") + "</e:Envelope>").encode())
    seen = {}
    for how, reading in (("small", contextlib.nullcontext()), ("large", as_parsed(64, scanned=True))):
        asked = seen[how] = []
        with reading:
            try:
                read_envelope(body, lambda root: asked.append(root.findtext(f"{{{ENV}}}Header/{{urn:t}}token")))
            except InvalidParameter:
                pass
    assert seen["small"] == ["mallory"] and seen["large"] in (["mallory"], [None])


def test_a_piece_that_only_looks_like_items_is_declined_in_time_linear_in_it():
    """A value the patterns do not take (an xsi:type on its content, as typed stubs write it) whose text
    holds thousands of look-alike items: the patterns once searched it for an item at every `<`, each
    search running on to its end (76 s for 256 KB). Read as the usual reading reads it."""
    inner = '<value id="1" type="t"><content>' * 8000 + "</content>x"
    store = (f'<dataStore xmlns="{DAT}"><values><value id="0" type="text/plain"><content xsi:type="xsd:string">'
             f"<![CDATA[{inner}]]></content></value></values><entries><entry name=\"a\"><value>0</value></entry>"
             "</entries></dataStore>")
    body = envelope(f"<pe:processParams>{store}</pe:processParams>", xsi=True)
    started = time.perf_counter()
    with as_parsed(1 << 16, scanned=True):
        tree, read = read_envelope(body)
    assert time.perf_counter() - started < 10  # (0.03 s; 76 s before: no busy machine comes near it)
    assert list(read.values()) == [usual(body)]
