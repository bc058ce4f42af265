"""The pool of ComfyUI servers. A node is `idle`, `busy` (holding one task's prompt, and up to
NODE__QUEUE_AHEAD more queued behind it in ComfyUI's own queue) or `offline`."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from comfy_router.statements import Condition


class ObjectInfo(models.Model):
    """One `GET /object_info` answer, as a node sent it, stored once however many nodes sent the
    same bytes: nodes of one installation (same ComfyUI, custom nodes and model files) share a
    row. It is some 600 KB on a plain ComfyUI and far more with custom node packs, so it is kept
    compressed (zlib, about a tenth) and never read with the node."""

    digest = models.CharField(max_length=64, primary_key=True)  # SHA-256 of the answer's bytes
    body = models.BinaryField()  # zlib-compressed JSON, as the node sent it
    size = models.PositiveBigIntegerField()  # bytes before compression
    # When a node last sent it: a row no node points to is dropped once this is older than
    # OBJECT_INFO_GRACE, so a row a node is about to point to (in a transaction not yet
    # committed) is never dropped under it.
    recorded_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.digest[:12]


class Node(models.Model):
    class Status(models.TextChoices):
        IDLE = "idle"
        BUSY = "busy"
        OFFLINE = "offline"

    url = models.CharField(
        max_length=500, unique=True, help_text="scheme://host:port[/path], no trailing slash"
    )
    name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OFFLINE)
    enabled = models.BooleanField(
        default=True, help_text="A disabled node finishes its task and gets no new one."
    )
    token = models.CharField(
        max_length=500,
        blank=True,
        help_text="Sent as `Authorization: Bearer …` and `?token=` to nodes behind an auth proxy.",
    )
    # How many tasks hold the node: counted up by node_claim, down by node_release_claim. The
    # first runs, the others wait in the node's own queue (queue-ahead). Held whatever its health
    # says, so a node that went offline mid-task is not revived into more tasks than it holds.
    held = models.PositiveSmallIntegerField(
        "prompts held",
        default=0,
        editable=False,
        help_text="Tasks on the node: the one running and those queued ahead behind it.",
    )
    health_failures = models.PositiveIntegerField(default=0)
    last_check_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    system_stats = models.JSONField(default=dict, blank=True)
    device_name = models.CharField(max_length=200, blank=True)
    vram_total = models.BigIntegerField(null=True, blank=True)
    vram_free = models.BigIntegerField(null=True, blank=True)
    comfyui_version = models.CharField(max_length=50, blank=True)
    # What the node can run, as it last said (`/object_info`, `/models`): its node classes and
    # its model files by ComfyUI folder. Never reported while `capabilities_at` is None.
    node_classes = models.JSONField(default=list, blank=True, editable=False)
    model_files = models.JSONField(default=dict, blank=True, editable=False)
    capabilities_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Its whole `/object_info` answer, for ComfyUI's own `/object_info` served over the pool.
    object_info = models.ForeignKey(
        ObjectInfo,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="nodes",
    )
    labels = models.JSONField(
        default=list,
        blank=True,
        help_text="Submissions may ask for labels (`node_labels`): only nodes with all of them "
        "take such a task.",
    )
    # When what the node can run (classes, files, labels) last changed: readers keep it cached.
    profile_changed_at = models.DateTimeField(default=timezone.now, editable=False)
    # The main model and LoRAs of the task it runs or ran last, for model-affinity scheduling.
    last_model = models.CharField(max_length=500, blank=True)
    last_loras = models.JSONField(default=list, blank=True)
    idle_since = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["url"]
        indexes = [models.Index(fields=["status", "enabled", "idle_since"])]

    def __str__(self) -> str:
        return self.name or self.url

    @property
    def has_reported(self) -> bool:
        """Whether the node has said what it can run."""
        return self.capabilities_at is not None

    @property
    def runs_a_task(self) -> bool:
        """Busy, or held by a task (a node that went offline mid-task is still held)."""
        return self.held > 0 or self.status == self.Status.BUSY


# The same, as a filter: `Node.objects.exclude(RUNS_A_TASK)` are the nodes free to delete.
RUNS_A_TASK = models.Q(held__gt=0) | models.Q(status=Node.Status.BUSY)

# The nodes a task can be given now: claiming one is a conditional UPDATE on this, and a
# submission wakes the dispatcher only when one exists (SQL: these run for every task, see
# comfy_router.statements). The dispatcher's read of the pool
# (`workflows.scheduling.assignment.pool_state`) sorts nodes by the same rule.
CAN_TAKE_A_TASK = Condition('"status" = %s AND "enabled" AND "held" = 0', (Node.Status.IDLE,))


def can_queue_ahead(queue_ahead: int) -> Condition:
    """The nodes a task can be queued ahead on (NODE__QUEUE_AHEAD = `queue_ahead`): busy ones
    holding fewer than 1 + `queue_ahead` tasks, so their next prompt is waiting in their own
    queue when the one running ends. Claiming one is a conditional UPDATE on this."""
    return Condition(
        '"status" = %s AND "enabled" AND "held" >= 1 AND "held" < %s',
        (Node.Status.BUSY, 1 + queue_ahead),
    )
