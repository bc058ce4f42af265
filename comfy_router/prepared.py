"""Statements written with the ORM and compiled to SQL once, for the hottest paths.

Django compiles a queryset to SQL every time it runs one; for the short statements of the
task path (a count, a one-row read, a conditional UPDATE) that compilation costs several times
the statement itself. A prepared statement is built once per database connection from the same
ORM expression, with stand-in values for its parameters; each call then runs the SQL as
compiled with the call's values, prepared for the database by their fields as Django would.

    queue_ahead = Count(
        Task,
        lambda created_at: Task.objects.filter(status="pending", created_at__lt=created_at),
        created_at="created_at",
    )
    queue_ahead(created_at=task.created_at)

Parameters are given by name with the model's field they are compared with or written to; the
builder receives one stand-in per parameter and must use each exactly as a value (in a filter,
or in `Update`'s changes), never inside a list (`__in`) or a computed expression. `Insert`
writes a whole row the same way.

A prepared statement runs on the driver's cursor, its SQL already in the driver's placeholder
style: Django's cursor wrapper would convert it again and check the thread on every call, as
much CPU as SQLite takes to run the statement. Database errors are still Django's, and a
broken transaction is still refused. While anything watches queries (`DEBUG`,
`CaptureQueriesContext`, `connection.execute_wrapper`), statements go through Django's cursor,
so they are seen like any other.
"""

from __future__ import annotations

import datetime
import secrets
import threading
import uuid
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core.exceptions import FullResultSet
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.models import QuerySet
from django.db.models.sql.subqueries import InsertQuery, UpdateQuery

C = TypeVar("C")  # what a PerConnection makes
R = TypeVar("R")  # what a statement's `result` makes of its cursor


@dataclass(frozen=True)
class Slot:
    """Where one parameter goes in the compiled parameters, and how its value is prepared."""

    name: str
    positions: tuple[int, ...]
    prepare: Callable[[Any], Any]
    nullable: bool  # False for a value compared in WHERE: SQL's `= NULL` matches nothing


@dataclass(frozen=True)
class SQL:
    """A statement as the ORM compiled it (`%s` placeholders), and as the driver takes it."""

    orm: str
    driver: str

    @classmethod
    def for_connection(cls, connection: Any, sql: str) -> SQL:
        if connection.vendor != "sqlite":
            return cls(sql, sql)  # PostgreSQL's drivers take Django's style as it is
        with connection.cursor() as cursor:
            return cls(sql, cursor.cursor.convert_query(sql))


def run(connection: Any, sql: SQL, params: Sequence[Any], result: Callable[[Any], R]) -> R:
    """Runs a prepared statement and returns `result(cursor)`; see the module's docstring."""
    if connection.queries_logged or connection.execute_wrappers:
        with connection.cursor() as cursor:
            cursor.execute(sql.orm, params)
            return result(cursor)
    connection.validate_no_broken_transaction()
    connection.close_if_health_check_failed()  # as Django's cursor() does first (PostgreSQL)
    connection.ensure_connection()
    with connection.wrap_database_errors:
        # SQLite's own cursor, not Django's subclass that converts placeholders on every call;
        # other backends' cursors as Django makes them (PostgreSQL's set the time zone).
        if connection.vendor == "sqlite":
            cursor = connection.connection.cursor()
        else:
            cursor = connection.create_cursor()
        try:
            cursor.execute(sql.driver, params)
            return result(cursor)
        finally:
            cursor.close()


def _fetchall(cursor: Any) -> list[tuple[Any, ...]]:
    return cursor.fetchall()


def _rowcount(cursor: Any) -> int:
    return cursor.rowcount


@dataclass
class Compiled:
    sql: SQL
    params: list[Any]
    slots: list[Slot]
    convert: Callable[[list[tuple[Any, ...]]], list[tuple[Any, ...]]] | None = None
    written: int = 0  # the first parameters are values written (UPDATE ... SET), not compared

    def params_for(self, values: dict[str, Any]) -> list[Any]:
        params = list(self.params)
        for slot in self.slots:
            value = values[slot.name]
            if value is None and not slot.nullable:
                raise ValueError(f"{slot.name} cannot be None in this statement")
            prepared = slot.prepare(value)
            for position in slot.positions:
                params[position] = prepared
        return params


class PerConnection(Generic[C]):
    """What `compile(connection)` made, once per database connection (connections belong to
    threads): compiled on first use on each, then reused."""

    def __init__(self, compile: Callable[[Any], C]) -> None:
        self._compile = compile
        self._made: weakref.WeakKeyDictionary[Any, C] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, connection: Any) -> C:
        found = self._made.get(connection)
        if found is None:
            found = self._compile(connection)
            with self._lock:
                self._made[connection] = found
        return found


class Prepared:
    """Compiles on first use on each connection, then reuses (see `PerConnection`)."""

    def __init__(
        self, model: type[models.Model], build: Callable[..., Any], /, **fields: str
    ) -> None:
        self.build = build
        self.fields = {
            name: model._meta.pk if field == "pk" else model._meta.get_field(field)
            for name, field in fields.items()
        }
        for field in self.fields.values():
            _stand_in(field)  # fails now, at import, for a field type without stand-ins
        self._compiled = PerConnection(self._compile_with_slots)

    def compiled(self, connection: Any) -> Compiled:
        return self._compiled.get(connection)

    def _compile(self, connection: Any, values: dict[str, Any]) -> Compiled:
        raise NotImplementedError

    def _compile_with_slots(self, connection: Any) -> Compiled:
        """Compiles with one set of stand-ins, then with each parameter's stand-in changed in
        turn: the positions that change are that parameter's."""
        first = {name: _stand_in(field) for name, field in self.fields.items()}
        compiled = self._compile(connection, first)
        base = [_comparable(p) for p in compiled.params]
        for name, field in self.fields.items():
            other = _stand_in(field)
            changed = self._compile(connection, {**first, name: other}).params
            positions = tuple(
                i for i, param in enumerate(changed) if _comparable(param) != base[i]
            )
            if not positions or len(changed) != len(base):
                raise TypeError(f"Parameter {name} is not used as a plain value")
            written = all(position < compiled.written for position in positions)
            if not written and any(position < compiled.written for position in positions):
                raise TypeError(f"Parameter {name} is both written and compared")
            slot = _slot(name, field, positions, connection, written=written)
            expected = _comparable(slot.prepare(other))
            if any(_comparable(changed[i]) != expected for i in positions):
                raise TypeError(f"Parameter {name} is not used as a plain value")
            compiled.slots.append(slot)
        return compiled


class Select(Prepared):
    """A `values_list` query: the rows as tuples, converted as the ORM converts them."""

    def __call__(self, **values: Any) -> list[tuple[Any, ...]]:
        connection = connections[DEFAULT_DB_ALIAS]
        compiled = self.compiled(connection)
        rows = run(connection, compiled.sql, compiled.params_for(values), _fetchall)
        return compiled.convert(rows) if compiled.convert else rows

    def _compile(self, connection: Any, values: dict[str, Any]) -> Compiled:
        queryset = self.build(**values)
        if not isinstance(queryset, QuerySet):
            raise TypeError("Select needs a queryset")
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        columns = [selected[0] for selected in compiler.select[: compiler.col_count]]
        converters = compiler.get_converters(columns)

        def convert(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in compiler.apply_converters(rows, converters)]

        return Compiled(
            SQL.for_connection(connection, sql), list(params), [], convert if converters else None
        )


class Count(Prepared):
    """The number of rows a queryset matches."""

    def __call__(self, **values: Any) -> int:
        connection = connections[DEFAULT_DB_ALIAS]
        compiled = self.compiled(connection)
        rows = run(connection, compiled.sql, compiled.params_for(values), _fetchall)
        return int(rows[0][0])

    def _compile(self, connection: Any, values: dict[str, Any]) -> Compiled:
        query = self.build(**values).order_by().values_list("pk").query
        inner, params = query.get_compiler(connection=connection).as_sql()
        sql = SQL.for_connection(connection, f"SELECT COUNT(*) FROM ({inner}) counted")
        return Compiled(sql, list(params), [])


class Update(Prepared):
    """A conditional UPDATE: the builder returns the queryset and the changes to make; a call
    returns how many rows it changed."""

    def __call__(self, **values: Any) -> int:
        connection = connections[DEFAULT_DB_ALIAS]
        compiled = self.compiled(connection)
        with transaction.mark_for_rollback_on_error(DEFAULT_DB_ALIAS):
            return run(connection, compiled.sql, compiled.params_for(values), _rowcount)

    def _compile(self, connection: Any, values: dict[str, Any]) -> Compiled:
        queryset, changes = self.build(**values)
        query = queryset.query.chain(UpdateQuery)
        query.add_update_values(changes)
        if query.related_updates:
            raise TypeError("Update cannot write to a parent model")
        compiler = query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        try:
            compared = compiler.compile(query.where)[1]  # the WHERE's, after the SET's
        except FullResultSet:
            compared = []
        written = len(params) - len(compared)
        return Compiled(SQL.for_connection(connection, sql), list(params), [], written=written)


class Insert:
    """The INSERT of a whole row, compiled once: `insert(obj)` writes `obj` as
    `obj.save(force_insert=True)` does (defaults, `auto_now_add`, each field's preparation), but
    sends no signals. For models whose primary key is set before saving (a UUID default)."""

    def __init__(self, model: type[models.Model]) -> None:
        if model._meta.pk is None or not model._meta.pk.has_default():
            raise TypeError(f"{model.__name__}'s primary key is not set before saving")
        self.model = model
        self.fields = [f for f in model._meta.local_concrete_fields if not f.generated]
        self._sql = PerConnection(self._compile)

    def row(self, obj: models.Model) -> list[Any]:
        """`obj`'s values as the INSERT writes them, `pre_save` done (so `auto_now_add` is now):
        made before a transaction, they leave it only the write to do."""
        connection = connections[DEFAULT_DB_ALIAS]
        return [
            field.get_db_prep_save(field.pre_save(obj, True), connection=connection)
            for field in self.fields
        ]

    def __call__(self, obj: models.Model, row: list[Any] | None = None) -> None:
        """Writes `obj`: the `row` made for it by `row(obj)` on this thread, or made now."""
        connection = connections[DEFAULT_DB_ALIAS]
        sql = self._sql.get(connection)
        params = self.row(obj) if row is None else row
        with transaction.mark_for_rollback_on_error(DEFAULT_DB_ALIAS):
            run(connection, sql, params, _rowcount)
        obj._state.adding = False
        obj._state.db = DEFAULT_DB_ALIAS

    def _compile(self, connection: Any) -> SQL:
        query = InsertQuery(self.model)
        query.insert_values(self.fields, [self.model()])
        [(sql, params)] = query.get_compiler(connection=connection).as_sql()
        if len(params) != len(self.fields) or sql.count("%s") != len(self.fields):
            raise TypeError(f"{self.model.__name__}'s INSERT has placeholders Insert cannot fill")
        return SQL.for_connection(connection, sql)


def model_order(model: type[models.Model], names: Sequence[str]) -> tuple[str, ...]:
    """Field names (attnames) in the model's own order, as `Model.from_db` takes values."""
    wanted = set(names)
    ordered = tuple(f.attname for f in model._meta.concrete_fields if f.attname in wanted)
    if len(ordered) != len(wanted):
        raise ValueError(f"Not fields of {model.__name__}: {wanted - set(ordered)}")
    return ordered


def _slot(
    name: str,
    field: models.Field[Any, Any],
    positions: Sequence[int],
    connection: Any,
    *,
    written: bool,
) -> Slot:
    target = field.target_field if field.is_relation else field

    def as_written(value: Any) -> Any:
        return target.get_db_prep_save(value, connection=connection)

    def as_compared(value: Any) -> Any:
        return target.get_db_prep_value(value, connection=connection, prepared=False)

    prepare = as_written if written else as_compared
    return Slot(name, tuple(positions), prepare, nullable=written)


def _stand_in(field: models.Field[Any, Any]) -> Any:
    """A value of the field's type that no real parameter has, different at every call."""
    target = field.target_field if field.is_relation else field
    token = secrets.randbits(40)
    if isinstance(target, models.UUIDField):
        return uuid.UUID(int=secrets.randbits(128))
    if isinstance(target, models.DateTimeField):
        moment = datetime.datetime(1901, 1, 1, tzinfo=datetime.timezone.utc)
        return moment + datetime.timedelta(microseconds=token)
    if isinstance(target, (models.IntegerField, models.AutoField)):
        return 1_000_000_000 + token % 1_000_000_000
    if isinstance(target, models.FloatField):
        return 1e9 + token
    if isinstance(target, (models.CharField, models.TextField)):
        return f"\x1fprepared-{token:x}"
    if isinstance(target, models.JSONField):
        return {"\x1fprepared": token}
    raise TypeError(f"No stand-in for a {type(target).__name__} parameter")


def _comparable(param: Any) -> Any:
    """A prepared value as it can be compared: PostgreSQL's JSON adapter wraps the object."""
    return getattr(param, "obj", param)
