"""Each foreign key's ON DELETE rule: CASCADE removes the child, SET NULL empties the column,
RESTRICT refuses. The database refuses a dangling key whatever the rule.

Django applies ``on_delete`` itself (the CRM, also Django, does the same on the shared database),
so the rules are exercised through queryset deletes; the key itself is checked by the database.
"""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from tests.constraints.builders import build, field_for, model_for
from tests.constraints.cases import CASCADE, FOREIGN_KEYS, RESTRICT, SET_NULL

pytestmark = pytest.mark.django_db


def _child_of_fresh_parent(case):
    model = model_for(case.table)
    fk = field_for(model, case.column)
    parent = build(case.target)
    child = build(case.table, **{fk.name: parent})
    assert getattr(child, fk.attname) == parent.pk
    return model, fk, parent, child


@pytest.mark.parametrize("case", [case.param() for case in FOREIGN_KEYS])
def test_deleting_the_parent_follows_the_rule(case):
    model, fk, parent, child = _child_of_fresh_parent(case)
    parents = type(parent).objects.filter(pk=parent.pk)
    if case.on_delete == RESTRICT:
        with pytest.raises(IntegrityError), transaction.atomic():
            parents.delete()
        assert parents.exists()
        assert model.objects.filter(pk=child.pk).exists()
        return
    with transaction.atomic():
        parents.delete()
    assert not parents.exists()
    if case.on_delete == CASCADE:
        assert not model.objects.filter(pk=child.pk).exists()
    else:
        assert case.on_delete == SET_NULL
        assert model.objects.filter(pk=child.pk).values_list(fk.attname, flat=True).get() is None


def _missing_key(target_model) -> int:
    """Return an integer key no row of ``target_model`` has (every FK target has one)."""
    keys = target_model.objects.order_by("-pk").values_list("pk", flat=True)
    return (keys.first() or 0) + 10**6


@pytest.mark.parametrize("case", [case.param(with_xfail=False) for case in FOREIGN_KEYS])
def test_the_database_refuses_a_dangling_key(case):
    model, _, parent, child = _child_of_fresh_parent(case)
    qn = connection.ops.quote_name
    pk = model._meta.pk
    update = f"UPDATE {qn(case.table)} SET {qn(case.column)} = %s WHERE {qn(pk.column)} = %s"
    with pytest.raises(IntegrityError), transaction.atomic():
        with connection.cursor() as cursor:
            key = pk.get_db_prep_value(child.pk, connection)
            cursor.execute(update, [_missing_key(type(parent)), key])
        # The keys are DEFERRABLE INITIALLY DEFERRED (Django's way): check them now.
        connection.check_constraints(table_names=[case.table])
