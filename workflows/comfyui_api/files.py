"""ComfyUI's file routes over the pool: `POST /upload/image` and `/upload/mask` put an image in
the input folder every node reads (answering ComfyUI's `{"name", "subfolder", "type"}`, so
`subfolder/name` is at once a LoadImage input), and `GET /view` serves an input file or a task's
output (`subfolder` the task's id, `filename` the output's stored name).

Only these two upload routes parse form bodies (`upload_parser`). Refusals carry ComfyUI's
status in the router's error shape. `/view` ignores `preview` and `channel`, for which ComfyUI
re-encodes the image: the file is sent as stored, under the rules of the router's own outputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.http import FileResponse
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from comfy_router.auth import Principal
from workflows.api.outputs import output_response
from workflows.comfyui_api.upload_parser import (
    FILE_FIELD,
    MAX_UPLOAD_BYTES,
    ImageUploadParser,
    InputNotWritable,
    StagedImage,
)
from workflows.comfyui_api.upload_store import (
    UploadRefused,
    check_image,
    check_name,
    masked,
    place,
    stage_bytes,
    upload_folder,
)
from workflows.comfyui_api.view_files import DEFAULT_TYPE, Located, ViewError, locate

UPLOAD_TYPE = "input"  # the folder the nodes share; output and temp are tasks' own
MAX_ORIGINAL_REF_CHARS = 4096


@dataclass(frozen=True)
class UploadForm:
    image: StagedImage
    subfolder: str
    overwrite: bool
    fields: Any  # the form's fields, for what one route alone reads


def upload_form(request: Request) -> UploadForm:
    try:
        data, files = request.data, request.FILES
    except exceptions.UnsupportedMediaType:
        raise exceptions.ParseError("An upload is a multipart/form-data body.") from None
    image = files.get(FILE_FIELD)
    if not isinstance(image, StagedImage):
        raise UploadRefused(FILE_FIELD, "The form has no image file.")
    return UploadForm(
        image=image,
        subfolder=data.get("subfolder") or "",
        overwrite=data.get("overwrite") in ("true", "1"),
        fields=data,
    )


def check_type(form: UploadForm) -> None:
    folder_type = form.fields.get("type") or UPLOAD_TYPE
    if folder_type != UPLOAD_TYPE:
        raise UploadRefused(
            "type", f"Uploads go to the input folder the nodes share, not {folder_type!r}."
        )


class UploadView(APIView):
    """Parses the form, answers its refusals as 400s naming the field, and removes the staged
    file however the request ends."""

    parser_classes = [ImageUploadParser]

    @extend_schema(exclude=True)
    def post(self, request: Request) -> Response:
        form: UploadForm | None = None
        try:
            form = upload_form(request)
            check_type(form)
            return Response(self.store(form))
        except UploadRefused as refused:
            raise exceptions.ValidationError({refused.field: [str(refused)]}) from None
        except OSError as error:
            raise InputNotWritable(error) from None
        finally:
            if form is not None:
                form.image.discard()

    def store(self, form: UploadForm) -> dict[str, Any]:
        raise NotImplementedError


class UploadImageView(UploadView):
    def store(self, form: UploadForm) -> dict[str, Any]:
        name = check_name(form.image.name)
        check_image(form.image.path.read_bytes(), FILE_FIELD)
        folder = upload_folder(form.subfolder)
        name = place(form.image.path, folder, name, overwrite=form.overwrite)
        return {"name": name, "subfolder": form.subfolder, "type": UPLOAD_TYPE}


class UploadMaskView(UploadView):
    """The original image (`original_ref`) with the uploaded mask's alpha, stored under the
    mask's name, as ComfyUI's mask editor expects."""

    def store(self, form: UploadForm) -> dict[str, Any]:
        name = check_name(form.image.name)
        mask = form.image.path.read_bytes()
        check_image(mask, FILE_FIELD)
        original = original_image(form.fields.get("original_ref"), self.request.principal)
        folder = upload_folder(form.subfolder)
        composed = stage_bytes(masked(original, mask))
        try:
            name = place(composed, folder, name, overwrite=form.overwrite)
        finally:
            composed.unlink(missing_ok=True)
        return {"name": name, "subfolder": form.subfolder, "type": UPLOAD_TYPE}


def original_image(ref: Any, seen_by: Principal) -> bytes:
    """The bytes of the image `original_ref` names (`{"filename", "subfolder"?, "type"?}`, type
    `output` by default as in ComfyUI), checked as an upload is."""
    if not isinstance(ref, str) or len(ref) > MAX_ORIGINAL_REF_CHARS:
        raise UploadRefused(
            "original_ref", f"JSON of at most {MAX_ORIGINAL_REF_CHARS} characters is required."
        )
    try:
        parsed = json.loads(ref)
    except (ValueError, RecursionError):
        raise UploadRefused("original_ref", "Not JSON.") from None
    fields = ("filename", "subfolder", "type")
    if (
        not isinstance(parsed, dict)
        or not isinstance(parsed.get("filename"), str)
        or not all(isinstance(parsed.get(f, ""), str) for f in fields)
    ):
        raise UploadRefused("original_ref", 'Expected {"filename", "subfolder", "type"} strings.')
    try:
        found = locate(
            parsed["filename"], parsed.get("subfolder", ""), parsed.get("type"), seen_by=seen_by
        )
        if found.path.stat().st_size > MAX_UPLOAD_BYTES:
            raise UploadRefused(
                "original_ref", f"The original image is larger than {MAX_UPLOAD_BYTES} bytes."
            )
        original = found.path.read_bytes()
    except ViewError as refused:
        raise UploadRefused("original_ref", str(refused)) from None
    except OSError:  # gone since it was found
        raise UploadRefused("original_ref", "The original image is gone.") from None
    check_image(original, "original_ref")
    return original


class ViewRefused(exceptions.APIException):
    def __init__(self, refused: ViewError) -> None:
        super().__init__(str(refused))
        self.status_code = refused.status


class ViewFileView(APIView):
    @extend_schema(exclude=True)
    def get(self, request: Request) -> FileResponse:
        query = request.query_params
        if "filename" not in query:
            raise exceptions.NotFound("/view needs a filename.")  # ComfyUI's answer
        try:
            found: Located = locate(
                query["filename"],
                query.get("subfolder", ""),
                query.get("type", DEFAULT_TYPE),
                seen_by=request.principal,
            )
        except ViewError as refused:
            raise ViewRefused(refused) from None
        return output_response(found.path, {"filename": found.name})


urlpatterns: list[Any] = [
    path("upload/image", UploadImageView.as_view(), name="upload-image"),
    path("upload/mask", UploadMaskView.as_view(), name="upload-mask"),
    path("view", ViewFileView.as_view(), name="view"),
]
