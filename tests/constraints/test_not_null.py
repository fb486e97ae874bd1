"""The columns the document requires refuse NULL, written past the model."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from tests.constraints.builders import build, field_for, model_for
from tests.constraints.cases import NOT_NULL_CASES

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("table", "column"),
    [
        pytest.param(table, column, id=f"{table}.{column} NOT NULL")
        for table, column in NOT_NULL_CASES
    ],
)
def test_null_is_refused(table, column):
    model = model_for(table)
    row = build(table)
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.filter(pk=row.pk).update(**{field_for(model, column).attname: None})
