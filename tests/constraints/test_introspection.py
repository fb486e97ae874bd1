"""The live PostgreSQL database carries every constraint and index the document asks for."""

from __future__ import annotations

import re
from functools import cache

import pytest
from django.db import connection

from tests.constraints.cases import (
    CHOICES,
    FOREIGN_KEYS,
    INDEXES,
    NOT_NULL_CASES,
    RANGES,
    UNIQUES,
    primary_key_type,
)
from tests.schema.helpers import JOIN_TABLES, SHARED_TABLES

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@cache
def _constraints(table: str) -> dict:
    with connection.cursor() as cursor:
        return connection.introspection.get_constraints(cursor, table)


@pytest.fixture(autouse=True)
def _fresh_introspection():
    _constraints.cache_clear()


def _checks_on(table: str, column: str) -> dict[str, str]:
    """Return name → definition of the CHECK constraints on exactly ``column``."""
    names = [
        name for name, c in _constraints(table).items() if c["check"] and c["columns"] == [column]
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'c' AND conname = ANY(%s)",
            [table, names],
        )
        return dict(cursor.fetchall())


def _column_type(table: str, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s AND column_name = %s",
            [table, column],
        )
        [(data_type,)] = cursor.fetchall()
    return data_type


@pytest.mark.parametrize(
    "table",
    [
        pytest.param(t, id=f"{t}.id {primary_key_type(t)} PRIMARY KEY")
        for t in sorted(SHARED_TABLES | JOIN_TABLES)
    ],
)
def test_primary_key(table):
    """D1: each table's own stated key type."""
    assert [
        n for n, c in _constraints(table).items() if c["primary_key"] and c["columns"] == ["id"]
    ]
    assert _column_type(table, "id") == primary_key_type(table)


@pytest.mark.parametrize("case", [case.param(with_xfail=False) for case in FOREIGN_KEYS])
def test_foreign_key(case):
    """The key exists, and (D2) takes its target's key type."""
    found = [
        name
        for name, c in _constraints(case.table).items()
        if c["foreign_key"] == (case.target, "id") and c["columns"] == [case.column]
    ]
    assert len(found) == 1, (
        f"no FOREIGN KEY {case.table}({case.column}) REFERENCES {case.target}(id)"
    )


@pytest.mark.parametrize("case", [case.param() for case in UNIQUES])
def test_unique(case):
    constraints = _constraints(case.table)
    if case.name:
        assert case.name in constraints
        assert constraints[case.name]["unique"]
        assert constraints[case.name]["columns"] == list(case.columns)
        return
    found = [
        name
        for name, c in constraints.items()
        if c["unique"] and sorted(c["columns"]) == sorted(case.columns)
    ]
    assert found, f"no UNIQUE ({', '.join(case.columns)}) on {case.table}: {sorted(constraints)}"


def test_the_one_default_pipeline_index_is_partial():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'crm_pipeline' AND indexname = %s",
            ["crm_pipeline_one_default_per_company"],
        )
        [(definition,)] = cursor.fetchall()
    assert definition.startswith("CREATE UNIQUE INDEX")
    assert "WHERE is_default" in definition


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            case,
            id=f"{case.id} CHECK IN ({','.join(case.values)})",
            marks=[pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else [],
        )
        for case in CHOICES
    ],
)
def test_enum_check_lists_exactly_the_documented_values(case):
    checks = _checks_on(case.table, case.column)
    assert len(checks) == 1, f"expected one CHECK on {case.id}, found {checks}"
    [(name, definition)] = checks.items()
    literals = {
        literal.replace("''", "'") for literal in re.findall(r"'((?:[^']|'')*)'", definition)
    }
    assert literals == set(case.values), f"{name}: {definition}"
    assert ("IS NULL" in definition) == case.nullable, f"{name}: {definition}"


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            r,
            id=f"{r.table}.{r.column} CHECK >= {r.low}"
            + (f" AND <= {r.high}" if r.high is not None else ""),
        )
        for r in RANGES
    ],
)
def test_range_check(case):
    checks = _checks_on(case.table, case.column)
    assert checks, f"no CHECK on {case.table}.{case.column}"
    definition = " ".join(checks.values())
    assert f">= {case.low}" in definition
    if case.high is not None:
        assert f"<= {case.high}" in definition


@pytest.mark.parametrize(
    ("table", "column"),
    [
        pytest.param(table, column, id=f"{table}.{column} NOT NULL")
        for table, column in NOT_NULL_CASES
    ],
)
def test_not_null(table, column):
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, table)
    [info] = [col for col in description if col.name == column]
    assert not info.null_ok


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        pytest.param(table, columns, id=f"{table}({columns.replace(' ', ',')}) index")
        for table, columns in INDEXES
    ],
)
def test_documented_index(table, columns):
    names = [c.lstrip("-") for c in columns.split()]
    orders = ["DESC" if c.startswith("-") else "ASC" for c in columns.split()]
    found = [
        name
        for name, c in _constraints(table).items()
        if (c["index"] or c["unique"])
        and c["columns"] == names
        and ("DESC" not in orders or c.get("orders") == orders)
    ]
    assert found, f"no index on {table}({', '.join(columns.split())})"
