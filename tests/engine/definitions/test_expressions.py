"""XPath expressions over the pipeline (CONTRACT §7): entries as variables, typed results, the pe:
functions, attribute value templates, and the sandbox."""
from __future__ import annotations

import itertools
import re
import threading
from datetime import datetime, timedelta, timezone

import pytest

from engine.model.datastore import DataStore, Value, make_value
from engine.definitions.expressions import (FUNCTIONS, Expression, ExpressionSyntaxError, Template,
                                            format_number)
from engine.faults import Fault


class Scope:
    """What an expression sees of an instance: a pipeline, constants, attributes and instance facts."""

    def __init__(self, pipeline: DataStore | None = None, constants: DataStore | None = None,
                 attributes: dict[str, str] | None = None, info: dict[str, str] | None = None) -> None:
        self.pipeline = pipeline if pipeline is not None else DataStore()
        self.constants = constants if constants is not None else DataStore()
        self.attributes = attributes or {}
        self.facts = info or {}

    def entry(self, name: str) -> tuple[Value, ...] | None:
        return self.pipeline.get(name) if name in self.pipeline else None

    def constant(self, name: str) -> tuple[Value, ...]:
        return self.constants.get(name)

    def attribute(self, name: str) -> str:
        return self.attributes.get(name, "")

    def info(self, name: str) -> str:
        return self.facts.get(name, "")


def text(value_id: str, content: str, content_type: str = "text/plain") -> Value:
    return make_value(value_id, content_type, content)


@pytest.fixture
def pipeline() -> DataStore:
    store = DataStore()
    store.set("x", [text("x1", "41")])
    store.set("list", [text("l1", "10"), text("l2", "20"), text("l3", "30")])
    store.set("order", [text("o1", '<order id="7"><item>a</item><item>b</item></order>', "text/xml")])
    store.set("bin", [make_value("b1", "application/octet-stream", b"hi")])
    store.set("name", [text("n1", "Ada")])
    store.set("empty", [])
    return store


@pytest.fixture
def scope(pipeline: DataStore) -> Scope:
    return Scope(pipeline)


@pytest.fixture
def new_id():
    counter = itertools.count(1)
    return lambda: f"new{next(counter)}"


def ev(source: str, scope: Scope, namespaces: dict[str, str] | None = None):
    return Expression(source, namespaces or {}).evaluate(scope)


def string(source: str, scope: Scope) -> str:
    return Expression(source, {}).string(scope)


def values(source: str, scope: Scope, new_id, content_type: str | None = None,
           namespaces: dict[str, str] | None = None) -> list[Value]:
    return Expression(source, namespaces or {}).values(scope, content_type, new_id)


# -- entries as node-sets ---------------------------------------------------------------------------

def test_text_entry_takes_part_in_arithmetic(scope):
    assert ev("$x + 1", scope) == 42.0


def test_count_of_a_multi_valued_entry(scope):
    assert ev("count($list)", scope) == 3.0


def test_count_of_an_entry_without_values(scope):
    assert ev("count($empty)", scope) == 0.0


def test_positional_predicate_picks_one_value(scope):
    assert string("$list[2]", scope) == "20"


def test_sum_of_values(scope):
    assert ev("sum($list)", scope) == 60.0


def test_concat_reads_the_text(scope):
    assert ev("concat('a', $x)", scope) == "a41"
    assert ev("concat('Hi ', $name, '!')", scope) == "Hi Ada!"


@pytest.mark.parametrize("source, expected", [
    ("$x > 40", True), ("$x < 40", False), ("$x = '41'", True), ("$x = 41", True), ("$x != 41", False),
    ("$list = 20", True), ("$list = 25", False), ("$name = 'Ada'", True),
])
def test_comparisons(scope, source, expected):
    assert ev(source, scope) is expected


def test_xml_value_is_navigable(scope):
    assert ev("count($order/item)", scope) == 2.0
    assert string("$order/item[2]", scope) == "b"


def test_xml_attribute_is_readable(scope):
    assert string("$order/@id", scope) == "7"


def test_binary_value_reads_as_base64(scope):
    assert string("$bin", scope) == "aGk="


def test_entry_names_with_dots_are_variables():
    scope = Scope(DataStore([("error.type", [text("e", "Boom")])]))
    assert string("concat($error.type, '!')", scope) == "Boom!"


def test_as_boolean_wraps_the_expression():
    scope = Scope(DataStore([("list", [text("1", "0")])]))
    assert Expression("$list", {}, as_boolean=True).evaluate(scope) is True
    assert Expression("$list = 1", {}, as_boolean=True).evaluate(scope) is False


def test_boolean_and_string_helpers(scope):
    assert Expression("$x > 1", {}).boolean(scope) is True
    assert Expression("count($list)", {}).string(scope) == "3"


def test_undefined_variable_is_an_expression_error_naming_it(scope):
    with pytest.raises(Fault) as info:
        ev("$nope + $x", scope)
    assert info.value.type == "ExpressionError"
    assert "$nope" in info.value.message and "$x," not in info.value.message


def test_variable_inside_a_string_literal_is_not_required(scope):
    assert ev("concat('$missing', 1)", scope) == "$missing1"


# -- identity and typed results ----------------------------------------------------------------------

def test_values_of_an_entry_are_the_very_same_objects(scope, pipeline, new_id):
    result = values("$list", scope, new_id)
    assert len(result) == 3 and all(a is b for a, b in zip(result, pipeline.get("list")))


def test_xml_and_binary_values_keep_their_identity(scope, pipeline, new_id):
    assert values("$order", scope, new_id)[0] is pipeline.get("order")[0]
    assert values("$bin", scope, new_id)[0] is pipeline.get("bin")[0]


def test_identity_survives_a_predicate_and_a_union(scope, pipeline, new_id):
    result = values("$list[. > 15] | $x", scope, new_id)
    assert {id(v) for v in result} == {id(pipeline.get("x")[0]), id(pipeline.get("list")[1]),
                                       id(pipeline.get("list")[2])}


def test_same_type_keeps_identity_other_type_copies(scope, pipeline, new_id):
    assert values("$x", scope, new_id, "text/plain")[0] is pipeline.get("x")[0]
    copy = values("$x", scope, new_id, "application/json")[0]
    assert (copy.id, copy.type, copy.content) == ("new1", "application/json", "41")


def test_computed_results_get_new_ids_and_text_plain(scope, new_id):
    assert values("$x + 1", scope, new_id) == [Value("new1", "text/plain", "42")]


def test_xml_navigation_yields_new_xml_values(scope, new_id):
    result = values("$order/item", scope, new_id)
    assert [(v.id, v.type, v.content) for v in result] == [
        ("new1", "text/xml", "<item>a</item>"), ("new2", "text/xml", "<item>b</item>")]


def test_xml_navigation_as_text_plain_takes_the_text(scope, new_id):
    assert [v.content for v in values("$order/item", scope, new_id, "text/plain")] == ["a", "b"]


def test_attribute_node_yields_its_text(scope, new_id):
    assert [(v.type, v.content) for v in values("$order/@id", scope, new_id)] == [("text/plain", "7")]


def test_empty_node_set_yields_no_values(scope, new_id):
    assert values("/..", scope, new_id) == []
    assert values("$empty", scope, new_id) == []


def test_binary_value_as_text_plain_is_its_base64(scope, new_id):
    assert values("$bin", scope, new_id, "text/plain")[0].content == "aGk="


def test_string_result_as_text_xml_is_parsed(scope, new_id):
    assert values("'<a>x</a>'", scope, new_id, "text/xml") == [Value("new1", "text/xml", "<a>x</a>")]


def test_string_result_that_is_not_xml_is_a_fault(scope, new_id):
    with pytest.raises(Fault) as info:
        values("'<a>'", scope, new_id, "text/xml")
    assert info.value.type == "ExpressionError" and "text/xml" in info.value.message


def test_base64_result_as_octet_stream_is_decoded(scope, new_id):
    assert values("'aGk='", scope, new_id, "application/octet-stream")[0].content == b"hi"


def test_bad_base64_result_as_octet_stream_is_a_fault(scope, new_id):
    with pytest.raises(Fault) as info:
        values("'!!not base64'", scope, new_id, "application/octet-stream")
    assert info.value.type == "ExpressionError" and "base64" in info.value.message


@pytest.mark.parametrize("source, expected", [
    ("1 = 1", "true"), ("1 = 2", "false"), ("$x + 1", "42"), ("0.1 + 0.2", "0.30000000000000004"),
    ("1 div 0", "Infinity"), ("-1 div 0", "-Infinity"), ("0 div 0", "NaN"), ("1e21", "1000000000000000000000"),
    ("2.5", "2.5"), ("-0", "0"), ("0.0000001", "0.0000001"),
])
def test_scalar_results_as_text(scope, new_id, source, expected):
    assert values(source, scope, new_id)[0].content == expected
    assert string(f"{source}", scope) == expected


# -- number formatting -------------------------------------------------------------------------------

@pytest.mark.parametrize("number, expected", [
    (3.0, "3"), (-42.0, "-42"), (0.0, "0"), (-0.0, "0"), (2.5, "2.5"), (0.1 + 0.2, "0.30000000000000004"),
    (1e-7, "0.0000001"), (1e21, "1000000000000000000000"), (1.5e22, "15000000000000000000000"),
    (123456789.125, "123456789.125"), (float("nan"), "NaN"), (float("inf"), "Infinity"),
    (float("-inf"), "-Infinity"),
])
def test_format_number(number, expected):
    assert format_number(number) == expected


def test_format_number_never_uses_an_exponent():
    for number in (1e300, 5e-324, 1.7976931348623157e308, 2.0 ** 70):
        assert "e" not in format_number(number).lower()


# -- the pe: functions -------------------------------------------------------------------------------

@pytest.fixture
def rich_scope(pipeline: DataStore) -> Scope:
    constants = DataStore([("salutation", [text("c1", "Hello")]),
                           ("limits", [text("c2", '<limits max="9"/>', "text/xml")])])
    return Scope(pipeline, constants, {"color": "red"},
                 {"executionId": "E-1", "externalId": "ext-9", "processUri": "sub/p.ipd", "owner": "bob",
                  "currentUser": "alice"})


def test_pe_constant(rich_scope):
    assert string("concat(pe:constant('salutation'), ', ', $name)", rich_scope) == "Hello, Ada"


def test_pe_constant_xml_is_navigable(rich_scope):
    assert string("pe:constant('limits')/@max", rich_scope) == "9"


def test_pe_constant_unknown_is_empty(rich_scope):
    assert ev("count(pe:constant('nothing'))", rich_scope) == 0.0


def test_pe_entry_reads_an_entry_by_computed_name(rich_scope):
    assert string("pe:entry(concat('na', 'me'))", rich_scope) == "Ada"
    assert ev("count(pe:entry('list'))", rich_scope) == 3.0
    assert ev("count(pe:entry('nothing'))", rich_scope) == 0.0


def test_pe_has_entry(rich_scope):
    assert ev("pe:hasEntry('x')", rich_scope) is True
    assert ev("pe:hasEntry('empty')", rich_scope) is True
    assert ev("pe:hasEntry('nothing')", rich_scope) is False


def test_pe_attribute(rich_scope):
    assert string("pe:attribute('color')", rich_scope) == "red"
    assert string("pe:attribute('missing')", rich_scope) == ""


@pytest.mark.parametrize("function, expected", [
    ("executionId", "E-1"), ("externalId", "ext-9"), ("processUri", "sub/p.ipd"), ("owner", "bob"),
    ("currentUser", "alice"),
])
def test_pe_instance_facts(rich_scope, function, expected):
    assert string(f"pe:{function}()", rich_scope) == expected


def test_pe_current_time_is_now_in_utc_with_milliseconds(rich_scope):
    stamp = string("pe:currentTime()", rich_scope)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)
    moment = datetime.fromisoformat(stamp[:-1] + "+00:00")
    assert abs(datetime.now(timezone.utc) - moment) < timedelta(seconds=5)


def test_pe_functions_under_another_prefix(rich_scope):
    assert Expression("f:owner()", {"f": FUNCTIONS}).string(rich_scope) == "bob"


def test_unknown_pe_function_does_not_compile():
    with pytest.raises(ExpressionSyntaxError, match="pe:nope"):
        Expression("pe:nope()", {})


def test_invalid_xpath_does_not_compile():
    with pytest.raises(ExpressionSyntaxError, match="invalid XPath"):
        Expression("1 +", {})


def test_pe_entry_yields_the_entry_values_themselves(rich_scope, pipeline, new_id):
    assert values("pe:entry('x')", rich_scope, new_id) == [pipeline.get("x")[0]]


def test_pe_constant_yields_the_constant_values(rich_scope, new_id):
    assert [(v.type, v.content) for v in values("pe:constant('salutation')", rich_scope, new_id)] == [
        ("text/plain", "Hello")]


@pytest.mark.parametrize("source", ["pe:executionId('extra')", "pe:constant()"])
def test_pe_function_with_wrong_arity_is_an_expression_error(rich_scope, source):
    with pytest.raises((Fault, ExpressionSyntaxError)):
        Expression(source, {}).evaluate(rich_scope)


# -- templates ---------------------------------------------------------------------------------------

def test_template_without_expressions_is_static():
    template = Template("plain text", {})
    assert template.static == "plain text" and template.render(Scope()) == "plain text"


def test_template_renders_expression_parts(scope):
    template = Template("a{$x}b{$x + 1}{count($list)}", {})
    assert template.static is None and template.render(scope) == "a41b423"


def test_template_double_braces_are_literal_braces(scope):
    assert Template("{{$x}} is {$x}", {}).render(scope) == "{$x} is 41"
    assert Template("}}{{", {}).static == "}{"


def test_empty_template_renders_empty():
    assert Template("", {}).render(Scope()) == ""


@pytest.mark.parametrize("source, message", [
    ("{", "unclosed"), ("a{$x", "unclosed"), ("}", "single"), ("a}b", "single"), ("{1 +}", "invalid XPath"),
    ("{}", "invalid XPath"), ("{pe:nope()}", "pe:nope"),
])
def test_template_errors(source, message):
    with pytest.raises(ExpressionSyntaxError, match=re.escape(message)):
        Template(source, {})


def test_template_with_undefined_variable_faults_when_rendered():
    template = Template("hi {$who}", {})
    with pytest.raises(Fault) as info:
        template.render(Scope())
    assert info.value.type == "ExpressionError" and "$who" in info.value.message


# -- sandbox -----------------------------------------------------------------------------------------

@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "secret.xml"
    path.write_text("<secret>TOPSECRET</secret>")
    return path


def refused(source: str, scope: Scope, namespaces: dict[str, str] | None = None) -> str:
    """Evaluate, expecting a Fault or a syntax error; return its message."""
    with pytest.raises((Fault, ExpressionSyntaxError)) as info:
        expression = Expression(source, namespaces or {})
        expression.values(scope, None, lambda: "id")
    return str(info.value)


def test_document_cannot_read_files(scope, secret):
    for uri in (secret.as_uri(), str(secret), "file:///etc/passwd"):
        message = refused(f"document('{uri}')", scope)
        assert "TOPSECRET" not in message and "root:" not in message


def test_unparsed_text_cannot_read_files(scope, secret):
    assert "TOPSECRET" not in refused(f"unparsed-text('{secret.as_uri()}')", scope)
    assert "TOPSECRET" not in refused(f"fn:unparsed-text('{secret}')", scope,
                                      {"fn": "http://www.w3.org/2005/xpath-functions"})


def test_php_function_style_calls_are_refused(scope):
    refused("php:function('os.system', 'id')", scope, {"php": "http://php.net/xsl"})
    refused("php:function('os.system', 'id')", scope)


def test_exslt_regular_expressions_are_switched_off(scope):
    refused("re:test('abc', 'b')", scope, {"re": "http://exslt.org/regular-expressions"})
    refused("re:replace('abc', 'b', 'g', 'x')", scope, {"re": "http://exslt.org/regular-expressions"})


def test_no_python_or_system_functions(scope):
    refused("python:eval('1+1')", scope, {"python": "http://codespeak.net/lxml/objectify/pytype"})
    refused("system-property('xsl:vendor')", scope)
    refused("exsl:node-set($x)", scope, {"exsl": "http://exslt.org/common"})


def test_expressions_see_only_their_own_context(scope):
    assert string("count(/*)", scope) == "1" and string("count(//*)", scope) == "1"
    assert string("string(/)", scope) == ""


# -- concurrency -------------------------------------------------------------------------------------

def test_one_compiled_expression_serves_eight_threads_each_with_its_own_scope():
    expression = Expression("concat(pe:executionId(), ':', sum($n) + count($n), ':', $doc/@k)", {})
    barrier = threading.Barrier(8)
    wrong: list[tuple[int, str]] = []

    def work(i: int) -> None:
        store = DataStore([("n", [text(f"v{j}", str(i)) for j in range(i + 1)]),
                           ("doc", [text("d", f'<d k="k{i}"/>', "text/xml")])])
        own = Scope(store, info={"executionId": f"E{i}"})
        expected = f"E{i}:{i * (i + 1) + i + 1}:k{i}"
        barrier.wait()
        for _ in range(200):
            answer = expression.string(own)
            if answer != expected:
                wrong.append((i, answer))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(t.is_alive() for t in threads)
    assert wrong == []
