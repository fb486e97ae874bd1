"""Compare a live database's shared tables with the hub's models (``manage.py hub_schema_check``).

The shared tables belong to the CRM as much as to the hub (SCHEMA.md, rule zero). Before the hub
is pointed at the CRM's database with ``migrate --fake-initial``, every way those tables differ
from the models must be known: faking the initial migrations would otherwise hide it.

Constraints and indexes are matched by their columns, never by name: the CRM's generated names
differ from ours. PostgreSQL is the primary target; on SQLite the types are compared as SQLite
reports them (the declared type of each column).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.fields import AutoFieldMixin
from django.db.models.fields.related import RelatedField
from django.db.models.fields.reverse_related import ForeignObjectRel

SHARED_APPS = ("authentication", "crm", "customers", "emails", "calls", "notifications", "issues")
SHARED_PREFIXES = tuple(f"{label}_" for label in SHARED_APPS)

# Kinds of difference, in the order they are listed within a table.
MISSING_TABLE = "missing table"
EXTRA_TABLE = "extra table"
MISSING_COLUMN = "missing column"
EXTRA_COLUMN = "extra column"
COLUMN_TYPE = "column type"
NULLABILITY = "nullability"
PRIMARY_KEY = "primary key"
MISSING_UNIQUE = "missing unique"
EXTRA_UNIQUE = "extra unique"
MISSING_FK = "missing foreign key"
FK_TARGET = "foreign key target"
EXTRA_FK = "extra foreign key"
MISSING_INDEX = "missing index"
MISSING_CHECK = "missing check"
EXTRA_CHECK = "extra check"
KINDS = (
    MISSING_TABLE,
    EXTRA_TABLE,
    MISSING_COLUMN,
    EXTRA_COLUMN,
    COLUMN_TYPE,
    NULLABILITY,
    PRIMARY_KEY,
    MISSING_UNIQUE,
    EXTRA_UNIQUE,
    MISSING_FK,
    FK_TARGET,
    EXTRA_FK,
    MISSING_INDEX,
    MISSING_CHECK,
    EXTRA_CHECK,
)


@dataclass(frozen=True)
class Difference:
    table: str
    kind: str
    detail: str
    column: str | None = None

    def sort_key(self) -> tuple[str, int, str, str]:
        return (self.table, KINDS.index(self.kind), self.column or "", self.detail)

    def __str__(self) -> str:
        return f"{self.table}: {self.detail}"


@dataclass(frozen=True)
class Column:
    type: str
    null: bool
    # None when the backend cannot tell (anything but PostgreSQL).
    auto: bool | None = None


@dataclass
class TableShape:
    """One table's columns, keys, indexes and checks, as the model wants it or the database has it."""

    columns: dict[str, Column] = field(default_factory=dict)
    primary_key: tuple[str, ...] = ()
    # (columns, partial) -> the columns in their declared order, for messages.
    uniques: dict[tuple[frozenset[str], bool], tuple[str, ...]] = field(default_factory=dict)
    # column -> (target table, target column)
    foreign_keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Column lists of indexes; in the database shape also of unique constraints and the primary key.
    indexes: set[tuple[str, ...]] = field(default_factory=set)
    checks: set[frozenset[str]] = field(default_factory=set)


# --- the models' side -----------------------------------------------------------------------------


def shared_models() -> list[type[models.Model]]:
    """Return every model with a shared table, the automatic M2M join tables included.

    A shared app may hold a hub-owned model (``hub_*``, e.g. calls' opening hours): not shared.
    """
    found = []
    for label in SHARED_APPS:
        for model in apps.get_app_config(label).get_models(include_auto_created=True):
            opts = model._meta
            shared = opts.db_table.startswith(SHARED_PREFIXES)
            if shared and opts.managed and not opts.proxy and not opts.swapped:
                found.append(model)
    return sorted(found, key=lambda model: model._meta.db_table)


def normalise_type(db_type: str) -> str:
    """Spell a column type one way: ``character varying(255)`` and ``varchar(255)`` compare equal."""
    text = " ".join(db_type.lower().split())
    text = re.sub(r"\s*\(\s*", "(", text)
    text = re.sub(r"\s*,\s*", ",", text)
    text = re.sub(r"\s*\)", ")", text)
    base, paren, rest = text.partition("(")
    base = _TYPE_ALIASES.get(base, base)
    return f"{base}{paren}{rest}"


_TYPE_ALIASES = {
    "character varying": "varchar",
    "character": "char",
    "int": "integer",
    "int4": "integer",
    "serial": "integer",
    "serial4": "integer",
    "int8": "bigint",
    "bigserial": "bigint",
    "serial8": "bigint",
    "int2": "smallint",
    "smallserial": "smallint",
    "bool": "boolean",
    "decimal": "numeric",
    "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp",
    "time without time zone": "time",
    "double precision": "float8",
    "real": "float4",
}


def model_shape(model: type[models.Model], connection: BaseDatabaseWrapper) -> TableShape:
    opts = model._meta
    shape = TableShape(primary_key=(_column(opts.pk),))
    for f in opts.local_concrete_fields:
        db_type = f.db_type(connection)
        if db_type is None:
            continue
        column = _column(f)
        auto = isinstance(f, AutoFieldMixin) if f.primary_key else None
        shape.columns[column] = Column(normalise_type(db_type), f.null, auto)
        if f.unique and not f.primary_key:
            shape.uniques[(frozenset([column]), False)] = (column,)
        # A concrete field with a remote field is a ForeignKey (or OneToOneField): a RelatedField.
        if isinstance(f, RelatedField) and getattr(f, "db_constraint", False):
            target = (f.related_model._meta.db_table, _column(f.target_field))
            shape.foreign_keys[column] = target
        if f.db_index and not f.unique:  # type: ignore[attr-defined]  # the stubs lack Field.db_index
            shape.indexes.add((column,))
        if f.db_check(connection):
            shape.checks.add(frozenset([column]))
    for names in opts.unique_together:
        columns = _columns(model, names)
        shape.uniques[(frozenset(columns), False)] = columns
    for index in opts.indexes:
        if index.fields:  # an index on expressions cannot be matched by columns
            shape.indexes.add(_columns(model, [name.lstrip("-") for name in index.fields]))
    for constraint in opts.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
            columns = _columns(model, constraint.fields)
            shape.uniques[(frozenset(columns), constraint.condition is not None)] = columns
        elif isinstance(constraint, models.CheckConstraint):
            check_columns = _condition_columns(model, constraint.condition)
            if check_columns:
                shape.checks.add(check_columns)
    return shape


def _column(f: models.Field[Any, Any] | ForeignObjectRel) -> str:
    """Return a concrete field's column: the shapes only list fields that have one."""
    assert isinstance(f, models.Field) and f.column is not None, f"{f} has no column"
    return f.column


def _columns(model: type[models.Model], names: Iterable[str]) -> tuple[str, ...]:
    return tuple(_column(model._meta.get_field(name)) for name in names)


def _condition_columns(model: type[models.Model], condition: object) -> frozenset[str]:
    """Return the columns a CHECK condition reads (empty when it is not a plain ``Q``)."""
    names: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, models.Q):
            for child in node.children:
                walk(child)
        elif isinstance(node, tuple):
            lookup, value = node
            names.add(lookup.split("__", 1)[0])
            walk(value)
        elif isinstance(node, models.F):
            names.add(node.name.split("__", 1)[0])  # type: ignore[attr-defined]  # the stubs lack F.name

    walk(condition)
    return frozenset(_columns(model, sorted(names)))


# --- the database's side --------------------------------------------------------------------------


def database_shape(connection: BaseDatabaseWrapper, cursor, table: str) -> TableShape:
    introspection = connection.introspection
    shape = TableShape(columns=_database_columns(connection, cursor, table))
    partial = _partial_indexes(connection, cursor, table)
    for name, info in introspection.get_constraints(cursor, table).items():
        columns = tuple(info["columns"] or ())
        if not columns or None in columns:  # expression indexes
            continue
        if info["primary_key"]:
            shape.primary_key = columns
            shape.indexes.add(columns)
        elif info["unique"]:
            shape.uniques[(frozenset(columns), name in partial)] = columns
            shape.indexes.add(columns)
        elif info["index"]:
            shape.indexes.add(columns)
        elif info["check"]:
            shape.checks.add(frozenset(columns))
    if not shape.primary_key:
        shape.primary_key = tuple(introspection.get_primary_key_columns(cursor, table) or ())
    shape.foreign_keys = {
        column: (target_table, target_column)
        for column, (target_column, target_table) in introspection.get_relations(
            cursor, table
        ).items()
    }
    return shape


def _database_columns(connection: BaseDatabaseWrapper, cursor, table: str) -> dict[str, Column]:
    if connection.vendor == "postgresql":
        # format_type() spells sizes and precisions out, which cursor.description does not.
        cursor.execute(
            """
            SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
                   a.attidentity <> '' OR coalesce(pg_get_expr(d.adbin, d.adrelid), '') LIKE 'nextval(%%'
            FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE c.relname = %s AND pg_catalog.pg_table_is_visible(c.oid)
              AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum
            """,
            [table],
        )
        return {
            name: Column(normalise_type(db_type), null, auto)
            for name, db_type, null, auto in cursor.fetchall()
        }
    return {
        info.name: Column(normalise_type(str(info.type_code)), bool(info.null_ok))
        for info in connection.introspection.get_table_description(cursor, table)
    }


def _partial_indexes(connection: BaseDatabaseWrapper, cursor, table: str) -> set[str]:
    """Return the names of the table's indexes that have a WHERE clause."""
    if connection.vendor == "postgresql":
        cursor.execute(
            """
            SELECT ic.relname FROM pg_index i
            JOIN pg_class c ON c.oid = i.indrelid
            JOIN pg_class ic ON ic.oid = i.indexrelid
            WHERE c.relname = %s AND pg_catalog.pg_table_is_visible(c.oid) AND i.indpred IS NOT NULL
            """,
            [table],
        )
        return {name for (name,) in cursor.fetchall()}
    if connection.vendor == "sqlite":
        cursor.execute(f"PRAGMA index_list({connection.ops.quote_name(table)})")
        # Columns: seq, name, unique, origin, partial.
        return {row[1] for row in cursor.fetchall() if len(row) > 4 and row[4]}
    return set()


# --- the comparison -------------------------------------------------------------------------------


def schema_differences(connection: BaseDatabaseWrapper) -> list[Difference]:
    """Return every difference between the shared tables of ``connection`` and the models."""
    expected = {model._meta.db_table: model for model in shared_models()}
    found: list[Difference] = []
    with connection.cursor() as cursor:
        existing = {
            info.name
            for info in connection.introspection.get_table_list(cursor)
            if info.type == "t"
        }
        for table, model in expected.items():
            if table not in existing:
                found.append(Difference(table, MISSING_TABLE, "missing table"))
                continue
            found += compare_table(
                table, model_shape(model, connection), database_shape(connection, cursor, table)
            )
    for table in sorted(existing - expected.keys()):
        if table.startswith(SHARED_PREFIXES):
            found.append(Difference(table, EXTRA_TABLE, "table not declared by any model"))
    return sorted(found, key=Difference.sort_key)


def compare_table(table: str, want: TableShape, have: TableShape) -> list[Difference]:
    return [
        *_compare_columns(table, want, have),
        *_compare_keys(table, want, have),
        *_compare_foreign_keys(table, want, have),
        *_compare_indexes_and_checks(table, want, have),
    ]


def _describe(column: Column) -> str:
    return f"{column.type} {'NULL' if column.null else 'NOT NULL'}"


def _compare_columns(table: str, want: TableShape, have: TableShape) -> Iterable[Difference]:
    for name, column in want.columns.items():
        actual = have.columns.get(name)
        if actual is None:
            yield Difference(
                table, MISSING_COLUMN, f"missing column {name} ({_describe(column)})", name
            )
            continue
        if actual.type != column.type:
            detail = (
                f"column {name}: type {actual.type} in the database, {column.type} in the model"
            )
            yield Difference(table, COLUMN_TYPE, detail, name)
        if actual.null != column.null:
            detail = (
                f"column {name}: {'NULL' if actual.null else 'NOT NULL'} in the database, "
                f"{'NULL' if column.null else 'NOT NULL'} in the model"
            )
            yield Difference(table, NULLABILITY, detail, name)
        if column.auto and actual.auto is False:
            detail = (
                f"column {name}: not auto-incrementing in the database (no identity or sequence)"
            )
            yield Difference(table, PRIMARY_KEY, detail, name)
    for name, column in have.columns.items():
        if name not in want.columns:
            detail = f"extra column {name} ({_describe(column)}), not declared by the model"
            yield Difference(table, EXTRA_COLUMN, detail, name)


def _compare_keys(table: str, want: TableShape, have: TableShape) -> Iterable[Difference]:
    if want.primary_key != have.primary_key:
        actual = f"({', '.join(have.primary_key)})" if have.primary_key else "none"
        detail = (
            f"primary key {actual} in the database, ({', '.join(want.primary_key)}) in the model"
        )
        yield Difference(table, PRIMARY_KEY, detail)
    for key, columns in want.uniques.items():
        if key not in have.uniques and key[0] <= have.columns.keys():
            yield Difference(table, MISSING_UNIQUE, f"missing unique {_unique_text(key, columns)}")
    for key, columns in have.uniques.items():
        if key not in want.uniques:
            detail = f"unique {_unique_text(key, columns)} not declared by the model"
            yield Difference(table, EXTRA_UNIQUE, detail)


def _unique_text(key: tuple[frozenset[str], bool], columns: tuple[str, ...]) -> str:
    return f"({', '.join(columns)}){' with a condition' if key[1] else ''}"


def _compare_foreign_keys(table: str, want: TableShape, have: TableShape) -> Iterable[Difference]:
    for column, target in want.foreign_keys.items():
        actual = have.foreign_keys.get(column)
        wanted = f"{target[0]}({target[1]})"
        if actual is None:
            if column in have.columns:
                detail = f"column {column}: no foreign key in the database, the model references {wanted}"
                yield Difference(table, MISSING_FK, detail, column)
        elif actual != target:
            detail = (
                f"column {column}: foreign key to {actual[0]}({actual[1]}) in the database, "
                f"the model references {wanted}"
            )
            yield Difference(table, FK_TARGET, detail, column)
    for column, actual in have.foreign_keys.items():
        if column not in want.foreign_keys:
            detail = f"column {column}: foreign key to {actual[0]}({actual[1]}) not declared by the model"
            yield Difference(table, EXTRA_FK, detail, column)


def _compare_indexes_and_checks(
    table: str, want: TableShape, have: TableShape
) -> Iterable[Difference]:
    for columns in sorted(want.indexes):
        # An index whose leading columns are these serves the same lookups.
        covered = any(index[: len(columns)] == columns for index in have.indexes)
        if not covered and set(columns) <= have.columns.keys():
            yield Difference(table, MISSING_INDEX, f"missing index ({', '.join(columns)})")
    for check in sorted(want.checks - have.checks, key=sorted):
        if check <= have.columns.keys():
            yield Difference(table, MISSING_CHECK, f"missing CHECK on ({', '.join(sorted(check))})")
    for check in sorted(have.checks - want.checks, key=sorted):
        detail = f"CHECK on ({', '.join(sorted(check))}) not declared by the model"
        yield Difference(table, EXTRA_CHECK, detail)
