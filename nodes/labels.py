"""The rule for node labels (`gpu-80gb`, `video`), shared by the cluster API, the admin,
`import_nodes` and the submissions that ask for them."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError

LABEL = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,61}[a-z0-9])?")
MAX_LABELS = 32


def clean_labels(labels: Iterable[object]) -> list[str]:
    """The labels sorted, each once; ValidationError naming the first one that breaks the rule
    (lowercase letters, digits, `.`, `_` and `-`, at most 63 characters, starting and ending
    with a letter or digit)."""
    cleaned = set()
    for label in labels:
        if not isinstance(label, str) or not LABEL.fullmatch(label):
            raise ValidationError(
                f"{label!r} is not a label: use lowercase letters, digits, '.', '_' and '-' "
                "(at most 63, starting and ending with a letter or digit).",
                code="invalid",
            )
        cleaned.add(label)
    if len(cleaned) > MAX_LABELS:
        raise ValidationError(f"At most {MAX_LABELS} labels.", code="invalid")
    return sorted(cleaned)


def labels_from_text(text: str) -> list[str]:
    """Labels typed as one line (the admin): separated by commas or spaces."""
    return clean_labels(part for part in re.split(r"[,\s]+", text.strip()) if part)
