"""Safe retries: a submission sent with an `Idempotency-Key` header makes its task once. The
same key from the same submitter within 24 hours gets the same task back, never a second one; the
same key with another body is refused, as a client's mistake rather than a retry.

A client whose connection dropped after posting cannot know whether its task was made; with a
key it posts again and learns the task either way.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from workflows.models import SubmissionKey

HEADER = "Idempotency-Key"
# What the header may hold: printable ASCII without spaces, as the IETF draft's examples (UUIDs,
# random tokens) are; anything else is more likely a mistake than a key.
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")


class KeyRepeated(Exception):
    """The key made a task already: answer with that one."""

    def __init__(self, task_id: uuid.UUID) -> None:
        super().__init__(str(task_id))
        self.task_id = task_id


class KeyReused(Exception):
    """The key made a task from another body."""


@dataclass(frozen=True)
class Keyed:
    """A submission's key, whose it is, and what it asked for."""

    submitter: str
    key: str
    body_hash: str


def keyed(header: str | None, *, client_id: int | None, body: Any) -> Keyed | None:
    """The submission's key, or None without the header; ValueError for a malformed one."""
    if header is None:
        return None
    if not KEY_PATTERN.fullmatch(header):
        raise ValueError("at most 255 printable ASCII characters, no spaces")
    return Keyed(
        submitter="operator" if client_id is None else str(client_id),
        key=header,
        body_hash=body_hash(body),
    )


def look_up(
    header: str | None, *, client_id: int | None, body: Any
) -> tuple[Keyed | None, uuid.UUID | None]:
    """A submission's key (None without the header) and the task it made already, if any:
    asked before anything else, so a retry gets its task even where a new submission would be
    refused. ValueError for a malformed key, KeyReused for another body."""
    key = keyed(header, client_id=client_id, body=body)
    return key, (task_made_for(key) if key is not None else None)


def body_hash(body: Any) -> str:
    """The body as parsed, so a retry that spaces or orders its JSON otherwise is the same."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def task_made_for(key: Keyed) -> uuid.UUID | None:
    """The task this key made within the last 24 hours, if any; KeyReused for another body."""
    found = (
        SubmissionKey.objects.filter(
            submitter=key.submitter,
            key=key.key,
            created_at__gte=timezone.now() - SubmissionKey.KEPT_FOR,
        )
        .only("body_hash", "task_id")
        .first()
    )
    if found is None:
        return None
    if found.body_hash != key.body_hash:
        raise KeyReused(f"{HEADER} {key.key!r} was used for another body")
    return found.task_id


def remember(key: Keyed, task_id: uuid.UUID) -> None:
    """Records the key with its task, in the submission's transaction (an expired record of
    the same key goes)."""
    SubmissionKey.objects.filter(submitter=key.submitter, key=key.key).delete()
    SubmissionKey.objects.create(
        submitter=key.submitter, key=key.key, body_hash=key.body_hash, task_id=task_id
    )


def forget_expired() -> int:
    cutoff = timezone.now() - SubmissionKey.KEPT_FOR
    deleted, _ = SubmissionKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
