"""The SQLite backend (comfy_router.sqlite_backend): a process's write transactions take turns on
a lock of the process, so concurrent writers queue instead of sleeping on SQLite's busy lock, and
whatever way a transaction ends (commit, error, lost connection) the next writer gets its turn."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from comfy_router.sqlite_backend import base
from nodes.models import Node

pytestmark = pytest.mark.django_db(transaction=True)


def in_a_thread_of_its_own(work: object) -> None:
    def run() -> None:
        try:
            work()  # type: ignore[operator]
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(run).result(timeout=20)


def test_concurrent_write_transactions_all_commit_one_at_a_time() -> None:
    inside, most_inside, lock = 0, 0, threading.Lock()

    def write(index: int) -> None:
        nonlocal inside, most_inside
        try:
            with transaction.atomic():
                with lock:
                    inside += 1
                    most_inside = max(most_inside, inside)
                Node.objects.create(url=f"http://10.0.0.{index}:8188")
                with lock:
                    inside -= 1
        finally:
            connections.close_all()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(1, 41)))
    assert Node.objects.count() == 40
    assert most_inside == 1


def test_a_transaction_that_fails_lets_the_next_writer_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "WRITE_TURN_TIMEOUT", 2.0)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            Node.objects.create(url="http://10.0.0.1:8188")
            raise RuntimeError("boom")

    def write() -> None:
        with transaction.atomic():
            Node.objects.create(url="http://10.0.0.2:8188")

    in_a_thread_of_its_own(write)
    assert list(Node.objects.values_list("url", flat=True)) == ["http://10.0.0.2:8188"]


def test_a_connection_closed_inside_a_transaction_gives_its_turn_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(base, "WRITE_TURN_TIMEOUT", 2.0)

    def abandon() -> None:
        atomic = transaction.atomic()
        atomic.__enter__()
        Node.objects.create(url=f"http://{uuid.uuid4().hex[:8]}.example:8188")
        connection.close()  # as when a thread dies mid-transaction and its connection goes

    in_a_thread_of_its_own(abandon)

    def write() -> None:
        with transaction.atomic():
            Node.objects.create(url="http://10.0.0.3:8188")

    in_a_thread_of_its_own(write)
    assert list(Node.objects.values_list("url", flat=True)) == ["http://10.0.0.3:8188"]


def test_the_backend_refuses_a_django_without_a_method_it_overrides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(BaseDatabaseWrapper, "_commit")
    with pytest.raises(ImproperlyConfigured) as refused:
        base.check_private_hooks()
    assert str(refused.value) == (
        "comfy_router.sqlite_backend cannot take write turns: "
        "django.db.backends.sqlite3.base.DatabaseWrapper has no _commit (written for Django 5.2.19)"
    )
