"""The few statements every task runs, written once in SQL.

Claiming a node, starting a task, ending it and releasing its node are each one conditional
UPDATE (see `nodes.services`), and a submission counts what waits and asks whether a node has
room. Built by the ORM, each took 0.3–0.8 ms of the interpreter against 0.02–0.07 ms for SQLite
to run it (`bench/statements.py`), and they run on the one database thread that every dispatch
pass and every run's ending wait for: at 100 tasks a second that thread spent more time building
statements than running them. Here they go through Django's raw-SQL API instead (a cursor of the
default connection, so inside the caller's transaction), each value prepared by its model field
for the database in use (`Field.get_db_prep_save`), so one text serves SQLite and PostgreSQL.

Only statements on every task's path belong here; everything else stays with the ORM.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model


def quoted(name: str) -> str:
    """A table or column name as SQL writes it (double quotes: SQLite and PostgreSQL alike)."""
    return '"' + name.replace('"', '""') + '"'


def placeholders(values: Sequence[Any]) -> str:
    """`%s, %s, …`, one for each of `values` (for an `IN (…)`)."""
    return ", ".join(["%s"] * len(values))


def update_row(
    model: type[Model],
    pk: Any,
    where: str = "",
    where_params: Sequence[Any] = (),
    *,
    values: Mapping[str, Any] | None = None,
    expressions: Mapping[str, str] | None = None,
) -> bool:
    """UPDATE the row of `model` whose primary key is `pk`, if `where` (SQL over its columns,
    `%s` for each of `where_params`) holds: `values` (field name → Python value, prepared by its
    field) and `expressions` (column → SQL over the row's own columns, such as `"held" + 1`).
    Whether it changed."""
    connection = connections[DEFAULT_DB_ALIAS]
    meta = model._meta
    condition = f"{quoted(meta.pk.column)} = %s" + (f" AND ({where})" if where else "")
    assignments, params = [], []
    for name, value in (values or {}).items():
        field = meta.get_field(name)
        assignments.append(f"{quoted(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    for column, expression in (expressions or {}).items():
        assignments.append(f"{quoted(column)} = {expression}")
    sql = f"UPDATE {quoted(meta.db_table)} SET {', '.join(assignments)} WHERE {condition}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, meta.pk.get_db_prep_value(pk, connection), *where_params])
        return cursor.rowcount > 0


def count_rows(model: type[Model], where: str, params: Sequence[Any] = ()) -> int:
    """How many rows of `model` `where` (SQL, `%s` for each of `params`) holds for."""
    return _first(f"SELECT COUNT(*) FROM {quoted(model._meta.db_table)} WHERE {where}", params)


def any_row(model: type[Model], where: str, params: Sequence[Any] = ()) -> bool:
    """Whether `where` holds for some row of `model`."""
    sql = f"SELECT 1 FROM {quoted(model._meta.db_table)} WHERE {where} LIMIT 1"
    return _first(sql, params) is not None


def _first(sql: str, params: Sequence[Any]) -> Any:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else row[0]
