"""The case tables cover every shared table, key and constraint the models declare."""

from __future__ import annotations

from django.db import models

from hub.ops.schema_check import shared_models
from tests.constraints.builders import BUILDERS
from tests.constraints.cases import CHOICES, FOREIGN_KEYS, RANGES, UNIQUES
from tests.schema.helpers import JOIN_TABLES, SHARED_TABLES


def _declared_foreign_keys() -> set[tuple[str, str, str]]:
    return {
        (model._meta.db_table, f.column, f.related_model._meta.db_table)
        for model in shared_models()
        for f in model._meta.concrete_fields
        if isinstance(f, models.ForeignKey)
    }


def test_every_shared_table_has_a_builder():
    assert set(BUILDERS) == SHARED_TABLES | JOIN_TABLES


def test_every_declared_foreign_key_has_a_case():
    assert {(c.table, c.column, c.target) for c in FOREIGN_KEYS} == _declared_foreign_keys()


def test_every_table_with_a_foreign_key_is_covered():
    children = {c.table for c in FOREIGN_KEYS}
    # The user table is the root: it references nothing, and is a parent in many cases.
    assert children == (SHARED_TABLES | JOIN_TABLES) - {"authentication_user"}


def test_every_declared_unique_has_a_case():
    declared = set()
    for model in shared_models():
        table = model._meta.db_table
        for f in model._meta.concrete_fields:
            if f.unique and not f.primary_key:
                declared.add((table, (f.column,)))
        for constraint in model._meta.constraints:
            if isinstance(constraint, models.UniqueConstraint):
                columns = tuple(model._meta.get_field(name).column for name in constraint.fields)
                declared.add((table, columns))
        for together in model._meta.unique_together:
            declared.add((table, tuple(model._meta.get_field(name).column for name in together)))
    assert declared == {(c.table, c.columns) for c in UNIQUES}


def test_every_declared_check_has_a_case():
    declared = {
        (model._meta.db_table, constraint.name)
        for model in shared_models()
        for constraint in model._meta.constraints
        if isinstance(constraint, models.CheckConstraint)
    }
    cased = {(c.table, f"{c.table}_{c.column}_valid") for c in CHOICES} | {
        (r.table, f"{r.table}_{r.column}_range") for r in RANGES if r.high is not None
    }
    assert declared == cased
