"""Parsing IPD process definitions (CONTRACT §7): the element tree, full IDs, declarations, and errors
that name line and column."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from engine.model.datastore import DataStore
from engine.definitions import elements as el
from engine.definitions.expressions import Expression, Template
from engine.definitions.parser import parse_definition
from engine.errors import InvalidDefinition
from engine.modules import load_modules
from engine.model.states import ExecutionState

NS = "http://www.infinica.com/process-engine"
HEAD = f'<process xmlns="{NS}" version="4">'
SAMPLES = Path(__file__).resolve().parents[3] / "config" / "processes"
MODULES = load_modules()


def lines(*rows: str) -> bytes:
    """A document from its lines (line 1 is the first argument)."""
    return "\n".join(rows).encode("utf-8")


def steps(*rows: str) -> bytes:
    """A process whose line 1 is <process>, line 2 a startElement, then `rows` from line 3."""
    return lines(HEAD, '  <startElement id="s"/>', *rows, "</process>")


def error_of(source: bytes, modules=None, uri: str | None = None) -> InvalidDefinition:
    with pytest.raises(InvalidDefinition) as info:
        parse_definition(source, uri, modules)
    return info.value


def where(exc: InvalidDefinition) -> tuple[int | None, int | None]:
    return exc.line, exc.column


class NoScope:
    def entry(self, name):
        return None

    def constant(self, name):
        return ()

    def attribute(self, name):
        return ""

    def info(self, name):
        return ""


EVERYTHING = f"""<process xmlns="{NS}" version="4" name="Everything">
  <parameters>
    <parameter name="amount" type="text/plain" required="true"/>
    <parameter name="note">hi</parameter>
  </parameters>
  <constants>
    <constant name="greeting">Hello</constant>
    <constant name="limit" overridable="false">10</constant>
  </constants>
  <startElement id="start"/>
  <assign id="set" name="x" select="1 + 1" type="text/plain"/>
  <assign id="lit" name="y" append="true">text</assign>
  <remove id="drop" name="y"/>
  <if id="check" test="$x &gt; 1">
    <then><wait id="review"/></then>
    <else><wait id="timer" duration="PT5M"/></else>
  </if>
  <while id="loop" test="$x &lt; 5" maxIterations="10">
    <assign id="inc" name="x" select="$x + 1"/>
  </while>
  <forEach id="each" select="$list" var="item">
    <log id="say" level="debug" select="$item"/>
  </forEach>
  <scope id="guard">
    <fail id="boom" message="failed {{$x}}" type="Custom"/>
    <onError><log id="caught">caught {{$error.type}}</log></onError>
    <onTerminate><wait id="until" until="2030-01-01T00:00:00Z"/></onTerminate>
  </scope>
  <call id="child" processUri="sub/child.ipd">
    <in name="a" select="$x"/>
    <in name="b">literal</in>
    <out name="c" select="$result"/>
  </call>
  <invoke id="ref" module="util" operation="uuid" result="orderId">
    <param name="p" select="$x"/>
  </invoke>
  <endElement id="end" state="FAILED" message="done {{$x}}"/>
</process>
""".encode()

EVERYTHING_IDS = [
    "root.start", "root.set", "root.lit", "root.drop", "root.check", "root.check.review", "root.check.timer",
    "root.loop", "root.loop.inc", "root.each", "root.each.say", "root.guard", "root.guard.boom",
    "root.guard.caught", "root.guard.until", "root.child", "root.ref", "root.end",
]


@pytest.fixture(scope="module")
def everything() -> el.Definition:
    return parse_definition(EVERYTHING, "everything.ipd", MODULES)


# -- the element tree ------------------------------------------------------------------------------

def test_elements_are_in_document_order_with_dotted_full_ids(everything):
    assert list(everything.elements) == EVERYTHING_IDS


def test_each_element_builds_its_own_class(everything):
    kinds = {full_id: type(element) for full_id, element in everything.elements.items()}
    assert kinds == {
        "root.start": el.StartElement, "root.set": el.Assign, "root.lit": el.Assign, "root.drop": el.Remove,
        "root.check": el.If, "root.check.review": el.Wait, "root.check.timer": el.Wait, "root.loop": el.While,
        "root.loop.inc": el.Assign, "root.each": el.ForEach, "root.each.say": el.Log, "root.guard": el.Scope,
        "root.guard.boom": el.Fail, "root.guard.caught": el.Log, "root.guard.until": el.Wait,
        "root.child": el.Call, "root.ref": el.Invoke, "root.end": el.EndElement,
    }


def test_full_id_and_own_id_and_line_are_recorded(everything):
    review = everything.elements["root.check.review"]
    assert (review.id, review.full_id, review.line) == ("review", "root.check.review", 15)


def test_blocks_have_no_id_of_their_own(everything):
    assert not any(part in ("then", "else", "onError", "onTerminate", "body")
                   for full_id in everything.elements for part in full_id.split("."))


def test_parents_name_compound_block_and_index(everything):
    assert everything.parents["root.start"] == ("root", "body", 0)
    assert everything.parents["root.end"] == ("root", "body", 10)
    assert everything.parents["root.check.review"] == ("root.check", "then", 0)
    assert everything.parents["root.check.timer"] == ("root.check", "else", 0)
    assert everything.parents["root.loop.inc"] == ("root.loop", "body", 0)
    assert everything.parents["root.guard.boom"] == ("root.guard", "body", 0)
    assert everything.parents["root.guard.caught"] == ("root.guard", "onError", 0)
    assert everything.parents["root.guard.until"] == ("root.guard", "onTerminate", 0)


def test_block_lookup_returns_the_elements_of_a_block(everything):
    assert everything.block("root", "body")[0] is everything.elements["root.start"]
    assert everything.block("root.check", "then") == (everything.elements["root.check.review"],)
    assert everything.block("root.guard", "onError") == (everything.elements["root.guard.caught"],)
    with pytest.raises(KeyError):
        everything.block("root", "then")


def test_definition_name_is_read_and_optional(everything):
    assert everything.name == "Everything"
    assert parse_definition(steps()).name is None


def test_assign_with_select(everything):
    assign = everything.elements["root.set"]
    assert isinstance(assign.select, Expression) and assign.select.source == "1 + 1"
    assert (assign.name, assign.type, assign.literal, assign.append) == ("x", "text/plain", None, False)


def test_assign_with_literal_text_and_append(everything):
    assign = everything.elements["root.lit"]
    assert assign.select is None and assign.append is True
    assert (assign.literal.type, assign.literal.content) == ("text/plain", "text")


def test_remove_names_its_entry(everything):
    assert everything.elements["root.drop"].name == "y"


def test_if_has_test_then_and_else(everything):
    branch = everything.elements["root.check"]
    assert branch.test.source == "$x > 1"
    assert [e.id for e in branch.then] == ["review"] and [e.id for e in branch.otherwise] == ["timer"]


def test_if_without_else_has_an_empty_else():
    branch = parse_definition(steps('<if id="c" test="1"><then><remove id="r" name="n"/></then></if>')).elements["root.c"]
    assert branch.otherwise == () and [e.full_id for e in branch.then] == ["root.c.r"]


def test_while_has_test_limit_and_body(everything):
    loop = everything.elements["root.loop"]
    assert (loop.test.source, loop.max_iterations) == ("$x < 5", 10)
    assert [e.full_id for e in loop.body] == ["root.loop.inc"]


def test_while_without_limit_has_none():
    loop = parse_definition(steps('<while id="w" test="false()"/>')).elements["root.w"]
    assert loop.max_iterations is None and loop.body == ()


def test_for_each_has_select_var_and_body(everything):
    each = everything.elements["root.each"]
    assert (each.select.source, each.var) == ("$list", "item")
    assert [e.full_id for e in each.body] == ["root.each.say"]


def test_wait_with_duration_until_or_neither(everything):
    assert everything.elements["root.check.timer"].duration.static == "PT5M"
    assert everything.elements["root.guard.until"].until.static == "2030-01-01T00:00:00Z"
    bare = everything.elements["root.check.review"]
    assert bare.duration is None and bare.until is None


def test_wait_duration_may_be_a_template():
    wait = parse_definition(steps('<wait id="w" duration="{$delay}"/>')).elements["root.w"]
    assert wait.duration.static is None and wait.duration.source == "{$delay}"


def test_fail_has_message_template_and_type(everything):
    fail = everything.elements["root.guard.boom"]
    assert (fail.message.source, fail.error_type) == ("failed {$x}", "Custom")


def test_fail_type_defaults_to_process_failure():
    assert parse_definition(steps('<fail id="f"/>')).elements["root.f"].error_type == "ProcessFailure"


def test_scope_has_body_and_handlers(everything):
    scope = everything.elements["root.guard"]
    assert [e.id for e in scope.body] == ["boom"]
    assert [e.id for e in scope.on_error] == ["caught"] and [e.id for e in scope.on_terminate] == ["until"]


def test_scope_without_handlers_has_none():
    scope = parse_definition(steps('<scope id="sc"><remove id="r" name="n"/></scope>')).elements["root.sc"]
    assert scope.on_error is None and scope.on_terminate is None
    with pytest.raises(KeyError):
        scope.block("onError")


def test_call_has_uri_and_in_out_mappings(everything):
    call = everything.elements["root.child"]
    assert call.process_uri == "sub/child.ipd"
    assert [(m.name, m.select.source if m.select else None, m.literal.content if m.literal else None)
            for m in call.inputs] == [("a", "$x", None), ("b", None, "literal")]
    assert [(m.name, m.select.source) for m in call.outputs] == [("c", "$result")]


def test_invoke_has_module_operation_params_and_result(everything):
    invoke = everything.elements["root.ref"]
    assert (invoke.module, invoke.operation, invoke.result) == ("util", "uuid", "orderId")
    assert [(p.name, p.select.source) for p in invoke.params] == [("p", "$x")]


def test_log_with_select_is_an_expression(everything):
    log = everything.elements["root.each.say"]
    assert log.level == "debug" and isinstance(log.message, Expression) and log.message.source == "$item"


def test_log_with_text_is_a_template_and_level_defaults_to_info(everything):
    log = everything.elements["root.guard.caught"]
    assert log.level == "info" and isinstance(log.message, Template)
    assert log.message.source == "caught {$error.type}"


def test_end_element_state_and_message(everything):
    end = everything.elements["root.end"]
    assert end.state is ExecutionState.FAILED and end.message.source == "done {$x}"


def test_end_element_defaults_to_finished_without_message():
    end = parse_definition(steps('<endElement id="e"/>')).elements["root.e"]
    assert end.state is ExecutionState.FINISHED and end.message is None


def test_templates_render_literal_text_and_expressions():
    template = parse_definition(steps('<fail id="f" message="a {{1 + 1}} {1 + 1}"/>')).elements["root.f"].message
    assert template.render(NoScope()) == "a {1 + 1} 2"


def test_nested_ids_follow_the_compound_path():
    source = steps('<scope id="outer">',
                   '  <if id="check" test="1"><then>',
                   '    <while id="loop" test="0"><wait id="review"/></while>',
                   '  </then></if>',
                   '</scope>')
    assert list(parse_definition(source).elements) == [
        "root.s", "root.outer", "root.outer.check", "root.outer.check.loop", "root.outer.check.loop.review"]


def test_same_id_in_different_blocks_is_fine():
    source = steps('<if id="check" test="1">',
                   '  <then><wait id="review"/></then>',
                   '  <else><wait id="review"/></else>',
                   '</if>',
                   '<wait id="review"/>')
    definition = parse_definition(source)
    assert list(definition.elements) == ["root.s", "root.check", "root.check.review", "root.review"]
    assert definition.parents["root.check.review"] == ("root.check", "else", 0)  # the later one wins the key


def test_invoke_is_not_checked_without_modules():
    definition = parse_definition(steps('<invoke id="i" module="nope" operation="nothing"/>'))
    assert definition.elements["root.i"].module == "nope"


# -- declarations ----------------------------------------------------------------------------------

def test_parameters_have_name_type_required_and_default(everything):
    assert [(p.name, p.type, p.required) for p in everything.parameters] == [
        ("amount", "text/plain", True), ("note", "text/plain", False)]
    amount, note = everything.parameters
    assert amount.default is None
    assert (note.default.type, note.default.content) == ("text/plain", "hi")


def test_parameter_type_and_required_defaults():
    source = lines(HEAD, '<parameters><parameter name="p"/><parameter name="q" required="1"/></parameters>',
                   '<startElement id="s"/></process>')
    p, q = parse_definition(source).parameters
    assert (p.type, p.required, q.required) == ("text/plain", False, True)


def test_binary_parameter_default_is_decoded_from_base64():
    source = lines(HEAD, '<parameters>',
                   '<parameter name="b" type="application/octet-stream">aGVsbG8=</parameter>',
                   '</parameters><startElement id="s"/></process>')
    assert parse_definition(source).parameters[0].default.content == b"hello"


def test_constants_are_a_data_store_with_overridable_names(everything):
    assert isinstance(everything.constants, DataStore)
    assert [(name, [v.text for v in values]) for name, values in everything.constants.entries()] == [
        ("greeting", ["Hello"]), ("limit", ["10"])]
    assert everything.overridable == frozenset({"greeting"})


def test_literal_xml_inherits_the_ipd_default_namespace():
    source = lines(HEAD, '<parameters><parameter name="order" type="text/xml"><order id="1"><item/></order>'
                   '</parameter></parameters><startElement id="s"/></process>')
    default = parse_definition(source).parameters[0].default
    assert default.type == "text/xml"
    assert default.content == f'<order xmlns="{NS}" id="1"><item></item></order>'


def test_literal_xml_with_empty_xmlns_has_no_namespace():
    source = lines(HEAD, '<constants><constant name="order" type="text/xml"><order xmlns="" id="1"/></constant>'
                   '</constants><startElement id="s"/></process>')
    assert parse_definition(source).constants.get("order")[0].content == '<order id="1"></order>'


def test_assign_of_literal_xml_without_type_is_text_xml():
    assign = parse_definition(steps('<assign id="a" name="x"><doc xmlns="urn:d">t</doc></assign>')).elements["root.a"]
    assert (assign.literal.type, assign.literal.content) == ("text/xml", '<doc xmlns="urn:d">t</doc>')


def test_mapping_literal_xml_with_xml_type():
    call = parse_definition(steps('<call id="c" processUri="x.ipd">',
                                  '<in name="doc" type="application/xml"><d xmlns=""/></in></call>')).elements["root.c"]
    assert (call.inputs[0].literal.type, call.inputs[0].literal.content) == ("application/xml", "<d></d>")


@pytest.mark.parametrize("sample", sorted(SAMPLES.glob("*.ipd")), ids=lambda p: p.name)
def test_every_sample_definition_parses(sample: Path):
    definition = parse_definition(sample.read_bytes(), sample.name, MODULES)
    assert next(iter(definition.elements)) == "root.start"
    assert isinstance(definition.elements["root.start"], el.StartElement)


def test_sample_approval_has_nested_full_ids():
    definition = parse_definition((SAMPLES / "approval.ipd").read_bytes(), "approval.ipd", MODULES)
    assert "root.decided.verdict.approve" in definition.elements
    assert definition.parents["root.decided.expire"] == ("root.decided", "else", 0)


# -- errors: line, column and what is wrong --------------------------------------------------------

def test_not_well_formed_xml_names_line_and_column():
    exc = error_of(steps('  <remove id="x" name="a"></assign>'))
    assert where(exc) == (3, 36)
    assert "mismatch" in exc.detail and "remove" in exc.detail and "assign" in exc.detail


def test_unterminated_start_tag_is_refused():
    exc = error_of(lines(HEAD, '  <startElement id="s"/>', '  <assign id="x" name="a"', "</process>"))
    assert exc.line == 4 and exc.detail


def test_error_message_carries_uri_line_and_column():
    exc = error_of(steps('  <remove id="x"/>'), uri="sub/p.ipd")
    assert str(exc).startswith("sub/p.ipd, line 3, column 3: ")
    assert exc.uri == "sub/p.ipd"


def test_empty_document_is_refused():
    assert "empty" in error_of(b"").detail


def test_wrong_root_element():
    exc = error_of(lines("<!-- a comment -->", f'<definition xmlns="{NS}" version="4">', "</definition>"))
    assert where(exc) == (2, 1)
    assert "root element" in exc.detail and "definition" in exc.detail


def test_root_element_without_namespace_is_refused():
    exc = error_of(lines('<process version="4">', '<startElement id="s"/></process>'))
    assert where(exc) == (1, 1) and NS in exc.detail


def test_missing_version():
    exc = error_of(lines("<?xml version='1.0'?>", f'<process xmlns="{NS}">', '<startElement id="s"/></process>'))
    assert where(exc) == (2, 1)
    assert "version" in exc.detail and "missing" in exc.detail


def test_wrong_version():
    exc = error_of(lines("", f'  <process xmlns="{NS}" version="3">', '<startElement id="s"/></process>'))
    assert where(exc) == (2, 3)
    assert "version" in exc.detail and "'3'" in exc.detail


def test_unknown_element():
    exc = error_of(steps('  <remove id="r" name="n"/>', '    <sleep id="x"/>'))
    assert where(exc) == (4, 5)
    assert "sleep" in exc.detail and "not expected" in exc.detail


def test_missing_start_element():
    exc = error_of(lines(HEAD, '  <endElement id="e"/>', "</process>"))
    assert where(exc) == (2, 3) and "endElement" in exc.detail


def test_unknown_element_inside_a_handler_block():
    exc = error_of(steps('<scope id="sc">', '  <remove id="w" name="n"/>', '  <onError>',
                         '    <remove id="r" name="n"/>', '    <foo/></onError></scope>'))
    assert where(exc) == (7, 5) and "foo" in exc.detail


def test_missing_required_attribute():
    exc = error_of(steps('  <remove id="x"/>'))
    assert where(exc) == (3, 3)
    assert "name" in exc.detail and "required" in exc.detail


def test_missing_id():
    exc = error_of(steps('  <if id="c" test="1"><then><remove name="n"/></then></if>'))
    assert where(exc) == (3, 29) and "'id'" in exc.detail


def test_id_with_a_dot_is_refused():
    exc = error_of(steps('<remove id="a.b" name="n"/>'))
    assert where(exc) == (3, 1) and "a.b" in exc.detail


def test_column_of_the_second_element_on_a_line():
    exc = error_of(lines(HEAD, '<startElement id="s"/><remove id="x" name="a"/><remove id="y"/>', "</process>"))
    assert where(exc) == (2, 48)


def test_duplicate_id_among_siblings():
    exc = error_of(steps('  <if id="check" test="1"><then>', '    <wait id="review"/>', '    <wait id="review"/>',
                         '  </then></if>'))
    assert where(exc) == (5, 5)
    assert "review" in exc.detail and "twice" in exc.detail


def test_duplicate_id_at_the_top_level():
    exc = error_of(steps('<remove id="s" name="n"/>'))
    assert where(exc) == (3, 1) and "'s'" in exc.detail


def test_duplicate_parameter_and_constant_names():
    exc = error_of(lines(HEAD, '<parameters><parameter name="a"/>', '  <parameter name="a"/></parameters>',
                         '<startElement id="s"/></process>'))
    assert where(exc) == (3, 3) and "'a'" in exc.detail
    exc = error_of(lines(HEAD, '<constants><constant name="k">1</constant>', '<constant name="k">2</constant>',
                         '</constants><startElement id="s"/></process>'))
    assert where(exc) == (3, 1) and "'k'" in exc.detail


def test_invalid_xpath_in_select():
    exc = error_of(steps('  <assign id="x" name="a" select="1 +"/>'))
    assert where(exc) == (3, 3)
    assert "select" in exc.detail and "1 +" in exc.detail


def test_invalid_xpath_in_test():
    exc = error_of(steps('<while id="w" test="$a["/>'))
    assert where(exc) == (3, 1) and "test" in exc.detail


def test_invalid_xpath_in_a_mapping_points_at_the_mapping():
    exc = error_of(steps('<invoke id="c" module="util" operation="uuid">', '  <param name="a" select="1 +"/></invoke>'),
                   MODULES)
    assert where(exc) == (4, 3) and "select" in exc.detail


def test_invalid_template_in_message():
    exc = error_of(steps('  <fail id="f" message="a {"/>'))
    assert where(exc) == (3, 3)
    assert "unclosed" in exc.detail and "message" in exc.detail


def test_unknown_pe_function():
    exc = error_of(steps('', '  <if id="x" test="pe:nope()"><then/></if>'))
    assert where(exc) == (4, 3)
    assert "pe:nope" in exc.detail


def test_unknown_pe_function_inside_a_template():
    exc = error_of(steps('<log id="l">{pe:whoami()}</log>'))
    assert where(exc) == (3, 1) and "pe:whoami" in exc.detail


@pytest.mark.parametrize("duration", ["5s", "P", "", "soon", "-PT1S", "p1d"])
def test_duration_that_is_not_an_iso_8601_duration(duration):
    exc = error_of(steps(f'  <wait id="x" duration="{duration}"/>'))
    assert where(exc) == (3, 3) and "duration" in exc.detail


@pytest.mark.parametrize("duration", ["P1M", "P1Y", "P1Y2M3D"])
def test_duration_with_years_or_months_is_refused(duration):
    exc = error_of(steps(f'  <wait id="x" duration="{duration}"/>'))
    assert where(exc) == (3, 3) and "months" in exc.detail


@pytest.mark.parametrize("duration", ["PT", "P1DT"])
def test_duration_with_an_empty_time_part_is_refused(duration):
    exc = error_of(steps(f'  <wait id="x" duration="{duration}"/>'))
    assert where(exc) == (3, 3) and "duration" in exc.detail


def test_duration_in_days_and_weeks_is_accepted():
    from datetime import timedelta

    from engine.support.clock import parse_duration

    elements = parse_definition(steps('<wait id="a" duration="P1DT2H"/><wait id="b" duration="P2W"/>')).elements
    assert [parse_duration(elements[f"root.{i}"].duration.static) for i in "ab"] == [timedelta(days=1, hours=2),
                                                                                        timedelta(weeks=2)]


def test_until_that_is_not_a_timestamp():
    exc = error_of(steps('  <wait id="x" until="tomorrow"/>'))
    assert where(exc) == (3, 3)
    assert "until" in exc.detail and "tomorrow" in exc.detail


def test_both_duration_and_until():
    exc = error_of(steps('  <wait id="x" until="2026-01-01T00:00:00Z" duration="PT1S"/>'))
    assert where(exc) == (3, 3) and "duration or until" in exc.detail


def test_doctype_is_refused():
    exc = error_of(lines(f'<!DOCTYPE process [<!ENTITY x "y">]><process xmlns="{NS}" version="4">',
                         '<startElement id="s"/></process>'))
    assert where(exc) == (1, 1) and "DOCTYPE" in exc.detail


def test_doctype_position_after_an_xml_declaration():
    exc = error_of(lines('<?xml version="1.0"?>', "<!DOCTYPE process>", HEAD, '<startElement id="s"/></process>'))
    assert where(exc) == (2, 1)


def test_external_entity_is_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    exc = error_of(lines(f'<!DOCTYPE p [<!ENTITY e SYSTEM "file://{secret}">]>', HEAD,
                         '<startElement id="s"/><log id="l">&e;</log></process>'))
    assert "TOPSECRET" not in str(exc)


def test_unknown_module_when_modules_are_given():
    exc = error_of(steps('<remove id="r" name="n"/>', '   <invoke id="i" module="mail" operation="send"/>'), MODULES)
    assert where(exc) == (4, 4)
    assert "mail" in exc.detail and "util" in exc.detail


def test_unknown_operation_when_modules_are_given():
    exc = error_of(steps('  <invoke id="i" module="util" operation="frobnicate"/>'), MODULES)
    assert where(exc) == (3, 3)
    assert "frobnicate" in exc.detail and "uuid" in exc.detail


def test_assign_with_both_select_and_content():
    exc = error_of(steps('  <assign id="x" name="a" select="1">text</assign>'))
    assert where(exc) == (3, 3) and "not both" in exc.detail


def test_assign_with_select_and_surrounding_whitespace_is_fine():
    assign = parse_definition(steps('<assign id="x" name="a" select="1">', "   ", "</assign>")).elements["root.x"]
    assert assign.select.source == "1" and assign.literal is None


def test_literal_xml_with_a_non_xml_type():
    exc = error_of(steps('  <assign id="x" name="a" type="text/plain"><a/></assign>'))
    assert where(exc) == (3, 3)
    assert "text/plain" in exc.detail


def test_literal_xml_in_a_parameter_without_xml_type():
    exc = error_of(lines(HEAD, "<parameters>", '  <parameter name="p"><a/></parameter>', "</parameters>",
                         '<startElement id="s"/></process>'))
    assert where(exc) == (3, 3) and "text/plain" in exc.detail


def test_literal_text_that_is_not_base64_for_a_binary_type():
    exc = error_of(steps('  <assign id="x" name="a" type="application/octet-stream">!!!</assign>'))
    assert where(exc) == (3, 3) and "base64" in exc.detail


def test_literal_text_that_is_not_xml_for_an_xml_type():
    exc = error_of(steps('  <assign id="x" name="a" type="text/xml">not xml</assign>'))
    assert where(exc) == (3, 3) and "not XML" in exc.detail


def test_two_xml_elements_as_literal_content():
    exc = error_of(steps('  <assign id="x" name="a"><a xmlns=""/><b xmlns=""/></assign>'))
    assert where(exc) == (3, 40) and "'b'" in exc.detail


def test_bad_end_state():
    exc = error_of(steps('  <endElement id="e" state="DONE"/>'))
    assert where(exc) == (3, 3) and "DONE" in exc.detail


def test_zero_max_iterations_is_refused():
    exc = error_of(steps('  <while id="w" test="1" maxIterations="0"/>'))
    assert where(exc) == (3, 3) and "maxIterations" in exc.detail


def test_literal_text_beside_an_xml_element_is_refused():
    error_of(steps('<assign id="x" name="a">hello <b xmlns=""/> world</assign>'))


def test_undeclared_namespace_prefix_in_select_is_refused():
    exc = error_of(steps('  <assign id="x" name="a" select="foo:bar"/>'))
    assert where(exc) == (3, 3) and "foo" in exc.detail


def test_error_in_a_start_tag_spanning_lines_points_at_its_start():
    exc = error_of(steps('  <assign id="x"', '     name="a" select="1 +"/>'))
    assert where(exc) == (3, 3)


@pytest.mark.parametrize("before", ["<!-- <x> -->", '<log id="l"><![CDATA[a<b]]></log>'])
def test_column_ignores_markup_like_text_before_the_element(before):
    exc = error_of(steps(f"  {before}<remove id=\"x\"/>"))
    assert where(exc) == (3, 3 + len(before))


# -- robustness --------------------------------------------------------------------------------------

_TAGS = st.sampled_from(["startElement", "endElement", "assign", "remove", "if", "then", "else", "while",
                         "forEach", "wait", "fail", "scope", "onError", "onTerminate", "call", "in", "out",
                         "invoke", "param", "log", "parameters", "parameter", "constants", "constant", "x"])
_ATTRS = st.sampled_from(['id="a"', 'id="b"', 'id="a.b"', 'name="n"', 'select="$x"', 'select="1 +"', 'test="1"',
                          'type="text/xml"', 'type="application/octet-stream"', 'type="x"', 'duration="PT1S"',
                          'duration="P1M"', 'until="x"', 'module="util"', 'operation="uuid"', 'module="no"',
                          'processUri="a.ipd"', 'state="FAILED"', 'maxIterations="0"', 'var="v"',
                          'message="{$x}"', 'message="{"', 'xmlns=""', 'select="pe:nope()"', 'select="a:b"'])
_TEXTS = st.sampled_from(["", "text", "aGk=", "{$x}", "&amp;", "<![CDATA[<x>]]>", "<!-- c -->", "é", "&#1;", "&e;"])
_LEAF = st.builds(lambda t, a: f"<{t} {' '.join(a)}/>", _TAGS, st.lists(_ATTRS, max_size=3, unique=True))
_TREE = st.recursive(_LEAF, lambda kids: st.builds(
    lambda t, a, x, c: f"<{t} {' '.join(a)}>{x}{''.join(c)}</{t}>", _TAGS,
    st.lists(_ATTRS, max_size=3, unique=True), _TEXTS, st.lists(kids, max_size=3)), max_leaves=8)
_XMLISH = st.builds(lambda kids, tail: (HEAD + '<startElement id="s"/>' + "".join(kids) + tail + "</process>").encode(),
                    st.lists(_TREE, max_size=4), st.sampled_from(["", "<", "\x00", "</x>", "&"]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.one_of(st.binary(max_size=300), _XMLISH,
                        st.text(max_size=80).map(lambda s: (HEAD + s + "</process>").encode("utf-8", "replace"))),
       with_modules=st.booleans())
def test_any_input_parses_or_raises_invalid_definition(source: bytes, with_modules: bool):
    try:
        definition = parse_definition(source, "fuzz.ipd", MODULES if with_modules else None)
    except InvalidDefinition as exc:
        assert exc.detail
    else:
        assert isinstance(definition, el.Definition)
