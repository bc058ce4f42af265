"""A protocol-faithful fake ComfyUI v0.8.0 for tests, checked against the recorded traces.

    fake = FakeComfyUI(root_dir)            # ComfyUI's base dir: models/<folder>/, input/, output/, temp/
    await fake.start(); fake.url; await fake.stop()   # stop() == die(): connections are refused
    with FakeComfyUIThread(root_dir) as fake: ...     # own loop in a thread; .stop(), .restart() same port

Knobs (plain attributes, may change while a prompt runs): step_delay, node_delay (seconds; a
prompt's work keeps to its own clock from its start, so the fake's own time does not stretch it),
previews (None = as extra_data.preview_method says, True/False forces), fail_at_node (node id
or class_type -> execution_error there; fail_message, fail_exception_type), reject_prompt (True
or a verbatim 400 body), drop_websocket_after (abort every socket after N more messages; the
prompt keeps running; one-shot), hang (accept connections, never answer), load_time (seconds
charged when the loaded checkpoint/unet changes), system_stats_status, required_token (not
ComfyUI: demand `Authorization: Bearer` or `?token=`), view_rate (not ComfyUI: /view sends that
many bytes a second).

Log (`fake.log`, survives restarts): prompts ([PromptRecord] with prompt_id, client_id, graph,
extra_data, number, submitted/started/ended monotonic times, outcome success | error |
interrupted | deleted | lost, cached), active and max_active (most prompts queued-or-running at
once, each counted until its end message goes out), requests ([RequestRecord] method, path,
query, authorization, origin, status) and websockets ([WebsocketRecord] client_id, token, opened,
closed).
"""

from .log import FakeLog, PromptRecord, RequestRecord, WebsocketRecord
from .server import FakeComfyUI
from .thread import FakeComfyUIThread

__all__ = [
    "FakeComfyUI",
    "FakeComfyUIThread",
    "FakeLog",
    "PromptRecord",
    "RequestRecord",
    "WebsocketRecord",
]
