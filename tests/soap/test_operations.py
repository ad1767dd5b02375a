"""The SOAP operations' Python functions take the spec's parameters in snake_case (issue 16), while the
wire and the WSDL keep the spec's camelCase names, in the spec's order."""
from __future__ import annotations

import inspect

from soap.administration import AdministrationService, ClusterService, DiagnosticService, ServiceManagementService
from soap.lifecycle import LifecycleService
from soap.state_queries import StateQueryService
from soap.types import camel_case
from soap.watchers import WatcherService


def test_every_operation_takes_snake_case_arguments_named_on_the_wire_as_the_spec_names_them():
    checked = 0
    for service in (AdministrationService, ServiceManagementService, ClusterService, DiagnosticService,
                    LifecycleService, StateQueryService, WatcherService):
        for name, method in service.public_methods.items():
            arguments = list(inspect.signature(method.function).parameters)[1:]  # after the context
            assert all(a == a.lower() for a in arguments), (name, arguments)
            assert [camel_case(a) for a in arguments] == list(method.in_message._type_info), name
            checked += 1
    assert checked >= 49


def test_camel_case_joins_the_words_of_a_snake_case_name():
    assert [camel_case(n) for n in ("execution_id", "simple_data_store", "cache", "report_execution_ids")] == \
        ["executionId", "simpleDataStore", "cache", "reportExecutionIds"]
