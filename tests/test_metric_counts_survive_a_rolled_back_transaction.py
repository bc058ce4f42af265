"""Metric counts belong to the commit that made them true: a count added in a transaction that
rolls back is not counted, and a flush never writes inside a caller's transaction, so that
transaction's rollback cannot take counts made elsewhere along with it."""

from __future__ import annotations

import pytest
from django.db import transaction

from comfy_router import counters
from comfy_router.models import MetricCounter

pytestmark = pytest.mark.django_db(transaction=True)

DONE = ("tasks_finished", "status=done")
DOWNLOADS = ("downloads", "")


class RolledBack(Exception):
    pass


def count(series: tuple[str, str]) -> float:
    return counters.counter_values().get(series, 0.0)


@pytest.fixture
def flush_when_told(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing is flushed until a test lowers the interval (or reads the counts)."""
    counters.flush()
    monkeypatch.setattr(counters, "FLUSH_INTERVAL", 3600.0)


def test_counts_pending_before_a_transaction_survive_its_rollback(
    flush_when_told: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = count(DOWNLOADS)
    counters.counter_add("downloads")  # a download that did finish, waiting for the flush
    monkeypatch.setattr(counters, "FLUSH_INTERVAL", 0.0)  # every count is due at once now
    with pytest.raises(RolledBack), transaction.atomic():
        counters.counter_add(DONE[0], labels=DONE[1])
        raise RolledBack
    assert count(DOWNLOADS) == before + 1


def test_a_flush_asked_for_inside_a_transaction_loses_nothing_to_its_rollback(
    flush_when_told: None,
) -> None:
    before = count(DOWNLOADS)
    counters.counter_add("downloads")
    with pytest.raises(RolledBack), transaction.atomic():
        counters.flush()
        raise RolledBack
    assert count(DOWNLOADS) == before + 1


def test_counts_added_in_a_transaction_that_rolls_back_are_not_counted(
    flush_when_told: None,
) -> None:
    before = count(DONE)
    with pytest.raises(RolledBack), transaction.atomic():
        counters.counter_add(DONE[0], labels=DONE[1])
        raise RolledBack
    assert count(DONE) == before


def test_counts_added_in_a_savepoint_that_rolls_back_are_not_counted(
    flush_when_told: None,
) -> None:
    before = count(DONE)
    with transaction.atomic():
        counters.counter_add(DONE[0], labels=DONE[1])
        with pytest.raises(RolledBack), transaction.atomic():
            counters.counter_add(DONE[0], labels=DONE[1])
            raise RolledBack
    assert count(DONE) == before + 1


def test_counts_added_in_a_committed_transaction_are_counted(flush_when_told: None) -> None:
    before = count(DONE)
    with transaction.atomic():
        counters.series_add(counters.histogram_series("task_run_seconds", 3.0))
        counters.counter_add(DONE[0], labels=DONE[1])
    assert count(DONE) == before + 1
    assert count(("task_run_seconds", "le=5")) >= 1


def test_counts_committed_when_a_flush_is_due_reach_the_database_without_a_read(
    flush_when_told: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = count(DONE)
    monkeypatch.setattr(counters, "FLUSH_INTERVAL", 0.0)
    with transaction.atomic():
        counters.counter_add(DONE[0], labels=DONE[1])
    stored = MetricCounter.objects.get(name=DONE[0], labels=DONE[1])
    assert stored.value == before + 1
