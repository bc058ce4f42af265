"""Runs schemathesis-generated requests for one OpenAPI operation against a live router.

Bounded and deterministic: a fixed number of examples per operation, derandomized (Hypothesis
derives its seed from the test), no example database. Generated URLs never leave the machine:
any string that looks like a URL is replaced by one on a closed loopback port before sending,
so the router never probes, downloads from or posts a webhook to a host out there.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.live_router import CREDENTIALS

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
LOOPBACK_URL = "http://127.0.0.1:9/fuzz"  # the discard port: nothing listens there
URL_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:|//")


def served_operations() -> list[str]:
    """Labels (`GET /workflow/{task_id}`) of every operation in the schema the router serves."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        f"{method.upper()} {path}"
        for path, operations in json.loads(json.dumps(document, default=str))["paths"].items()
        for method in operations
    )


def keep_local(value: Any) -> Any:
    if isinstance(value, str):
        return LOOPBACK_URL if URL_LIKE.match(value.strip()) else value
    if isinstance(value, dict):
        return {key: keep_local(item) for key, item in value.items()}
    if isinstance(value, list):
        return [keep_local(item) for item in value]
    return value


@dataclass
class FuzzReport:
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def record(self, status: int) -> None:
        self.requests += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1


def error_shape_problem(response: Any) -> str | None:
    """Every 4xx/5xx of the API is JSON `{"message": str, "detail": {...}}`."""
    if response.status_code < 400:
        return None
    content_type = " ".join(response.headers.get("content-type", []))
    if "json" not in content_type:
        return f"non-JSON {response.status_code}: {response.text[:200]!r}"
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code} with invalid JSON: {response.text[:200]!r}"
    if not (
        isinstance(body, dict)
        and set(body) == {"message", "detail"}
        and isinstance(body["message"], str)
        and isinstance(body["detail"], dict)
    ):
        return f"{response.status_code} not in the error shape: {body!r}"[:300]
    return None


def load_schema(base_url: str) -> Any:
    return schemathesis.openapi.from_url(f"{base_url}/doc/openapi.json", auth=CREDENTIALS)


def fuzz_operation(
    schema: Any,
    base_url: str,
    label: str,
    mode: GenerationMode,
    examples: int,
    *,
    task_ids: list[str],
    bodies: list[Any],
) -> FuzzReport:
    """Random UUIDs only ever find nothing, so path ids are often one of `task_ids`; and a body
    is sometimes one of `bodies` (valid submissions), so the paths past validation run too."""
    method, path = label.split(" ", 1)
    operation = schema[path][method]
    report = FuzzReport()
    session = requests.Session()
    session.auth = CREDENTIALS
    session.trust_env = False

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), pick=st.integers(0, 2 * len(task_ids)))
    def run(case: Any, pick: int) -> None:
        if pick < len(task_ids) and "task_id" in (case.path_parameters or {}):
            case.path_parameters["task_id"] = task_ids[pick]
            if "index" in case.path_parameters:
                case.path_parameters["index"] = pick % 2
        if pick < len(bodies) and mode == GenerationMode.POSITIVE and label == "POST /workflow":
            case.body = bodies[pick]
        if isinstance(case.body, (dict, list, str)):
            case.body = keep_local(case.body)
        response = case.call(base_url=base_url, session=session, timeout=30)
        report.record(response.status_code)
        problems = []
        try:
            case.validate_response(response, checks=CHECKS)
        except BaseException as failure:  # schemathesis raises an ExceptionGroup of failures
            problems.append(str(failure).split("Reproduce with")[0].strip()[:1500])
        shape = error_shape_problem(response)
        if shape:
            problems.append(shape)
        if problems:
            report.failures.append(
                f"{label} ({mode.value}): " + "\n".join(problems) + f"\n{case.as_curl_command()}"
            )

    run()
    session.close()
    return report
