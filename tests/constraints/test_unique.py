"""Every UNIQUE of the shared schema refuses a second row, whatever the model would validate."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from tests.constraints.builders import build, field_for, model_for
from tests.constraints.cases import UNIQUES, Unique

pytestmark = pytest.mark.django_db


def _first(case: Unique):
    if case.where.get("is_default"):
        # A new company already has its default pipeline (SCHEMA.md: exactly one per company).
        return build("authentication_company").pipelines.get(is_default=True)
    return build(case.table)


def _copy(row, case: Unique, columns) -> dict:
    model = model_for(case.table)
    attnames = [field_for(model, column).attname for column in columns]
    return {attname: getattr(row, attname) for attname in attnames} | case.where


@pytest.mark.parametrize("case", [case.param() for case in UNIQUES])
def test_a_duplicate_is_refused(case):
    first, second = _first(case), build(case.table)
    model = model_for(case.table)
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.filter(pk=second.pk).update(**_copy(first, case, case.columns))
    assert model.objects.filter(**_copy(first, case, case.columns)).count() == 1


def _partial_matches():
    for case in UNIQUES:
        if len(case.columns) < 2:
            continue
        for other in case.columns:
            same = tuple(column for column in case.columns if column != other)
            case_id = f"{case.table}: same {','.join(same)}, other {other} allowed"
            yield pytest.param(case, same, id=case_id, marks=case.param().marks)


@pytest.mark.parametrize(("case", "same"), list(_partial_matches()))
def test_a_composite_key_is_not_unique_column_by_column(case, same):
    """D10 among them: one Message-ID may be stored for two e-mail accounts."""
    first, second = _first(case), build(case.table)
    model = model_for(case.table)
    with transaction.atomic():
        model.objects.filter(pk=second.pk).update(**_copy(first, case, same))
    both = model.objects.filter(pk__in=[first.pk, second.pk], **_copy(first, case, same))
    assert both.count() == 2


def test_a_company_may_have_many_pipelines_that_are_not_default():
    company = build("authentication_company")
    build("crm_pipeline", company=company, is_default=False)
    build("crm_pipeline", company=company, is_default=False)
    assert company.pipelines.filter(is_default=False).count() == 2
    assert company.pipelines.filter(is_default=True).count() == 1
