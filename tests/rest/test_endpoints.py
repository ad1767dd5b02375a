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
            yield name, found["handler"], found["params"], found["body"]


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
