"""Where a task's output files are kept: DATA_DIR/outputs/<task id>/."""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings


def outputs_dir(task_id: uuid.UUID) -> Path:
    return settings.ROUTER.data_dir / "outputs" / str(task_id)
