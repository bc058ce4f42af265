"""A finished task with output files already stored, for tests of how outputs are served (in the
test process's own database and DATA_DIR), and an operator's Django test client."""

from __future__ import annotations

import base64
import uuid

from django.test import Client
from django.utils import timezone

from workflows.models import Task
from workflows.tasks.files import outputs_dir


def operator() -> Client:
    return Client(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"admin:admin").decode())


def a_done_task(files: dict[str, bytes], content_types: dict[str, str]) -> Task:
    """`files` by name, stored as a run stores them; `content_types` as it guessed them."""
    task_id = uuid.uuid4()
    folder = outputs_dir(task_id)
    folder.mkdir(parents=True, exist_ok=True)
    outputs = []
    for index, (name, data) in enumerate(files.items()):
        stored = f"{index:03d}-{name}"
        (folder / stored).write_bytes(data)
        outputs.append(
            {
                "index": index,
                "filename": name,
                "stored_name": stored,
                "content_type": content_types[name],
                "size": len(data),
            }
        )
    return Task.objects.create(
        id=task_id,
        type="ComfyUI",
        status=Task.Status.DONE,
        params={},
        graph={},
        outputs=outputs,
        finished_at=timezone.now(),
    )
