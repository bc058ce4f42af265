"""Writes to the node registry. Every status change is a conditional UPDATE whose row count says
whether it happened, so the health monitor, the dispatcher and the admin never overwrite each
other: `idle → busy` only through `node_claim`, `busy → idle` only through `node_release_claim`,
which also count the tasks a node holds (`Node.held`: the running one and those queued ahead).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import zlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Literal

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction
from django.db.models import F, ProtectedError
from django.db.models.functions import Greatest
from django.utils import timezone

from comfy_router.statements import Condition, equal, update_row
from comfy_router.wakeups import dispatch_wakeup_sync
from nodes.capabilities import Capabilities, fetch_many
from nodes.labels import clean_labels
from nodes.models import CAN_TAKE_A_TASK, RUNS_A_TASK, Node, ObjectInfo, can_queue_ahead
from nodes.node_url import normalize_node_url
from nodes.probe import Probe, probe_nodes, validate_token

logger = logging.getLogger(__name__)

Outcome = Literal["added", "updated", "unchanged"]
Status = Node.Status

# A request that checks nodes (registering, editing, "check now") holds one of the process's few
# request threads (comfy_router.http_handler.REQUEST_THREADS, 8) while it waits, so nodes that
# hang must not fill them: it waits REQUEST_CHECK_SECONDS at most in all (/system_stats, then
# what they can run), and at most REQUEST_CHECKS_AT_ONCE requests wait at a time. Nodes not
# checked then, or that did not answer in time, are the health monitor's.
REQUEST_CHECK_SECONDS = 0.5
REQUEST_CHECKS_AT_ONCE = 2
_request_checks = threading.BoundedSemaphore(REQUEST_CHECKS_AT_ONCE)

# An `/object_info` answer no node points to any more is dropped once no node has sent it for
# this long: far longer than a transaction that is about to point a node at it stays open.
OBJECT_INFO_GRACE = timedelta(hours=1)


class NodeNotFound(LookupError):
    def __init__(self, url: str) -> None:
        super().__init__(f"No node is registered at {url}.")
        self.url = url


class NodeBusy(RuntimeError):
    def __init__(self, url: str) -> None:
        super().__init__(f"Node {url} is running a task: add ?force=true to delete it anyway.")
        self.url = url


def node_upsert(
    *, url: str, name: str = "", token: str = "", labels: Sequence[str] | None = None
) -> tuple[Node, Outcome]:
    """Registers `url` (normalised), or sets the given name / token / labels on the node already
    there. Empty name or token and `labels=None` leave an existing node's value alone. Does not
    check the node.

    A URL or token the entry points should have refused raises (InvalidNodeURL, ValidationError)
    before anything is written: a row is only ever saved with values the checks can send."""
    normalized = normalize_node_url(url)
    validate_token(token)
    cleaned = None if labels is None else clean_labels(labels)
    with transaction.atomic():
        node, created = Node.objects.get_or_create(
            url=normalized,
            defaults={
                "name": name,
                "token": token,
                "labels": cleaned or [],
                "status": Status.OFFLINE,
            },
        )
        if created:
            return node, "added"
        changes: dict[str, object] = {
            field: value
            for field, value in (("name", name), ("token", token))
            if value and getattr(node, field) != value
        }
        if cleaned is not None and cleaned != node.labels:
            changes.update(labels=cleaned, profile_changed_at=timezone.now())
        if not changes:
            return node, "unchanged"
        Node.objects.filter(pk=node.pk).update(**changes)
        for field, value in changes.items():
            setattr(node, field, value)
        return node, "updated"


def node_add(
    *, url: str, name: str = "", token: str = "", labels: Sequence[str] | None = None
) -> tuple[Node, bool]:
    """Idempotent registration. A new (or changed) node is checked at once (`node_check_now`):
    it is `idle` if it answers in time and `offline` if not, or if it could not be checked now
    (the health monitor brings it in when it answers), and what it can run is known if it said
    so in time."""
    node, outcome = node_upsert(url=url, name=name, token=token, labels=labels)
    if outcome != "unchanged":
        node_check_now(nodes=[node])
        node.refresh_from_db()
    return node, outcome == "added"


def node_delete(*, url: str, force: bool = False) -> None:
    normalized = normalize_node_url(url)
    node = Node.objects.filter(url=normalized).only("pk").first()
    if node is None:
        raise NodeNotFound(normalized)
    rows = Node.objects.filter(pk=node.pk)
    if not force:
        rows = rows.exclude(RUNS_A_TASK)
    deleted, _ = rows.delete()
    if not deleted:
        if Node.objects.filter(pk=node.pk).exists():
            raise NodeBusy(normalized)
        raise NodeNotFound(normalized)


def node_set_enabled(*, node_ids: Iterable[int], enabled: bool) -> int:
    changed = Node.objects.filter(pk__in=list(node_ids)).exclude(enabled=enabled)
    count = changed.update(enabled=enabled)
    if count and enabled:
        dispatch_wakeup_sync()
    return count


def node_record_probe(*, node_id: int, probe: Probe) -> bool:
    """Stores a health check's result and moves the node's status; True when it turned idle.

    1. Success: reset failures, store the stats; `offline → idle` unless a task still holds the
       node (it then turns idle at the first check after `node_release_claim`).
    2. Failure: count it; at `HEALTH__FAILURES` in a row, `idle | busy → offline`. A busy node is
       never made idle here: only its task's end does that.
    """
    now = timezone.now()
    rows = Node.objects.filter(pk=node_id)
    with transaction.atomic():
        if probe.ok:
            rows.update(
                health_failures=0,
                last_check_at=now,
                last_seen_at=now,
                last_error="",
                system_stats=probe.stats,
                device_name=probe.device_name,
                vram_total=probe.vram_total,
                vram_free=probe.vram_free,
                comfyui_version=probe.comfyui_version,
            )
            back = rows.filter(status=Status.OFFLINE, held=0)
            return bool(back.update(status=Status.IDLE, idle_since=now))
        rows.update(
            health_failures=F("health_failures") + 1, last_check_at=now, last_error=probe.error
        )
        went_offline = rows.filter(
            status__in=(Status.IDLE, Status.BUSY),
            health_failures__gte=settings.ROUTER.health_failures,
        ).update(status=Status.OFFLINE)
    if went_offline:
        logger.warning("Node %s is offline: %s", node_id, probe.error)
    return False


def node_record_capabilities(*, node_id: int, capabilities: Capabilities) -> bool:
    """Stores what the node said it can run, and its `/object_info` answer (`object_info_put`);
    True when what it can run changed. A failed answer keeps what it said before (and is
    logged): a node that cannot say is not a node that has nothing."""
    if not capabilities.ok:
        logger.warning("Node %s did not say what it can run: %s", node_id, capabilities.error)
        return False
    now = timezone.now()
    body = capabilities.object_info
    digest = hashlib.sha256(body).hexdigest() if body else None  # None: no answer to keep
    # Compressed before the transaction, so the database is not held while it is; only an
    # answer not stored yet (a new node's installation, a model file added) costs it.
    compressed = None
    if digest is not None and not ObjectInfo.objects.filter(pk=digest).exists():
        compressed = zlib.compress(body)
    with transaction.atomic():
        before = Node.objects.filter(pk=node_id).values_list("node_classes", "model_files").first()
        if before is None:
            return False
        if digest is not None:
            object_info_put(digest=digest, body=body, compressed=compressed, now=now)
        changed = before != (capabilities.node_classes, capabilities.model_files)
        extra = {"profile_changed_at": now} if changed else {}
        Node.objects.filter(pk=node_id).update(
            node_classes=capabilities.node_classes,
            model_files=capabilities.model_files,
            capabilities_at=now,
            object_info_id=digest,
            **extra,
        )
    object_info_prune(now=now)
    return changed


def object_info_put(*, digest: str, body: bytes, compressed: bytes | None, now: datetime) -> None:
    """Makes sure the answer `body` is stored under `digest` and marks it sent `now`. Inserted
    in one statement, so a reader sees the whole row or none, and nodes storing the same answer
    at once store it once."""
    if ObjectInfo.objects.filter(pk=digest).update(recorded_at=now):
        return
    row = ObjectInfo(
        digest=digest,
        body=compressed if compressed is not None else zlib.compress(body),
        size=len(body),
        recorded_at=now,
    )
    ObjectInfo.objects.bulk_create([row], ignore_conflicts=True)


def object_info_prune(*, now: datetime) -> int:
    """Drops the answers no node points to and none sent for OBJECT_INFO_GRACE; how many."""
    unused = ObjectInfo.objects.filter(nodes__isnull=True, recorded_at__lt=now - OBJECT_INFO_GRACE)
    try:
        deleted, _ = unused.delete()
    except ProtectedError:
        return 0  # a node pointed to one meanwhile: it is kept, the rest go next time
    return deleted


def node_mark_offline(*, node_id: int, reason: str) -> None:
    """An executor found the node unreachable before its prompt started: it goes offline at once
    (without waiting for the health monitor's failures) and lets go of its own hold (other tasks
    queued on the node keep theirs); the health monitor brings it back when it answers again."""
    Node.objects.filter(pk=node_id).update(
        status=Status.OFFLINE,
        held=Greatest(F("held") - 1, 0),
        health_failures=settings.ROUTER.health_failures,
        last_error=reason[:500],
    )
    logger.warning("Node %s is offline: %s", node_id, reason)


def node_check_now(*, nodes: Sequence[Node]) -> dict[int, Probe] | None:
    """`node_check_many` for a request: within REQUEST_CHECK_SECONDS, or not at all (None, with
    nothing asked or recorded) while REQUEST_CHECKS_AT_ONCE other requests wait on nodes; the
    health monitor checks them within HEALTH__INTERVAL."""
    if not _request_checks.acquire(blocking=False):
        return None
    try:
        return node_check_many(nodes=nodes, timeout=REQUEST_CHECK_SECONDS)
    finally:
        _request_checks.release()


def node_check_many(*, nodes: Sequence[Node], timeout: float) -> dict[int, Probe]:
    """Checks the nodes at once from sync code (`import_nodes`; requests go through
    `node_check_now`) and asks those that answer what they can run, all within `timeout`; no
    transaction is open while the nodes are asked. A node that has not said what it has by
    then is asked by the health monitor at its next check if it never said, or keeps what it
    said before."""
    deadline = time.monotonic() + timeout
    probes = async_to_sync(probe_nodes)([(node.url, node.token) for node in nodes], timeout)
    answered = [node for node, probe in zip(nodes, probes) if probe.ok]
    left = deadline - time.monotonic()
    if answered and left > 0:
        learned = async_to_sync(fetch_many)([(node.url, node.token) for node in answered], left)
        for node, capabilities in zip(answered, learned):
            node_record_capabilities(node_id=node.pk, capabilities=capabilities)
    turned_idle = [node_record_probe(node_id=n.pk, probe=p) for n, p in zip(nodes, probes)]
    if any(turned_idle):
        dispatch_wakeup_sync()
    return {node.pk: probe for node, probe in zip(nodes, probes)}


def node_claim(
    *, node_id: int, model: str = "", loras: Sequence[str] = (), ahead: bool = False
) -> bool:
    """`idle → busy` for an enabled node, or with `ahead`, one more task queued on a busy node
    that holds fewer than 1 + NODE__QUEUE_AHEAD; False when someone else got it first (or it is
    gone, disabled, offline or full). The node holds the task's main model and LoRAs from now on,
    as far as model affinity is concerned: it is what the node will have loaded."""
    remember = {"last_model": model, "last_loras": list(loras)} if model else {}
    if ahead:
        room = can_queue_ahead(settings.ROUTER.queue_ahead)
        return update_row(Node, node_id, room, values=remember, expressions={"held": '"held" + 1'})
    return update_row(
        Node, node_id, CAN_TAKE_A_TASK, values={"status": Status.BUSY, "held": 1, **remember}
    )


def node_release_claim(*, node_id: int, ran_model: str = "", ran_loras: Sequence[str] = ()) -> bool:
    """Ends one task's hold. The last one out turns the node `busy → idle`, remembering what ran
    for model affinity; while others remain (queued ahead), the node keeps the model of the
    latest, which it runs next. A node that went offline meanwhile stays offline; the health
    monitor brings it back. True when the node still holds a task (one queued ahead)."""
    remember = {"last_model": ran_model, "last_loras": list(ran_loras)} if ran_model else {}
    if update_row(Node, node_id, Condition('"held" > 1'), expressions={"held": '"held" - 1'}):
        return True
    freed = update_row(
        Node,
        node_id,
        equal("status", Status.BUSY),
        values={"status": Status.IDLE, "held": 0, "idle_since": timezone.now(), **remember},
    )
    if not freed:
        update_row(Node, node_id, values={"held": 0, **remember})
    return False


def node_reconcile_held(*, node_id: int, tasks: int) -> None:
    """Sets what the node holds to the `tasks` still unfinished on it (the sweep, when a task
    left without a release: deleted in the admin, say); none left frees it."""
    if tasks > 0:
        Node.objects.filter(pk=node_id, held__gt=tasks).update(held=tasks)
    else:
        node_release_claim(node_id=node_id)
