"""The SOAP operations are declared once for both doors (`schemas.signatures`, issue 16): their Python
functions take the spec's parameters in snake_case, while the wire and the WSDL keep the spec's camelCase
names in the spec's order, each with the type its declaration says."""
from __future__ import annotations

import inspect

import pytest

from schemas.signatures import Parameter, signature, snake_case
from soap.administration import AdministrationService, ClusterService, DiagnosticService, ServiceManagementService
from soap.history import HistoryService
from soap.lifecycle import LifecycleService
from soap.params import parsed
from soap.state_queries import StateQueryService
from soap.types import wire_type
from soap.watchers import WatcherService
from engine.errors import InvalidParameter

SERVICES = (AdministrationService, ServiceManagementService, ClusterService, DiagnosticService, LifecycleService,
            StateQueryService, WatcherService, HistoryService)


def test_every_operation_takes_its_declared_parameters_in_the_spec_order_with_their_declared_types():
    checked = 0
    for service in SERVICES:
        for name, method in service.public_methods.items():
            declared = signature(name)
            wire = method.in_message._type_info
            assert list(wire) == [p.name for p in declared], name
            assert [wire[p.name] for p in declared] == [wire_type(p) for p in declared], name
            handler = inspect.signature(inspect.unwrap(method.function)).parameters
            named = [n for n, p in handler.items() if p.kind is p.POSITIONAL_OR_KEYWORD][1:]  # after the context
            assert all(n == n.lower() for n in named), (name, named)
            assert set(named) <= {p.keyword for p in declared}, name
            if not any(p.kind is p.VAR_KEYWORD for p in handler.values()):
                assert named == [p.keyword for p in declared], name
            checked += 1
    assert checked >= 54


def test_snake_case_splits_the_words_of_a_wire_name():
    assert [snake_case(n) for n in ("executionId", "simpleDataStore", "cache", "reportExecutionIds")] == \
        ["execution_id", "simple_data_store", "cache", "report_execution_ids"]


@pytest.mark.parametrize(("parameter", "sent", "read"), [
    (Parameter("cache", "boolean", default=True), None, True),
    (Parameter("waitOnline", "boolean"), None, None),
    (Parameter("timeout", "timeout", default=-1), None, -1),
    (Parameter("param", choices=("all", "self"), default="all"), None, "all"),
    (Parameter("states", many=True, choices=("READY", "RUNNING")), ["READY, RUNNING", " "], ["READY", "RUNNING"]),
])
def test_an_absent_or_listed_value_is_read_as_the_declaration_says(parameter, sent, read):
    assert parsed(parameter, sent) == read


@pytest.mark.parametrize(("parameter", "sent"), [
    (Parameter("executionId", required=True), None),
    (Parameter("online", "boolean", required=True), None),
    (Parameter("timeout", "timeout", default=-1), -2),
    (Parameter("states", many=True, choices=("READY",)), ["DONE"]),
    (Parameter("autoDispose", choices=("never", "fetch")), "sometimes"),
])
def test_a_value_the_declaration_refuses_is_an_invalid_parameter_naming_it(parameter, sent):
    with pytest.raises(InvalidParameter) as refused:
        parsed(parameter, sent)
    assert parameter.name in str(refused.value)
