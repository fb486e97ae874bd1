"""Every enum column takes exactly its documented values (D7: exact case), and ranges hold."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from tests.constraints.builders import build, model_for
from tests.constraints.cases import CHOICES, range_params

pytestmark = pytest.mark.django_db


def _set(table: str, column: str, value) -> tuple:
    """Write ``value`` straight into a fresh row's column; return the model and the row's pk."""
    row = build(table)
    model = model_for(table)
    with transaction.atomic():
        model.objects.filter(pk=row.pk).update(**{column: value})
    return model, row.pk


def _accepted():
    for case in CHOICES:
        values = case.values + ((None,) if case.nullable else ())
        shown = "|".join("NULL" if v is None else v for v in values)
        marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
        yield pytest.param(case, values, id=f"{case.id} in {shown}", marks=marks)


@pytest.mark.parametrize(("case", "values"), list(_accepted()))
def test_every_documented_value_is_accepted(case, values):
    for value in values:
        model, pk = _set(case.table, case.column, value)
        assert model.objects.filter(pk=pk, **{case.column: value}).exists()


def _rejected():
    for case in CHOICES:
        marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
        for value in case.rejected:
            yield pytest.param(case, value, id=f"{case.id}!={value!r}", marks=marks)


@pytest.mark.parametrize(("case", "value"), list(_rejected()))
def test_an_undocumented_value_is_refused(case, value):
    with pytest.raises(IntegrityError):
        _set(case.table, case.column, value)


@pytest.mark.parametrize(("case", "value"), range_params(inside=True))
def test_a_range_takes_its_bounds(case, value):
    model, pk = _set(case.table, case.column, value)
    assert model.objects.filter(pk=pk, **{case.column: value}).exists()


@pytest.mark.parametrize(("case", "value"), range_params(inside=False))
def test_a_range_refuses_one_step_outside(case, value):
    with pytest.raises(IntegrityError):
        _set(case.table, case.column, value)
