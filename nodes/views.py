"""The cluster API: one thin view per endpoint over nodes.services and nodes.selectors."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from nodes.selectors import node_current_tasks, node_list, pool_model_files
from nodes.serializers import (
    ModelListSerializer,
    NodeAddSerializer,
    NodeDeletedSerializer,
    NodeDeleteQuerySerializer,
    NodeDeleteSerializer,
    NodeListSerializer,
    NodeSerializer,
)
from nodes.services import (
    REQUEST_CHECK_SECONDS,
    NodeBusy,
    NodeNotFound,
    node_add,
    node_delete,
)

TAGS = ["cluster"]
# ComfyUI's own address and port when it runs on the router's machine.
EXAMPLE_NODE_URL = "http://127.0.0.1:8188"


class NodeConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The node is busy."
    default_code = "conflict"


def _url_error(
    exception_class: type[exceptions.APIException], error: Exception
) -> exceptions.APIException:
    api_error = exception_class(str(error))
    api_error.extra_detail = {"url": [str(error)]}  # type: ignore[attr-defined]
    return api_error


class NodeCollectionView(APIView):
    @extend_schema(
        tags=TAGS,
        summary="Register a node",
        description="Idempotent: 201 when the node is new, 200 when the URL is already registered "
        "(a given name or token then replaces the stored one). A new node is checked at once, "
        f"for at most {REQUEST_CHECK_SECONDS:g} s: `idle` if it answers `/system_stats` by then, "
        "`offline` if not, or if other requests are checking nodes at that moment (the health "
        "monitor brings it in once it answers).",
        request=NodeAddSerializer,
        examples=[
            OpenApiExample(
                "Node",
                summary="A ComfyUI server on this machine",
                value={"url": EXAMPLE_NODE_URL, "name": "local-gpu", "labels": ["local"]},
                request_only=True,
            )
        ],
        responses={
            201: NodeSerializer,
            200: NodeSerializer,
            400: OpenApiResponse(description="Invalid URL (detail names the field)"),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = NodeAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        node, created = node_add(**serializer.validated_data)
        context = {"current_tasks": node_current_tasks([node.pk])}
        return Response(
            NodeSerializer(node, context=context).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        tags=TAGS,
        summary="List the nodes",
        responses={200: NodeListSerializer},
    )
    def get(self, request: Request) -> Response:
        nodes = list(node_list())
        context = {"current_tasks": node_current_tasks(node.pk for node in nodes)}
        return Response(NodeListSerializer({"nodes": nodes}, context=context).data)


class NodeDeleteView(APIView):
    @extend_schema(
        tags=TAGS,
        summary="Remove a node",
        request=NodeDeleteSerializer,
        examples=[
            OpenApiExample(
                "Node",
                summary="The node registered by the example of POST /cluster/nodes",
                value={"url": EXAMPLE_NODE_URL},
                request_only=True,
            )
        ],
        parameters=[
            OpenApiParameter("force", bool, description="Delete even while it runs a task.")
        ],
        responses={
            200: NodeDeletedSerializer,
            400: OpenApiResponse(description="Invalid URL"),
            404: OpenApiResponse(description="No node has that URL"),
            409: OpenApiResponse(description="The node runs a task and `force` is not set"),
        },
    )
    def post(self, request: Request) -> Response:
        query = NodeDeleteQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        serializer = NodeDeleteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        url = serializer.validated_data["url"]
        try:
            node_delete(url=url, force=query.validated_data["force"])
        except NodeNotFound as error:
            raise _url_error(exceptions.NotFound, error) from None
        except NodeBusy as error:
            raise _url_error(NodeConflict, error) from None
        return Response(NodeDeletedSerializer({"url": url, "deleted": True}).data)


class ModelListView(APIView):
    @extend_schema(
        tags=TAGS,
        summary="The pool's model files",
        description="Every model file the enabled nodes have said they have (`/models` of each), "
        "with how many have it: a choice offered from here will run. A file given by URL at "
        "submission needs no node to have it. (`GET /models` is ComfyUI's own: the folder "
        "names of the nodes that answer, as one ComfyUI lists them.)",
        responses={200: ModelListSerializer},
    )
    def get(self, request: Request) -> Response:
        return Response(ModelListSerializer({"models": pool_model_files()}).data)
