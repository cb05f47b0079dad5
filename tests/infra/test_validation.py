"""Every rule of the limits table, and more bad input (wrong types, empty strings,
unicode, white space, tokens), from the shared tables in ``support/cases/infra_inputs.py``:
each refused at construction with a ConfigurationError naming the parameter, before any
synth output exists and with nothing half-declared; each boundary value accepted."""

from __future__ import annotations

import dataclasses

import pytest

from constructs_lib import QueueOptions, ServiceOptions, TaskQueue
from support.cases.infra_inputs import INVALID, VALID, case_id, run_invalid, run_valid

TARGETS = {"service", "queue", "invoker", "import", "pattern", "grant", "environment", "deploy"}


def test_every_target_has_refused_cases_and_accepted_neighbours():
    assert {target for target, _, _ in INVALID} == TARGETS
    assert {target for target, _ in VALID} == TARGETS


def test_every_option_field_has_a_refused_case_naming_it():
    """A new field in QueueOptions or ServiceOptions needs a bad-input case in the table."""
    refused = {(target, parameter.split("[")[0].split(" ")[0]) for target, _, parameter in INVALID}
    queue_fields = {field.name for field in dataclasses.fields(QueueOptions)}
    service_fields = {field.name for field in dataclasses.fields(ServiceOptions)}
    assert queue_fields - {name for target, name in refused if target == "queue"} == set()
    assert service_fields - {name for target, name in refused if target == "service"} == set()


@pytest.mark.parametrize(("target", "kwargs", "parameter"), INVALID,
                         ids=[case_id(i, c) for i, c in enumerate(INVALID)])
def test_invalid_input_is_refused_before_synth(tmp_path, target, kwargs, parameter):
    outcome = run_invalid(target, kwargs, parameter, tmp_path)
    assert outcome.ok, outcome.detail


@pytest.mark.parametrize(("target", "kwargs"), VALID,
                         ids=[case_id(i, c) for i, c in enumerate(VALID)])
def test_boundary_values_are_accepted(tmp_path, target, kwargs):
    outcome = run_valid(target, kwargs, tmp_path)
    assert outcome.ok, outcome.detail


def test_message_names_parameter_allowed_range_and_value(stack):
    with pytest.raises(ValueError, match=r"^max_attempts must be -1 or a whole number between "
                                         r"1 and 2147483647, but 0 was given$"):
        QueueOptions(max_attempts=0)


def test_message_quotes_choices_and_marks_empty_strings(stack):
    with pytest.raises(ValueError, match=r"^cpu must be one of '1', '2', '4', '6', '8', but 1 "
                                         r"was given$"):
        ServiceOptions(cpu=1)
    with pytest.raises(ValueError, match=r"but '' \(empty\) was given$"):
        TaskQueue(stack, "q", name="")
