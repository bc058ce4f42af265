"""A task: one posted workflow, from submission to a definite end (done, error or cancelled)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import models
from django.utils import timezone


class Task(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        DOWNLOADING = "downloading"
        RUNNING = "running"
        DONE = "done"
        ERROR = "error"
        CANCELLED = "cancelled"

    WAITING = (Status.PENDING, Status.DOWNLOADING)
    UNFINISHED = (Status.PENDING, Status.DOWNLOADING, Status.RUNNING)
    FINISHED = (Status.DONE, Status.ERROR, Status.CANCELLED)

    class Type(models.TextChoices):
        SD15 = "SD15", "SD15"
        SDXL = "SDXL", "SDXL"
        FLUX = "Flux", "Flux"
        COMFYUI = "ComfyUI", "ComfyUI"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=10, choices=Type.choices)
    params = models.JSONField(help_text="As posted, with defaults and the seed filled in.")
    graph = models.JSONField(help_text="The ComfyUI API-format graph sent to the node.")
    sampler_node = models.CharField(max_length=50, blank=True)
    output_node = models.CharField(max_length=50, blank=True)
    files = models.JSONField(default=list, blank=True, help_text="[{url, folder, name}] to fetch.")
    files_ready = models.BooleanField(default=False)
    main_model = models.CharField(max_length=500, blank=True)
    loras = models.JSONField(default=list, blank=True)
    requirements = models.JSONField(
        default=dict,
        blank=True,
        help_text="What its node must have: node classes, model files by folder, labels.",
    )
    # ComfyUI seeds go up to 2**64 - 1, past what a signed 64-bit column holds.
    seed = models.CharField(max_length=20, blank=True)

    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    node = models.ForeignKey(
        "nodes.Node", null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    # The client that submitted it (None: the operator), which alone may see it besides the
    # operator; not `client`, as `client_id` is the node websocket's id below. A deleted
    # client's tasks become the operator's.
    submitted_by = models.ForeignKey(
        "clients.Client", null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    # The prompt's id and the websocket client id on its node: fresh for each attempt, never
    # shown to clients (ComfyUI-style clients see the task's id as their prompt_id).
    prompt_id = models.CharField(max_length=64, blank=True)
    client_id = models.CharField(max_length=64, blank=True)
    # Set for a task posted through ComfyUI's own `POST /prompt`: the `client_id` it gave, whose
    # `/ws` gets the prompt's messages, and its `extra_data`, sent on to the node.
    comfy_client_id = models.CharField(max_length=256, blank=True, db_index=True)
    extra_data = models.JSONField(default=dict, blank=True)
    # What ComfyUI's `/history` shows of the prompt once it ended: `outputs` and `meta` by node
    # id (file entries naming the stored outputs) and the `messages` of its run.
    comfy_history = models.JSONField(default=dict, blank=True, editable=False)
    prompt_started = models.BooleanField(
        default=False,
        help_text="Its prompt may have been sent to the node: whoever takes the task over asks "
        "the node before sending it again.",
    )
    progress = models.FloatField(default=0.0)
    preview = models.BinaryField(null=True, blank=True, editable=False)
    preview_content_type = models.CharField(max_length=50, blank=True)
    error = models.JSONField(null=True, blank=True)
    outputs = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    # Set by the dispatcher for a task queued ahead on a busy node while another node that can
    # run it is idle: its run takes the prompt back from the node's queue unless it has started.
    steal_requested = models.BooleanField(default=False, editable=False)
    webhook_url = models.CharField(max_length=2048, blank=True)
    # The submitting request's scheme and host (`https://router.example.com`): the webhook's
    # output URLs start with it unless PUBLIC_URL is set.
    base_url = models.CharField(max_length=2048, blank=True, editable=False)

    # The executor that owns a running task renews its lease; an expired lease means the owner
    # died and another process reconciles the task.
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class SubmissionKey(models.Model):
    """An `Idempotency-Key` sent with a submission that made a task: the same key from the same
    submitter within `KEPT_FOR` gets that task again, never a second one."""

    KEPT_FOR = timedelta(hours=24)

    # "operator", or the submitting client's id: one key space each, the operator's included
    # (a unique constraint over a null column would let the operator's keys repeat).
    submitter = models.CharField(max_length=20)
    key = models.CharField(max_length=255)
    body_hash = models.CharField(max_length=64, help_text="SHA-256 of the body, as parsed.")
    task_id = models.UUIDField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["submitter", "key"], name="one_task_per_key")
        ]
