"""Prepared statements (comfy_router.prepared) run on the database driver's cursor, without
Django's cursor wrapper, yet behave as Django's queries do: its exceptions, its refusal to go on
in a broken transaction, and seen by whatever watches queries."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.backends import utils
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from comfy_router.prepared import Count, Insert, Select, Update
from workflows.models import Task

pytestmark = pytest.mark.django_db

_BY_ID = Select(
    Task, lambda task_id: Task.objects.filter(pk=task_id).values_list("status"), task_id="pk"
)
_PENDING = Count(
    Task,
    lambda model: Task.objects.filter(status="pending", main_model=model),
    model="main_model",
)
_RENAME = Update(
    Task,
    lambda task_id, model: (Task.objects.filter(pk=task_id), {"main_model": model}),
    task_id="pk",
    model="main_model",
)
_INSERT = Insert(Task)


def new_task() -> Task:
    return Task(
        type="ComfyUI",
        params={"prompt": {}},
        graph={"1": {"class_type": "EmptyImage", "inputs": {}}},
        client_id=uuid.uuid4().hex,
        prompt_id=str(uuid.uuid4()),
    )


def test_prepared_statements_bypass_djangos_cursor_wrapper_when_nothing_watches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    through_django: list[str] = []
    original = utils.CursorWrapper.execute

    def counting(self: Any, sql: str, params: Any = None) -> Any:
        through_django.append(sql)
        return original(self, sql, params)

    task = new_task()
    _INSERT(task)
    _RENAME(task_id=task.pk, model="warm.safetensors")  # compiled here, before counting
    _BY_ID(task_id=task.pk)
    _PENDING(model="warm.safetensors")
    monkeypatch.setattr(utils.CursorWrapper, "execute", counting)

    other = new_task()
    _INSERT(other)
    assert _RENAME(task_id=other.pk, model="warm.safetensors") == 1
    assert _BY_ID(task_id=other.pk) == [("pending",)]
    assert _PENDING(model="warm.safetensors") == 2

    assert through_django == []
    assert Task.objects.get(pk=other.pk).main_model == "warm.safetensors"


def test_queries_watched_with_capture_queries_context_include_prepared_statements() -> None:
    task = new_task()
    _INSERT(task)
    with CaptureQueriesContext(connection) as captured:
        _RENAME(task_id=task.pk, model="seen.safetensors")
        _BY_ID(task_id=task.pk)
    statements = [query["sql"] for query in captured.captured_queries]
    assert len(statements) == 2
    assert statements[0].startswith('UPDATE "workflows_task"')
    assert "seen.safetensors" in statements[0]
    assert statements[1].startswith("SELECT")


def test_a_prepared_statements_database_error_is_djangos() -> None:
    task = new_task()
    _INSERT(task)
    again = new_task()
    again.pk = task.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        _INSERT(again)


def test_a_prepared_statement_refuses_to_run_in_a_broken_transaction() -> None:
    task = new_task()
    _INSERT(task)
    again = new_task()
    again.pk = task.pk
    with transaction.atomic():
        with pytest.raises(IntegrityError):
            _INSERT(again)
        with pytest.raises(TransactionManagementError):
            _RENAME(task_id=task.pk, model="never.safetensors")
    assert Task.objects.get(pk=task.pk).main_model == ""
