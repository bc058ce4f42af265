"""The task API: one thin view per endpoint."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from django.http import HttpResponse, HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from comfy_router.auth import Principal
from comfy_router.http_handler import AskAgainAfter, waited_for
from workflows.api import previews
from workflows.api.capacity import refuse_what_no_node_can_run
from workflows.api.event_stream import CONTENT_TYPE as EVENT_STREAM
from workflows.api.event_stream import EVENT_SCHEMA, ErrorsAsJson, event_stream_response
from workflows.api.examples import WORKFLOW_EXAMPLES
from workflows.api.outputs import OUTPUT_HEADERS, output_response
from workflows.api.params import WorkflowSubmissionSerializer, validate_submission
from workflows.api.queries import (
    TaskDetailQuerySerializer,
    TaskListQuerySerializer,
    WaitQuerySerializer,
    refuse_data_past_the_bound,
)
from workflows.api.serializers import (
    ErrorSerializer,
    TaskCreatedSerializer,
    TaskDetailSerializer,
    TaskPageSerializer,
    TaskPreviewSerializer,
)
from workflows.api.task_events import wait_for_end
from workflows.execution import run_requests
from workflows.models import Task
from workflows.tasks import idempotency, selectors, services

RETRY_AFTER_SECONDS = 5


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class KeyReusedError(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"


class QueueFullError(exceptions.Throttled):
    def __init__(self, message: str) -> None:
        super().__init__(wait=RETRY_AFTER_SECONDS, detail=message)


def get_task(task_id: uuid.UUID, principal: Principal) -> Task:
    """The task, if `principal` may see it: another client's task is a 404, word for word the
    one of an unknown id."""
    task = get_public_task(task_id)
    if not principal.may_see(task.submitted_by_id):
        raise exceptions.NotFound(f"No task {task_id}.")
    return task


def get_public_task(task_id: uuid.UUID) -> Task:
    """The task whoever submitted it: for the public preview routes (see README, Security)."""
    task = selectors.task_for_detail(task_id)
    if task is None:
        raise exceptions.NotFound(f"No task {task_id}.")
    return task


def base_url(request: Request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


class WorkflowListCreateView(APIView):
    @extend_schema(
        operation_id="workflow_submit",
        request=WorkflowSubmissionSerializer,
        parameters=[
            WaitQuerySerializer,
            OpenApiParameter(
                idempotency.HEADER,
                str,
                OpenApiParameter.HEADER,
                description="Any unique string (a UUID): posting again with the same key within "
                "24 hours answers with the first task, never a second one. Up to 255 printable "
                "ASCII characters.",
            ),
        ],
        examples=WORKFLOW_EXAMPLES,
        responses={
            200: OpenApiResponse(
                TaskDetailSerializer, description="With `wait`: the task ended within it"
            ),
            202: TaskCreatedSerializer,
            400: ErrorSerializer,
            422: OpenApiResponse(
                ErrorSerializer, description="The Idempotency-Key was used for another body"
            ),
            429: OpenApiResponse(
                ErrorSerializer,
                description="The submitter's pending limit of tasks already wait (a client's "
                "own `pending_limit`, else PENDING_LIMIT)",
            ),
        },
        summary="Submit a workflow; answers with the task id at once, or with `wait` once it ends.",
        description=(
            "With `wait=S`: a 200 with the finished task (as `GET /workflow/{id}` shows it) if it "
            "ends within S seconds, else the 202. Waiting holds no request thread."
        ),
    )
    def post(self, request: Request) -> HttpResponseBase:
        waited = waited_for(request)
        if isinstance(waited, uuid.UUID):
            return submitted_answer(request, get_task(waited, request.principal))
        wait = WaitQuerySerializer(data=request.query_params)
        wait.is_valid(raise_exception=True)
        seconds = wait.validated_data.get("wait")
        key, made = submission_key(request)
        if made is not None:
            return repeated_answer(made, seconds)
        submission = validate_submission(request.data)
        refuse_what_no_node_can_run(submission)
        try:
            task = services.task_submit(
                submission=submission,
                base_url=base_url(request),
                client_id=request.principal.client_id,
                key=key,
            )
        except idempotency.KeyRepeated as repeated:  # the same key, posted at the same time
            return repeated_answer(repeated.task_id, seconds)
        except idempotency.KeyReused as reused:
            raise KeyReusedError(str(reused)) from None
        except services.QueueFull as full:
            raise QueueFullError(str(full)) from None
        services.task_announce(task)
        if seconds is not None:
            return AskAgainAfter(partial(wait_for_end, task.id, seconds), state=task.id)
        return submitted_answer(request, task)

    @extend_schema(
        operation_id="workflow_list",
        parameters=[TaskListQuerySerializer],
        responses={200: TaskPageSerializer},
        summary="Recent tasks, newest first.",
    )
    def get(self, request: Request) -> Response:
        query = TaskListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        wanted = query.validated_data.get("status")
        paginator = CheckedPage(query.validated_data["limit"], query.validated_data["offset"])
        tasks = request.principal.visible(selectors.task_list(status=wanted))
        page = paginator.paginate_queryset(tasks, request, view=self)
        return paginator.get_paginated_response([selectors.task_summary(t) for t in page or []])


def submission_key(request: Request) -> tuple[idempotency.Keyed | None, uuid.UUID | None]:
    """`idempotency.look_up` of the request: a 400 naming the header for a malformed key, a
    422 for a key used with another body."""
    try:
        return idempotency.look_up(
            request.headers.get(idempotency.HEADER),
            client_id=request.principal.client_id,
            body=request.data,
        )
    except ValueError as malformed:
        raise exceptions.ValidationError({idempotency.HEADER: [str(malformed)]}) from None
    except idempotency.KeyReused as reused:
        raise KeyReusedError(str(reused)) from None


def repeated_answer(task_id: uuid.UUID, wait: float | None) -> HttpResponseBase:
    """A submission repeated with its key: the first answer again (the task's id), or, with
    `wait`, the task once it ends as for a new one."""
    if wait is not None:
        return AskAgainAfter(partial(wait_for_end, task_id, wait), state=task_id)
    return accepted(task_id)


def accepted(task_id: uuid.UUID) -> Response:
    """202 with the task's id: it is taken and not yet ended."""
    return Response(
        {"id": str(task_id)},
        status=status.HTTP_202_ACCEPTED,
        headers={"Location": f"/workflow/{task_id}"},
    )


def submitted_answer(request: Request, task: Task) -> Response:
    """The answer to a submission: the task if it has ended (only a waiting one can have), else
    its id."""
    if task.is_finished:
        return Response(selectors.task_detail(task, base_url=base_url(request)))
    return accepted(task.id)


class CheckedPage(LimitOffsetPagination):
    """Pages by the limit and offset as the query's serializer read them, rather than reading
    the query string again by rules of its own (`limit=10.0` is 10 for both)."""

    def __init__(self, limit: int, offset: int) -> None:
        self.checked_limit, self.checked_offset = limit, offset

    def get_limit(self, request: Request) -> int:
        return self.checked_limit

    def get_offset(self, request: Request) -> int:
        return self.checked_offset


class WorkflowDetailView(APIView):
    @extend_schema(
        operation_id="workflow_get",
        parameters=[TaskDetailQuerySerializer],
        responses={200: TaskDetailSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
        summary="A task's status, progress, preview, outputs and error.",
        description=(
            "With `wait=S`: answers once the task has ended or S seconds have passed, whichever "
            "comes first (a long poll that holds no request thread)."
        ),
    )
    def get(self, request: Request, task_id: uuid.UUID) -> HttpResponseBase:
        query = TaskDetailQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        task = get_task(task_id, request.principal)
        seconds = query.validated_data.get("wait")
        if seconds is not None and not task.is_finished and waited_for(request) is None:
            return AskAgainAfter(partial(wait_for_end, task.id, seconds), state=True)
        include_data = query.validated_data.get("include") == "data"
        if include_data:
            refuse_data_past_the_bound(task.outputs)
        return Response(
            selectors.task_detail(task, base_url=base_url(request), include_data=include_data)
        )

    @extend_schema(
        operation_id="workflow_cancel",
        responses={200: TaskDetailSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        summary="Cancel: dequeue a waiting task, or interrupt a running one on its node.",
    )
    def delete(self, request: Request, task_id: uuid.UUID) -> Response:
        get_task(task_id, request.principal)
        try:
            task = run_requests.cancel(task_id)
        except services.TaskNotCancellable as finished:
            raise Conflict(str(finished)) from None
        return Response(selectors.task_detail(task, base_url=base_url(request)))


class WorkflowEventsView(APIView):
    content_negotiation_class = ErrorsAsJson

    @extend_schema(
        operation_id="workflow_events",
        responses={
            (200, EVENT_STREAM): OpenApiResponse(
                EVENT_SCHEMA,
                description=(
                    "Server-Sent Events, one `data:` line of JSON each, as the task websocket "
                    "sends them: `status`, `progress`, `preview`, then one `finished` with the "
                    "whole task, which ends the stream (close the EventSource then, or it "
                    "reconnects). A task that has ended sends its `finished` at once."
                ),
            ),
            404: ErrorSerializer,
        },
        summary="A task's live events as Server-Sent Events, for clients without websockets.",
    )
    def get(self, request: Request, task_id: uuid.UUID) -> HttpResponseBase:
        get_task(task_id, request.principal)
        return event_stream_response(request, task_id)


class WorkflowOutputView(APIView):
    @extend_schema(
        operation_id="workflow_output",
        responses={(200, "*/*"): OpenApiTypes.BINARY, 404: ErrorSerializer},
        summary="One output file of a finished task.",
        description=(
            "Images, video and audio (PNG, JPEG, WEBP, GIF, AVIF, BMP, MP4, WEBM, MOV, WAV, MP3, "
            "FLAC, OGG, M4A) are served inline with the type of their extension; any other file "
            "as an `application/octet-stream` attachment."
        ),
    )
    def get(self, request: Request, task_id: uuid.UUID, index: int) -> Any:
        task = get_task(task_id, request.principal)
        path = selectors.output_path(task, index)
        if path is None:
            raise exceptions.NotFound(f"Task {task_id} has no output {index}.")
        output = next(o for o in task.outputs if o["index"] == index)
        return output_response(path, output)


class PublicPreviewView(APIView):
    """Public: ids are random UUIDs, and only status, progress and preview are shown."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def options(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = Response(status=status.HTTP_204_NO_CONTENT)
        response["Access-Control-Allow-Origin"] = "*"
        response["Access-Control-Allow-Methods"] = "GET, OPTIONS"
        response["Access-Control-Allow-Headers"] = "*"
        return response


class PreviewView(PublicPreviewView):
    @extend_schema(
        operation_id="preview_get",
        auth=[],
        responses={
            200: TaskPreviewSerializer,
            304: OpenApiResponse(description="Unchanged since the ETag in If-None-Match"),
            404: ErrorSerializer,
        },
        summary="Status, progress and latest preview of a task; no auth, CORS *.",
    )
    def get(self, request: Request, task_id: uuid.UUID) -> HttpResponseBase:
        task = get_public_task(task_id)
        tag = previews.etag(selectors.preview_version(task))
        if previews.client_has(request, tag):
            return previews.not_modified(tag)
        return previews.with_preview_headers(Response(selectors.task_preview(task)), tag)


class PreviewImageView(PublicPreviewView):
    @extend_schema(
        operation_id="preview_image",
        auth=[],
        responses={
            (200, "image/*"): OpenApiTypes.BINARY,
            304: OpenApiResponse(description="Unchanged since the ETag in If-None-Match"),
            404: ErrorSerializer,
        },
        summary="The latest preview of a running task, as the node sent it; no auth, CORS *.",
    )
    def get(self, request: Request, task_id: uuid.UUID) -> HttpResponseBase:
        task = get_public_task(task_id)
        preview = selectors.shown_preview(task)
        if preview is None:
            raise exceptions.NotFound(f"Task {task_id} has no preview now.")
        tag = previews.etag(selectors.preview_image_version(task))
        if previews.client_has(request, tag):
            return previews.not_modified(tag)
        response = HttpResponse(preview, content_type=selectors.preview_content_type(task))
        for header, value in OUTPUT_HEADERS.items():
            response[header] = value
        return previews.with_preview_headers(response, tag)
