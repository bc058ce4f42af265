"""Names that come from outside (a node's output file names, URLs, posted images) and reach the
disk cannot climb out of the folder they are written to."""

from __future__ import annotations

import base64
import io
import uuid
from pathlib import Path

import pytest
from PIL import Image

from downloads.naming import cache_file_name
from workflows.comfyui.client import OutputFile
from workflows.execution.outputs import OutputBudget, fetch_saved_files, safe_file_name
from workflows.graphs.builders.images import decode_base64_image
from workflows.tasks.files import outputs_dir

HOSTILE_NAMES = [
    "../../../../etc/passwd",
    "..\\..\\..\\windows\\system32\\evil.dll",
    "/etc/cron.d/owned",
    "subfolder/../../escape.png",
    "..",
    ".",
    "",
    "...png",
    ".hidden.png",
    "name\x00.png",
    "new\nline.png",
    "C:\\temp\\x.png",
    "%2e%2e%2fencoded.png",
    "ünïcødé 名前.png",
    "a" * 5000 + ".png",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_an_output_name_from_a_node_becomes_a_plain_file_name(name: str) -> None:
    safe = safe_file_name(name)
    assert safe and "/" not in safe and "\\" not in safe and "\x00" not in safe
    assert not safe.startswith(".")
    assert len(safe) <= 120
    assert Path("/outputs", safe).resolve().parent == Path("/outputs")


class ViewStub:
    """Stands in for ComfyUIClient.download_view: writes what a node would send to `dest`."""

    def __init__(self) -> None:
        self.written: list[Path] = []

    async def download_view(self, filename: str, subfolder: str, type: str, dest: str | Path) -> int:
        path = Path(dest)
        path.write_bytes(b"image")
        self.written.append(path)
        return 5


async def test_saved_outputs_with_hostile_names_land_in_the_tasks_folder() -> None:
    task_id = uuid.uuid4()
    files = [
        OutputFile(node_id="9", filename=name, subfolder="../../..", type="output", kind="images")
        for name in HOSTILE_NAMES
    ]
    stub = ViewStub()
    budget = OutputBudget(max_bytes=1 << 30)
    stored = await fetch_saved_files(stub, task_id, files, 0, budget)  # type: ignore[arg-type]
    folder = outputs_dir(task_id).resolve()
    assert len(stored) == len(HOSTILE_NAMES)
    for path in stub.written:
        assert path.resolve().parent == folder
    assert sorted(p.name for p in folder.iterdir()) == sorted(d["stored_name"] for d in stored)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/../../../etc/passwd",
        "https://example.com/a/..%2F..%2F..%2Fetc%2Fpasswd",
        "https://example.com/model.safetensors/../../../../x.sh",
        "https://example.com/%00.safetensors",
        "https://example.com/x.../",
        "https://example.com/" + "b" * 3000 + ".ckpt",
    ],
)
def test_a_cache_name_is_a_digest_whatever_the_url_says(url: str) -> None:
    name = cache_file_name(url)
    stem, _, extension = name.partition(".")
    assert len(stem) == 32 and all(c in "0123456789abcdef" for c in stem)
    assert "/" not in name and ".." not in name and len(name) <= 32 + 17


def test_a_posted_image_is_named_by_its_content_not_by_the_client() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, "PNG")
    content = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    name = decode_base64_image(content).file_name
    assert name.endswith(".png") and len(name) == 64 + 4
    assert all(c in "0123456789abcdef" for c in name[:64])
