"""Each REST endpoint is declared once (issue 16): its handler takes exactly the declared parameters and
body, under their snake_case names, and GET and POST /run hand theirs to the run operation unchanged."""
from __future__ import annotations

import inspect

from config.settings import load_settings
from engine import operations as ops
from rest import create_rest_app
from rest.params import snake_case


def declared_handlers():
    app = create_rest_app(None, load_settings({}))
    for name, view in app.view_functions.items():
        found = inspect.getclosurevars(view).nonlocals if inspect.isfunction(view) else {}
        if "handler" in found:
            yield name, found["handler"], tuple(p for p, _, _ in found["reading"]), found["body"]


def test_every_handler_takes_its_declared_parameters_by_their_snake_case_names():
    checked = 0
    for name, handler, params, body in declared_handlers():
        keywords = {p.keyword for p in params}
        if body is not None:
            keywords |= {f.keyword for f in body.fields} if body.kind == "form" else {body.arg}
        taken = list(inspect.signature(handler).parameters)[2:]  # after the engine and the principal
        assert all(k == snake_case(k) for k in keywords), (name, keywords)
        if taken[-1:] == ["args"]:  # /run: every parameter goes to the run operation as it is named there
            assert keywords - {"process_params"} <= set(inspect.signature(ops.run).parameters), name
        else:
            assert set(taken) == keywords, (name, set(taken) ^ keywords)
        checked += 1
    assert checked >= 50


def test_snake_case_splits_a_wire_name_at_each_capital():
    assert [snake_case(n) for n in ("executionId", "inspectPipeline", "cache", "reportExecutionIds")] == \
        ["execution_id", "inspect_pipeline", "cache", "report_execution_ids"]


def test_every_endpoint_takes_each_declared_parameter_of_its_operation_as_declared():
    # Issue 16: the declaration in schemas/signatures.py is the only one; REST adds only HTTP's headers.
    from rest.endpoint import ENDPOINTS
    from schemas.signatures import signature

    for endpoint in ENDPOINTS:
        declared = {p.name: p for p in signature(endpoint.operation)}
        in_body = {f.name for f in endpoint.body.fields} | {endpoint.body.name or endpoint.body.arg} \
            if endpoint.body is not None else set()
        for param in endpoint.params:
            if param.where == "header":
                assert param.name not in declared, endpoint.path
                continue
            spec = declared[param.name]
            assert (param.kind, param.many, param.default, param.choices) == \
                (spec.kind, spec.many, spec.default, spec.choices), (endpoint.path, param.name)
            assert param.required == (spec.required or param.where == "path"), (endpoint.path, param.name)
            assert (param.where == "path") == (f"{{{param.name}}}" in endpoint.path), (endpoint.path, param.name)
        reached = {p.name for p in endpoint.params} | in_body | {snake_case(n) for n in in_body}
        missing = {name for name, spec in declared.items() if not spec.soap_only
                   and name not in reached and snake_case(name) not in reached}
        if endpoint.method == "GET" and endpoint.free_params:
            missing -= {"processParams"}  # GET /run: the `in.` parameters are its process parameters
        assert not missing, (endpoint.method, endpoint.path, missing)
