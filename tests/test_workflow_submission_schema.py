"""The OpenAPI document shows each workflow type's params, as validated."""

from __future__ import annotations

import pytest
from django.urls import path
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from workflows.api.params import WorkflowSubmissionSchema, WorkflowSubmissionSerializer


def submit_view(request_schema):
    class SubmitView(APIView):
        authentication_classes: list = []
        permission_classes: list = []

        @extend_schema(request=request_schema, responses={202: None})
        def post(self, request):  # pragma: no cover - only described, never called
            return Response(status=202)

    return SubmitView.as_view()


@pytest.mark.parametrize("request_schema", [WorkflowSubmissionSchema, WorkflowSubmissionSerializer])
def test_the_schema_has_one_variant_per_workflow_type_with_its_params(request_schema):
    schema = SchemaGenerator(patterns=[path("workflow", submit_view(request_schema))]).get_schema(public=True)
    components = schema["components"]["schemas"]
    ref = schema["paths"]["/workflow"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = components[ref.rsplit("/", 1)[1]]
    assert body["discriminator"]["propertyName"] == "type"
    assert set(body["discriminator"]["mapping"]) == {"SD15", "SDXL", "Flux", "ComfyUI"}
    sd15 = components["SD15ParamsRequest"]["properties"]
    assert {"checkpoint", "vae", "loras", "controlnets", "prompt", "width", "seed"} <= set(sd15)
    assert sd15["width"]["default"] == 512 and sd15["width"]["maximum"] == 16384
    assert "euler" in components["SamplerEnum"]["enum"]
    flux = components["FluxParamsRequest"]["properties"]
    assert {"unet", "unet_dtype", "unet_type", "t5xxl", "clip"} <= set(flux)
    assert components["SDXLParamsRequest"]["properties"]["width"]["default"] == 1024
