"""Who owns a task right now. A process that works on a task (downloading or running it) holds a
lease on it and renews it; a lease that runs out means the owner died, and any process may take
the task over. This is what lets a killed worker lose no task."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from comfy_router.owners import PROCESS_ID, new_owner
from workflows.models import Task


def lease_deadline() -> timezone.datetime:
    return timezone.now() + timedelta(seconds=settings.ROUTER.task_lease)


def lease_take(
    *,
    task_id: uuid.UUID,
    status: str,
    expired_only: bool = False,
    from_owner: str | None = None,
) -> str | None:
    """Makes a new owner of the task if it is in `status` and the current lease ran out (with
    expired_only) or is held by `from_owner` (a hand-over); returns the new owner, or None when
    someone else holds the task. A hand-over succeeds once: the next try finds a new owner."""
    tasks = Task.objects.filter(pk=task_id, status=status)
    expired = Q(lease_expires_at__lt=timezone.now()) | Q(lease_expires_at=None)
    if from_owner is not None:
        tasks = tasks.filter(expired | Q(lease_owner=from_owner))
    elif expired_only:
        tasks = tasks.filter(expired)
    owner = new_owner()
    if tasks.update(lease_owner=owner, lease_expires_at=lease_deadline()):
        return owner
    return None


def lease_renew(*, task_id: uuid.UUID, owner: str) -> bool:
    """False when the lease was lost (another process took the task, or it ended)."""
    return bool(
        Task.objects.filter(pk=task_id, lease_owner=owner, status__in=Task.UNFINISHED).update(
            lease_expires_at=lease_deadline()
        )
    )


def lease_drop(*, task_id: uuid.UUID, owner: str) -> None:
    """Lets another process take the task over at once (used when this one shuts down)."""
    Task.objects.filter(pk=task_id, lease_owner=owner).update(
        lease_owner="", lease_expires_at=timezone.now()
    )


def expired_task_ids(status: str) -> list[uuid.UUID]:
    return list(
        Task.objects.filter(status=status)
        .filter(Q(lease_expires_at__lt=timezone.now()) | Q(lease_expires_at=None))
        .order_by("created_at")
        .values_list("id", flat=True)[:100]
    )


def leases_expire_all() -> int:
    """At start of the embedded router (one process, nobody else alive): every lease left in the
    database belongs to a previous run."""
    unfinished = Task.objects.filter(status__in=Task.UNFINISHED)
    return unfinished.exclude(lease_owner__startswith=PROCESS_ID).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
