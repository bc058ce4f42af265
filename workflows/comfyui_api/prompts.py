"""ComfyUI's prompt routes over the pool: `POST /prompt` makes a router task (its id is the
prompt_id), `/queue` shows and trims the pool's queue, `/interrupt` cancels one prompt wherever
it runs, `/history` shows finished tasks as ComfyUI shows finished prompts.

Answers and errors take ComfyUI 0.8.0's shapes, not the router's: a ComfyUI client shows its
usual messages. The websocket side is `workflows.comfyui_api.consumers`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.db import IntegrityError
from django.db.models import QuerySet
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from comfy_router.auth import Principal
from comfy_router.errors import error_summary, flatten_errors
from comfy_router.parsers import StrictJSONParser
from workflows.api.capacity import TRUSTED_FOR, refuse_what_no_node_can_run
from workflows.api.params import validate_submission
from workflows.api.views import RETRY_AFTER_SECONDS, base_url
from workflows.comfyui_api.errors import comfy_error, graph_refused, pool_refused, values_refused
from workflows.comfyui_api.pool import PoolClasses
from workflows.execution import run_requests
from workflows.graphs.builders.file_inputs import FILE_INPUT_FOLDERS as FILE_INPUTS
from workflows.graphs.comfyui_values import ValueErrors, value_errors
from workflows.models import Task
from workflows.tasks import comfy_shapes, idempotency, live, services
from workflows.tasks.selectors import unfinished_count

# `GET /history` without `max_items` answers at most this many, newest: ComfyUI answers its
# whole history, which a router keeping HISTORY_LIMIT tasks could make megabytes of graphs.
HISTORY_PAGE = 1000
MAX_IDS = 1000  # ids in one `delete` list
MAX_POSITION = 2**53


class AnyTypeJSONParser(StrictJSONParser):
    """ComfyUI reads every body as JSON, whatever its Content-Type; its own script examples
    post with urllib's default, `application/x-www-form-urlencoded`."""

    media_type = "*/*"


class ComfyView(APIView):
    """Errors as ComfyUI words them: `{"error": {type, message, details, extra_info},
    "node_errors": {}}`, with the status the router's own answer would have."""

    parser_classes = [AnyTypeJSONParser]

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, exceptions.ParseError):
            return comfy_error(400, "invalid_json", str(exc.detail))
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            return super().handle_exception(exc)
        if isinstance(exc, exceptions.APIException) and not isinstance(
            exc, exceptions.MethodNotAllowed
        ):
            # A ValidationError's detail is a list (or a dict by field): in words, as the
            # router's own errors put it, not its repr.
            message = error_summary(flatten_errors(exc.detail))
            return comfy_error(exc.status_code, exc.default_code, message)
        return super().handle_exception(exc)


def principal(request: Request) -> Principal:
    return request.principal  # set by comfy_router.auth on every API request


def body_object(request: Request) -> dict[str, Any]:
    data = request.data
    if not isinstance(data, dict):
        raise exceptions.ParseError("The body must be a JSON object.")
    return data


def id_list(value: Any, field: str) -> list[uuid.UUID]:
    """A `delete` list as ComfyUI takes it; ids that are no task of ours name nothing."""
    if not isinstance(value, list) or len(value) > MAX_IDS:
        raise exceptions.ValidationError(f"{field}: a list of at most {MAX_IDS} prompt ids")
    ids = []
    for item in value:
        try:
            ids.append(uuid.UUID(str(item)))
        except ValueError:
            continue
    return ids


class PromptView(ComfyView):
    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        return Response({"exec_info": {"queue_remaining": unfinished_count()}})

    @extend_schema(exclude=True)
    def post(self, request: Request) -> Response:
        body = body_object(request)
        if "prompt" not in body:
            return comfy_error(400, "no_prompt", "No prompt provided")
        graph = body["prompt"]
        extra_data = body.get("extra_data") or {}
        if not isinstance(extra_data, dict):
            return comfy_error(400, "invalid_prompt", "extra_data must be an object")
        client_id = body.get("client_id", extra_data.get("client_id")) or ""
        if not isinstance(client_id, str) or len(client_id) > 256:
            return comfy_error(400, "invalid_prompt", "client_id must be a string of at most 256")
        submitter = principal(request).client_id
        try:
            key, made = idempotency.look_up(
                request.headers.get(idempotency.HEADER), client_id=submitter, body=body
            )
        except ValueError as malformed:
            return comfy_error(400, "invalid_idempotency_key", f"{idempotency.HEADER}: {malformed}")
        except idempotency.KeyReused as reused:
            return comfy_error(422, "idempotency_key_reused", str(reused))
        if made is not None:
            return prompt_answer(made)
        task_id = chosen_prompt_id(body.get("prompt_id"))
        if isinstance(task_id, Response):
            return task_id
        try:
            submission = validate_submission({"type": "ComfyUI", "params": {"prompt": graph}})
        except serializers.ValidationError as invalid:
            return graph_refused(invalid.detail, graph, PoolClasses())
        try:
            refuse_what_no_node_can_run(submission)
        except serializers.ValidationError as missing:
            return pool_refused(missing.detail, graph, PoolClasses())
        # As ComfyUI: refused when no output node passes, run for those that do (the node runs
        # only them), with the others' errors in the answer.
        checked = pool_value_errors(graph)
        if checked.every_output_failed:
            return values_refused(checked.node_errors)
        try:
            task = services.task_submit(
                submission=submission,
                base_url=base_url(request),
                task_id=task_id,
                comfy_client_id=client_id,
                extra_data=extra_data,
                client_id=submitter,
                key=key,
            )
        except idempotency.KeyRepeated as repeated:  # the same key, posted at the same time
            return prompt_answer(repeated.task_id)
        except idempotency.KeyReused as reused:
            return comfy_error(422, "idempotency_key_reused", str(reused))
        except services.QueueFull as full:
            answer = comfy_error(429, "queue_full", str(full))
            answer["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return answer
        except IntegrityError:
            return comfy_error(400, "invalid_prompt", f"prompt_id {task_id} is already in use")
        if client_id:  # before the dispatcher hears of the task: the status comes first
            status = comfy_shapes.status_message(unfinished_count())
            live.publish_comfy_soon(
                client_id, task.submitted_by_id, text=json.dumps(status), prompt_id=str(task.id)
            )
        services.task_announce(task)
        return Response(
            {
                "prompt_id": str(task.id),
                "number": comfy_shapes.prompt_number(task),
                "node_errors": checked.node_errors,
            }
        )


def pool_value_errors(graph: dict[str, Any]) -> ValueErrors:
    """ComfyUI's checks of the graph's values against the classes as the pool describes them
    (`/object_info`); the router's file inputs (model names, images, URLs) are the pool check's
    and the cache's, not these lists'. As the pool check does, a copy of the pool's classes read
    in the last TRUSTED_FOR may accept; errors are looked for again in the pool as it is."""

    def checked(pool: PoolClasses) -> ValueErrors:
        return value_errors(graph, pool.info, lambda node, name: (node, name) in FILE_INPUTS)

    found = checked(PoolClasses(max_age=TRUSTED_FOR))
    return checked(PoolClasses()) if found.node_errors else found


def prompt_answer(task_id: uuid.UUID) -> Response:
    """The first answer again, for a submission repeated with its idempotency key."""
    task = Task.objects.filter(pk=task_id).only("id", "created_at").first()
    number = comfy_shapes.prompt_number(task) if task is not None else 0
    return Response({"prompt_id": str(task_id), "number": number, "node_errors": {}})


def chosen_prompt_id(value: Any) -> uuid.UUID | None | Response:
    """The client's own prompt_id, honoured when it is a UUID no task has (one some task has
    fails the task's insert: see `post`): the client follows its prompt by that id, so one that
    cannot be kept is refused rather than replaced."""
    if value is None:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return comfy_error(400, "invalid_prompt", "prompt_id must be a UUID")


class QueueView(ComfyView):
    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        unfinished = principal(request).visible(Task.objects.filter(status__in=Task.UNFINISHED))
        unfinished = unfinished.order_by("created_at")
        executing = executing_ids()
        running, pending = [], []
        for task in unfinished.defer("preview", "comfy_history"):
            entry = comfy_shapes.queue_entry(task)
            if task.pk in executing:
                running.append(entry)
            elif not task.cancel_requested:  # deleted while it waits on its node: gone
                pending.append(entry)
        return Response({"queue_running": running, "queue_pending": pending})

    @extend_schema(exclude=True)
    def post(self, request: Request) -> Response:
        """`clear`: cancels every waiting prompt; `delete`: those named, while they wait. A
        running prompt stays, as in ComfyUI (`/interrupt` stops it)."""
        body = body_object(request)
        unfinished = Task.objects.filter(status__in=Task.UNFINISHED).exclude(pk__in=executing_ids())
        waiting = principal(request).visible(unfinished)
        if body.get("clear"):
            cancel_waiting(list(waiting.values_list("id", flat=True)))
        if "delete" in body:
            ids = id_list(body["delete"], "delete")
            cancel_waiting(list(waiting.filter(pk__in=ids).values_list("id", flat=True)))
        return Response(None)


def executing_ids() -> set[uuid.UUID]:
    """The running tasks their nodes are executing: each node's first. The others were queued
    ahead on their busy node (NODE__QUEUE_AHEAD) and wait in its queue: pending, for ComfyUI."""
    first: dict[int | None, uuid.UUID] = {}
    running = Task.objects.filter(status=Task.Status.RUNNING).order_by("started_at", "created_at")
    for task_id, node_id in running.values_list("pk", "node_id"):
        first.setdefault(node_id, task_id)
    return set(first.values())


def cancel_waiting(task_ids: list[uuid.UUID]) -> None:
    for task_id in task_ids:
        try:
            run_requests.cancel(task_id)
        except services.TaskNotCancellable:
            pass  # it ended meanwhile


class InterruptView(ComfyView):
    @extend_schema(exclude=True)
    def post(self, request: Request) -> Response:
        """Cancels the named prompt wherever it runs (or waits). ComfyUI also takes no
        prompt_id, meaning whatever runs; a pool runs many prompts at once, so that is refused
        rather than guessed."""
        body = request.data if isinstance(request.data, dict) else {}
        prompt_id = body.get("prompt_id")
        if prompt_id is None:
            return comfy_error(
                400,
                "prompt_id_required",
                'The router runs many prompts at once: name the one to stop, {"prompt_id": "..."}',
            )
        try:
            task_id = uuid.UUID(str(prompt_id))
        except ValueError:
            return Response(None)  # no such prompt: nothing to stop, as ComfyUI answers
        if principal(request).visible(Task.objects.filter(pk=task_id)).exists():
            try:
                run_requests.cancel(task_id)
            except services.TaskNotCancellable:
                pass  # it has ended
        return Response(None)


def finished_tasks(request: Request) -> QuerySet[Task]:
    return (
        principal(request).visible(Task.objects.filter(status__in=Task.FINISHED)).defer("preview")
    )


class HistoryEntryView(ComfyView):
    @extend_schema(exclude=True)
    def get(self, request: Request, prompt_id: str) -> Response:
        """One prompt's entry; `{}` while it has not ended, or for an id that is no task's."""
        try:
            task = finished_tasks(request).filter(pk=uuid.UUID(prompt_id)).first()
        except ValueError:
            task = None
        return Response({} if task is None else {str(task.id): comfy_shapes.history_entry(task)})


class HistoryView(ComfyView):
    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        """Oldest first, as ComfyUI counts: `offset` from the oldest, or, without one (or a
        negative one), the newest `max_items`."""
        finished = finished_tasks(request)
        limit = whole_number(request, "max_items", HISTORY_PAGE)
        limit = min(max(limit, 0), HISTORY_PAGE)
        offset = whole_number(request, "offset", -1)
        if offset < 0:
            page = list(finished.order_by("-created_at")[:limit])[::-1]
        else:
            page = list(finished.order_by("created_at")[offset : offset + limit])
        return Response({str(task.id): comfy_shapes.history_entry(task) for task in page})

    @extend_schema(exclude=True)
    def post(self, request: Request) -> Response:
        body = body_object(request)
        mine = principal(request).visible(Task.objects.all())
        if body.get("clear"):
            services.task_delete_finished(tasks=mine)
        if "delete" in body:
            ids = id_list(body["delete"], "delete")
            services.task_delete_finished(tasks=mine.filter(pk__in=ids))
        return Response(None)


def whole_number(request: Request, name: str, default: int) -> int:
    """A count or a position from the query string: negative ones are -1, and any past
    MAX_POSITION (no history is that long) is MAX_POSITION, which the database can add to."""
    value = request.query_params.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise exceptions.ValidationError(f"{name}: not a whole number: {value!r}") from None
    return min(max(number, -1), MAX_POSITION)


urlpatterns = [
    path("prompt", PromptView.as_view()),
    path("queue", QueueView.as_view()),
    path("interrupt", InterruptView.as_view()),
    path("history", HistoryView.as_view()),
    path("history/<str:prompt_id>", HistoryEntryView.as_view()),
]
