"""The few statements every task runs, written once in SQL.

Claiming a node, starting a task, ending it and releasing its node are each one conditional
UPDATE (see `nodes.services`), a submission counts what waits and asks whether a node has room,
and the metrics a busy second gathered are added in one statement (`comfy_router.counters`).
Built by the ORM, each statement is compiled anew on every call, which costs several times
what running it does (`bench/statements.py`), on the one database thread that every dispatch
pass and every run's ending wait for. Here they go through Django's raw-SQL API instead (a
cursor of the default connection, so inside the caller's transaction), each value prepared by
its model field for the database in use (`Field.get_db_prep_save`), so one text serves SQLite
and PostgreSQL.

Only statements on every task's path belong here; everything else stays with the ORM.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model


def quoted(name: str) -> str:
    """A table or column name as SQL writes it (double quotes: SQLite and PostgreSQL alike)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Condition:
    """A WHERE clause over one table's columns, `%s` for each of `params`; `&` and `|` join two."""

    sql: str
    params: tuple[Any, ...] = ()

    def __and__(self, other: Condition) -> Condition:
        return Condition(f"({self.sql}) AND ({other.sql})", self.params + other.params)

    def __or__(self, other: Condition) -> Condition:
        return Condition(f"({self.sql}) OR ({other.sql})", self.params + other.params)


def one_of(column: str, values: Sequence[Any]) -> Condition:
    """`column` is one of `values`."""
    return Condition(f"{quoted(column)} IN ({', '.join(['%s'] * len(values))})", tuple(values))


def equal(column: str, value: Any) -> Condition:
    """`column` is `value` (NULL for None)."""
    if value is None:
        return Condition(f"{quoted(column)} IS NULL")
    return Condition(f"{quoted(column)} = %s", (value,))


def update_row(
    model: type[Model],
    pk: Any,
    where: Condition | None = None,
    *,
    values: Mapping[str, Any] | None = None,
    expressions: Mapping[str, str] | None = None,
) -> bool:
    """UPDATE the row of `model` whose primary key is `pk`, if `where` holds: `values` (field
    name → Python value, prepared by its field) and `expressions` (column → SQL over the row's
    own columns, such as `"held" + 1`). Whether it changed."""
    connection = connections[DEFAULT_DB_ALIAS]
    meta = model._meta
    condition = f"{quoted(meta.pk.column)} = %s" + (f" AND ({where.sql})" if where else "")
    assignments, params = [], []
    for name, value in (values or {}).items():
        field = meta.get_field(name)
        assignments.append(f"{quoted(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    for column, expression in (expressions or {}).items():
        assignments.append(f"{quoted(column)} = {expression}")
    sql = f"UPDATE {quoted(meta.db_table)} SET {', '.join(assignments)} WHERE {condition}"
    with connection.cursor() as cursor:
        pk_param = meta.pk.get_db_prep_value(pk, connection)
        cursor.execute(sql, [*params, pk_param, *(where.params if where else ())])
        return cursor.rowcount > 0


def add_to_rows(
    model: type[Model], keys: Sequence[str], column: str, rows: Sequence[Sequence[Any]]
) -> None:
    """For each row (the values of the fields `keys`, then an amount): adds the amount to field
    `column` of the row of `model` with those keys, or makes that row with the amount. One
    `INSERT ... ON CONFLICT DO UPDATE` for all of them (SQLite 3.24+, PostgreSQL 9.5+); `keys`
    must be a unique constraint of `model`."""
    if not rows:
        return
    connection = connections[DEFAULT_DB_ALIAS]
    meta = model._meta
    fields = [meta.get_field(name) for name in (*keys, column)]
    table, total = quoted(meta.db_table), quoted(fields[-1].column)
    sql = (
        f"INSERT INTO {table} ({', '.join(quoted(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({', '.join(quoted(f.column) for f in fields[:-1])}) "
        f"DO UPDATE SET {total} = {table}.{total} + excluded.{total}"
    )
    prepared = [
        [
            field.get_db_prep_save(value, connection)
            for field, value in zip(fields, row, strict=True)
        ]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, prepared)


def count_rows(model: type[Model], where: Condition) -> int:
    """How many rows of `model` `where` holds for."""
    return _first(f"SELECT COUNT(*) FROM {quoted(model._meta.db_table)} WHERE {where.sql}", where)


def any_row(model: type[Model], where: Condition) -> bool:
    """Whether `where` holds for some row of `model`."""
    sql = f"SELECT 1 FROM {quoted(model._meta.db_table)} WHERE {where.sql} LIMIT 1"
    return _first(sql, where) is not None


def _first(sql: str, where: Condition) -> Any:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(sql, where.params)
        row = cursor.fetchone()
    return None if row is None else row[0]
