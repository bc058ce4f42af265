"""Statements compiled once (comfy_router.prepared) read and write exactly what the same
queryset does, with each call's own values, and refuse what they cannot run faithfully."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.db.models import F
from django.utils import timezone

from comfy_router.prepared import Count, Insert, Select, Update
from nodes.models import Node
from workflows.models import Task

pytestmark = pytest.mark.django_db


def make_task(**fields: object) -> Task:
    defaults: dict[str, object] = {
        "type": "ComfyUI",
        "params": {"prompt": {}},
        "graph": {"1": {"class_type": "EmptyImage", "inputs": {}}},
        "client_id": uuid.uuid4().hex,
        "prompt_id": str(uuid.uuid4()),
    }
    return Task.objects.create(**{**defaults, **fields})


def test_a_prepared_select_returns_the_querysets_rows_for_each_calls_values() -> None:
    tasks = [make_task(loras=[f"lora{i}.safetensors"], main_model=f"m{i}") for i in range(3)]
    by_id = Select(
        Task,
        lambda task_id: Task.objects.filter(pk=task_id).values_list(
            "id", "loras", "main_model", "created_at", "node"
        ),
        task_id="pk",
    )
    for task in tasks:
        expected = list(
            Task.objects.filter(pk=task.pk).values_list(
                "id", "loras", "main_model", "created_at", "node"
            )
        )
        assert by_id(task_id=task.pk) == expected
        [(found_id, loras, _, created_at, _)] = expected
        assert isinstance(found_id, uuid.UUID) and loras == list(task.loras)
        assert isinstance(created_at, datetime.datetime)
    assert by_id(task_id=uuid.uuid4()) == []


def test_a_prepared_count_counts_what_the_queryset_counts() -> None:
    tasks = [make_task() for _ in range(5)]
    before = Count(
        Task,
        lambda moment: Task.objects.filter(status__in=Task.WAITING, created_at__lt=moment),
        moment="created_at",
    )
    for task in tasks:
        assert before(moment=task.created_at) == Task.objects.filter(
            status__in=Task.WAITING, created_at__lt=task.created_at
        ).count()
    Task.objects.filter(pk=tasks[1].pk).update(status=Task.Status.DONE)
    assert before(moment=tasks[4].created_at) == 3


def test_a_prepared_update_writes_each_calls_values_and_only_where_its_filter_holds() -> None:
    task, other = make_task(), make_task()
    finish = Update(
        Task,
        lambda task_id, error, outputs, when: (
            Task.objects.filter(pk=task_id, status=Task.Status.PENDING),
            {
                "status": Task.Status.ERROR,
                "error": error,
                "outputs": outputs,
                "finished_at": when,
                "attempts": F("attempts") + 1,
                "preview": None,
            },
        ),
        task_id="pk",
        error="error",
        outputs="outputs",
        when="finished_at",
    )
    now = timezone.now()
    assert finish(task_id=task.pk, error={"message": "boom"}, outputs=[{"index": 0}], when=now) == 1
    assert finish(task_id=task.pk, error=None, outputs=[], when=now) == 0  # no longer pending
    assert finish(task_id=other.pk, error=None, outputs=[], when=now) == 1
    task.refresh_from_db()
    other.refresh_from_db()
    assert (task.status, task.error, task.outputs, task.finished_at, task.attempts) == (
        Task.Status.ERROR, {"message": "boom"}, [{"index": 0}], now, 1,
    )  # fmt: skip
    assert (other.error, other.outputs, other.attempts) == (None, [], 1)


def test_a_prepared_update_of_a_foreign_key_takes_the_related_rows_key() -> None:
    node = Node.objects.create(url="http://10.0.0.1:8188")
    task = make_task()
    assign = Update(
        Task,
        lambda task_id, node_id: (Task.objects.filter(pk=task_id), {"node_id": node_id}),
        task_id="pk",
        node_id="node",
    )
    assert assign(task_id=task.pk, node_id=node.pk) == 1
    assert Task.objects.get(pk=task.pk).node == node


def test_a_compared_parameter_refuses_none_which_would_match_nothing() -> None:
    by_owner = Count(Task, lambda owner: Task.objects.filter(lease_owner=owner), owner="lease_owner")
    with pytest.raises(ValueError, match="owner"):
        by_owner(owner=None)


@pytest.mark.parametrize(
    "build",
    [
        lambda owner: Task.objects.filter(lease_owner__contains=owner),
        lambda owner: Task.objects.filter(lease_owner="someone"),
        lambda owner: Task.objects.filter(lease_owner=owner, client_id=uuid.uuid4().hex),
    ],
    ids=["changed by its lookup", "unused", "next to a value that changes"],
)
def test_a_parameter_that_is_not_a_plain_value_is_refused(build: object) -> None:
    statement = Count(Task, build, owner="lease_owner")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="owner"):
        statement(owner="x")


def test_a_field_without_a_stand_in_is_refused_at_definition() -> None:
    with pytest.raises(TypeError, match="BooleanField"):
        Count(Task, lambda flag: Task.objects.filter(files_ready=flag), flag="files_ready")


def test_a_prepared_insert_writes_the_row_as_save_would() -> None:
    fields = {
        "type": "SDXL",
        "params": {"prompt": "a cat", "loras": [{"name": "x"}]},
        "graph": {"1": {"class_type": "EmptyImage", "inputs": {"width": 8}}},
        "loras": ["a.safetensors"],
        "client_id": "c" * 32,
        "prompt_id": str(uuid.uuid4()),
    }
    inserted, saved = Task(**fields), Task(**{**fields, "prompt_id": str(uuid.uuid4())})
    Insert(Task)(inserted)
    saved.save(force_insert=True)
    assert not inserted._state.adding
    assert inserted.created_at is not None and inserted.updated_at is not None

    def row(task: Task) -> dict[str, object]:
        values = Task.objects.filter(pk=task.pk).values().get()
        return {k: v for k, v in values.items() if k not in ("id", "prompt_id", "created_at", "updated_at")}

    assert row(inserted) == row(saved)
    assert Task.objects.get(pk=inserted.pk).created_at == inserted.created_at


def test_a_prepared_insert_writes_the_row_made_before_it_as_it_was_then() -> None:
    task = Task(type="ComfyUI", params={}, graph={}, client_id="c" * 32, prompt_id="p")
    insert = Insert(Task)
    row = insert.row(task)
    made_at = task.created_at
    assert made_at is not None
    task.prompt_id = "changed after the row was made"
    insert(task, row)
    stored = Task.objects.get(pk=task.pk)
    assert stored.prompt_id == "p" and stored.created_at == made_at


def test_insert_refuses_a_model_whose_key_the_database_assigns() -> None:
    with pytest.raises(TypeError, match="primary key"):
        Insert(Node)
