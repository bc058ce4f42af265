"""Relays a prompt, message for message, to the ComfyUI-style client that posted it (`POST
/prompt` with a `client_id`), and keeps what ComfyUI's `/history` shows of it.

The node's prompt id becomes the task's id, in text messages and in the metadata of previews
(binary event 4). Three kinds of message are held back and sent by the task's ending
(`workflows.tasks.endings.tell_comfy_client`), once the task's end is stored: the `executed` of a
node that saved files (the router fetches them first, and names them as its `/view` serves
them), the end message (`execution_success`, `_error`, `_interrupted`) and the end marker
(`executing` with no node). `status` messages are the router's own, about the whole pool.

A `progress_state` that follows a held `executed` is held too, until another message passes
(each is a snapshot of every node's state: the latest alone is kept). ComfyUI sends the prompt's
last one after the `executed` of its output node: so does the ending, for a graph whose files
are saved at its end.
"""

from __future__ import annotations

import json
from typing import Any

from workflows.comfyui.events import (
    Event,
    Executed,
    Executing,
    ExecutionCached,
    ExecutionError,
    ExecutionInterrupted,
    ExecutionStart,
    ExecutionSuccess,
    Progress,
    ProgressState,
    encode_preview_with_metadata,
    preview_with_metadata,
)
from workflows.comfyui.tracker import OUTPUT_KINDS, OutputFile, PromptTracker
from workflows.models import Task
from workflows.tasks.comfy_shapes import END_MESSAGES, has_files
from workflows.tasks.live import publish_comfy

# Events whose message goes into the prompt's /history, or whose data the relay needs.
RECORDED_EVENTS = (
    ExecutionStart,
    ExecutionCached,
    ExecutionSuccess,
    ExecutionError,
    ExecutionInterrupted,
    Executed,
)
HISTORY_MESSAGES = ("execution_start", "execution_cached", *END_MESSAGES)
# Passed on as they come, with nothing to note or hold back.
PASSED_ON = (Executing, Progress, ProgressState)
# The node's own view of its queue and of its features, not the pool's.
NOT_RELAYED = ("status", "feature_flags")


class PromptRelay:
    def __init__(self, task: Task) -> None:
        self.client_id = task.comfy_client_id
        self.submitter = task.submitted_by_id
        self.prompt_id = str(task.id)
        self.node_prompt_id = task.prompt_id
        self.messages: list[list[Any]] = []  # [type, data] of the prompt's run, for /history
        self.display_nodes: dict[str, str] = {}
        # Between our prompt's first message and its end: ComfyUI sends some binary frames
        # (text, event 3) to every websocket on the node, ours too while another prompt runs.
        self.running = False
        self.files_held = False  # an `executed` with files was held back, nothing passed since
        self.progress_held: dict[str, Any] | None = None  # the latest progress_state since

    async def forward(self, message: str | bytes, event: Event) -> None:
        """Relays one frame from the node (the one `event` was decoded from) and notes what
        /history will want of it."""
        if isinstance(message, bytes):
            if self.client_id and self.running:
                await publish_comfy(
                    self.client_id, self.submitter, data=self.renamed_frame(message)
                )
            return
        if not self.client_id and not isinstance(event, RECORDED_EVENTS):
            return  # nobody to relay to, nothing to keep: not worth parsing again
        if isinstance(event, PASSED_ON) and event.prompt_id == self.node_prompt_id:
            if isinstance(event, Executing) and event.node is None:
                self.running = False  # the end marker: the task's ending sends its own
                return
            # Most of a prompt's messages, passed on as they came with the task's id for the
            # node's: the node's prompt id is a UUID of ours, found nowhere else in them.
            self.running = True
            text = message.replace(self.node_prompt_id, self.prompt_id)
            if isinstance(event, ProgressState) and self.files_held:
                self.progress_held = json.loads(text)["data"]
                return
            await self.release_progress()
            await publish_comfy(self.client_id, self.submitter, text=text, prompt_id=self.prompt_id)
            return
        try:
            parsed = json.loads(message)
        except ValueError:
            return
        if not isinstance(parsed, dict):
            return
        kind, data = parsed.get("type"), parsed.get("data")
        if kind in NOT_RELAYED:
            return
        if kind == "executing" and isinstance(data, dict) and "prompt_id" not in data:
            return  # the node's greeting to our websocket as it reconnected: not the client's
        if isinstance(data, dict):
            if data.get("prompt_id", self.node_prompt_id) != self.node_prompt_id:
                return  # another prompt's (a node may broadcast)
            if "prompt_id" in data:
                ending = kind in END_MESSAGES or (kind == "executing" and data.get("node") is None)
                self.running = not ending
            data = self.renamed(data)
        if kind in HISTORY_MESSAGES:
            self.messages.append([kind, data])
        if kind == "executed" and isinstance(data, dict):
            node = str(data.get("node"))
            self.display_nodes[node] = str(data.get("display_node") or node)
            output = data.get("output")
            if isinstance(output, dict) and has_files(output):
                self.files_held = True
                return
        if kind in END_MESSAGES:
            return
        if kind == "executing" and isinstance(data, dict) and data.get("node") is None:
            return
        if self.client_id:
            await self.release_progress()
            await publish_comfy(
                self.client_id,
                self.submitter,
                text=json.dumps({"type": kind, "data": data}),
                prompt_id=self.prompt_id,
            )

    async def release_progress(self) -> None:
        """Passes on the progress_state held since a held `executed`, before another message:
        the prompt goes on, and its client sees its progress in order."""
        self.files_held = False
        held, self.progress_held = self.progress_held, None
        if held is not None and self.client_id:
            await publish_comfy(
                self.client_id,
                self.submitter,
                text=json.dumps({"type": "progress_state", "data": held}),
                prompt_id=self.prompt_id,
            )

    def renamed(self, data: dict[str, Any]) -> dict[str, Any]:
        """The message's data with the task's id for the node's prompt id."""
        data = dict(data)
        if "prompt_id" in data:
            data["prompt_id"] = self.prompt_id
        nodes = data.get("nodes")
        if isinstance(nodes, dict):  # progress_state: each node names the prompt too
            data["nodes"] = {
                key: {**value, "prompt_id": self.prompt_id}
                if isinstance(value, dict) and "prompt_id" in value
                else value
                for key, value in nodes.items()
            }
        return data

    def renamed_frame(self, frame: bytes) -> bytes:
        """A binary frame as the client gets it: a preview's metadata names the task."""
        preview = preview_with_metadata(frame)
        if preview is None:
            return frame
        metadata, image = preview
        return encode_preview_with_metadata({**metadata, "prompt_id": self.prompt_id}, image)

    def from_history(self, entry: dict[str, Any]) -> None:
        """Takes the run's messages from the node's /history entry (a prompt settled there)."""
        status = entry.get("status")
        messages = status.get("messages") if isinstance(status, dict) else None
        self.messages = [
            [message[0], self.renamed(message[1])]
            for message in (messages if isinstance(messages, list) else [])
            if isinstance(message, list)
            and len(message) == 2
            and message[0] in HISTORY_MESSAGES
            and isinstance(message[1], dict)
        ]

    def history(
        self, tracker: PromptTracker, saved: list[tuple[OutputFile, dict[str, Any]]]
    ) -> dict[str, Any]:
        """What /history shows of the prompt: `outputs` by node as the node reported them, each
        file named as the router stored it (`saved`: the node's file, the stored output), a
        file the router did not keep left out; `meta`; and the run's `messages`."""
        stored = {
            (found.node_id, found.filename, found.subfolder, found.type): output["stored_name"]
            for found, output in saved
        }
        outputs: dict[str, Any] = {}
        for node_id, output in tracker.executed.items():
            shown: dict[str, Any] = {}
            for key, value in output.items():
                if key in OUTPUT_KINDS and isinstance(value, list):
                    value = [
                        {**item, "filename": name, "subfolder": self.prompt_id}
                        for item in value
                        if isinstance(item, dict)
                        and (name := stored.get(file_key(node_id, item))) is not None
                    ]
                shown[key] = value
            if any(shown.values()):
                outputs[node_id] = shown
        meta = {
            node_id: {
                "node_id": node_id,
                "display_node": self.display_nodes.get(node_id, node_id),
                "parent_node": None,
                "real_node_id": node_id,
            }
            for node_id in outputs
        }
        recorded = {"outputs": outputs, "meta": meta, "messages": self.messages}
        if self.progress_held is not None:
            recorded["progress_state"] = self.progress_held  # for the ending, after `executed`
        return recorded


def file_key(node_id: str, item: dict[str, Any]) -> tuple[str, str, str, str]:
    return (
        node_id,
        str(item.get("filename")),
        str(item.get("subfolder", "")),
        str(item.get("type", "output")),
    )
