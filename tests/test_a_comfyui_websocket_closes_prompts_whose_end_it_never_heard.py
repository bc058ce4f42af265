"""A ComfyUI client's `/ws` ends each of its prompts even when nobody tells it of the end (a
worker killed between storing a task's end and announcing it): every FINAL_CHECK_INTERVAL the
websocket reads from the database which of its watched prompts ended unheard and sends, itself,
their closing messages (`comfy_shapes.closing_texts`: end message, `status`, end marker). Its
watched prompts include those of its client that were unfinished when it opened or have ended
since. A prompt whose end it heard is never closed twice.

The unannounced end is written straight into the router's database, as
`test_watcher_gets_unannounced_end` does: with no node in the pool the prompt waits until then.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from tests.support.cluster import Cluster, tiny_graph
from tests.support.comfyui_script_client import ScriptClient, follow, follow_all, is_end_marker
from tests.support.comfyui_traces import kinds
from workflows.api.task_events import FINAL_CHECK_INTERVAL
from workflows.models import Task
from workflows.tasks import comfy_shapes

BOUND = 15.0  # seconds: several checks, however slow the machine


def end_without_announcing(cluster: Cluster, prompt_id: str, status: str) -> datetime:
    """Ends the task in the database only, as a worker killed before announcing it leaves it;
    `finished_at` stored as Django stores it (UTC, to the microsecond)."""
    finished_at = datetime.now(UTC)
    stored = finished_at.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    with sqlite3.connect(cluster.router.data_dir / "router.sqlite3") as database:
        changed = database.execute(
            "UPDATE workflows_task SET status = ?, finished_at = ? WHERE id = ?",
            [status, stored, uuid.UUID(prompt_id).hex],
        ).rowcount
    assert changed == 1
    return finished_at


def expected_closing(prompt_id: str, status: str, finished_at: datetime) -> list[dict[str, Any]]:
    """What `comfy_shapes.closing_texts` makes of the task as it was ended (no node history)."""
    task = Task(
        id=uuid.UUID(prompt_id), status=status, finished_at=finished_at, created_at=finished_at
    )
    return [json.loads(text) for text in comfy_shapes.closing_texts(task, 0)]


def assert_closed_as(frames: list[Any], expected: list[dict[str, Any]]) -> None:
    """The frames end with the expected closing messages, in their order, the end marker last;
    `status` as the router makes it, its queue length being whatever it is now."""
    assert kinds(frames)[-len(expected) :] == [message["type"] for message in expected]
    received = frames[-len(expected) :]
    end, status, marker = expected
    assert received[0] == end
    assert received[1]["data"]["status"]["exec_info"].keys() == (
        status["data"]["status"]["exec_info"].keys()
    )
    assert received[1].keys() == status.keys()
    assert received[2] == marker


def closing_within_bound(socket: ClientConnection, prompt_id: str) -> list[Any]:
    started = time.monotonic()
    frames = follow(socket, prompt_id, timeout=BOUND)
    assert time.monotonic() - started < BOUND
    return frames


def test_a_prompt_ended_unannounced_while_the_websocket_is_open_gets_its_closing_messages(
    cluster_factory: Callable[..., Cluster],
) -> None:
    """Posted while the websocket is open, the prompt is watched from the `status` relayed with
    it; its end is the websocket's own doing."""
    cluster = cluster_factory(nodes=0)  # no node: the prompt waits until we end it
    client = ScriptClient(cluster.router.url)
    with client.websocket() as socket:
        assert json.loads(socket.recv(timeout=10))["type"] == "status"
        prompt_id = client.queue_prompt(tiny_graph(seed=61))["prompt_id"]
        finished_at = end_without_announcing(cluster, prompt_id, "done")
        frames = closing_within_bound(socket, prompt_id)
    expected = expected_closing(prompt_id, "done", finished_at)
    assert [message["type"] for message in expected] == [
        "execution_success",
        "status",
        "executing",
    ]
    assert_closed_as(frames, expected)
    assert [f for f in frames if not isinstance(f, bytes) and is_end_marker(f, prompt_id)] == [
        expected[-1]
    ]


def test_prompts_posted_before_the_websocket_opened_and_ended_unannounced_get_closed(
    cluster_factory: Callable[..., Cluster],
) -> None:
    """Nothing of these prompts is relayed to the websocket: it learns of them from the first
    check's look-up of the client's prompts still to run when it opened or ended since. One
    ends before that check, the other (most likely) after it; each is closed either way."""
    cluster = cluster_factory(nodes=0)
    client = ScriptClient(cluster.router.url)
    early = client.queue_prompt(tiny_graph(seed=62))["prompt_id"]
    late = client.queue_prompt(tiny_graph(seed=63))["prompt_id"]
    pending = {entry[1] for entry in client.queue()["queue_pending"]}
    assert pending == {early, late}, "both are still to run when the websocket opens"
    with client.websocket() as socket:
        assert json.loads(socket.recv(timeout=10))["type"] == "status"
        opened = time.monotonic()
        # Clear of the opening itself: the websocket notes its opening time after the status.
        time.sleep(0.5)
        early_end = end_without_announcing(cluster, early, "cancelled")
        time.sleep(max(0.0, opened + FINAL_CHECK_INTERVAL + 1.0 - time.monotonic()))
        late_end = end_without_announcing(cluster, late, "error")
        started = time.monotonic()
        frames = follow_all(socket, [early, late], timeout=BOUND)
        assert time.monotonic() - started < BOUND
    texts = [frame for frame in frames if not isinstance(frame, bytes)]
    for prompt_id, status, finished_at, end_kind in [
        (early, "cancelled", early_end, "execution_interrupted"),
        (late, "error", late_end, "execution_error"),
    ]:
        expected = expected_closing(prompt_id, status, finished_at)
        assert [message["type"] for message in expected] == [end_kind, "status", "executing"]
        [marker_at] = [i for i, m in enumerate(texts) if is_end_marker(m, prompt_id)]
        assert_closed_as(texts[: marker_at + 1], expected)


def test_a_prompt_whose_end_the_websocket_heard_is_closed_only_once(
    cluster_factory: Callable[..., Cluster],
) -> None:
    """A fake node runs the prompt and its end is relayed as usual; the checks that follow,
    which find it ended since the websocket opened, send nothing more of it."""
    cluster = cluster_factory(nodes=1)
    client = ScriptClient(cluster.router.url)
    with client.websocket() as socket:
        opened = time.monotonic()
        prompt_id = client.queue_prompt(tiny_graph(seed=64))["prompt_id"]
        frames = follow(socket, prompt_id, timeout=30)
        assert kinds(frames)[-3:] == ["execution_success", "status", "executing"]
        # Past the first check (which looks up the client's prompts ended since the websocket
        # opened, this one among them) and the next.
        keep_open_until = opened + 2 * FINAL_CHECK_INTERVAL + 1.5
        later: list[Any] = []
        while (left := keep_open_until - time.monotonic()) > 0:
            try:
                frame = socket.recv(timeout=left)
            except TimeoutError:
                break
            except ConnectionClosed:
                raise AssertionError("the websocket closed while the checks ran") from None
            later.append(frame if isinstance(frame, bytes) else json.loads(frame))
    assert time.monotonic() - opened >= 2 * FINAL_CHECK_INTERVAL
    texts = [frame for frame in later if not isinstance(frame, bytes)]
    assert not [message for message in texts if is_end_marker(message, prompt_id)], later
    assert not [
        message
        for message in texts
        if message["type"] in ("execution_success", "execution_error", "execution_interrupted")
    ], later
