"""`serve` checks its patch to Daphne and Twisted (comfy_router.server_patches) before it starts:
when what a patch overrides has changed, the start stops with one line naming that patch, before
the database is touched or a port is opened."""

from __future__ import annotations

from collections.abc import Iterator

import daphne
import daphne.server
import pytest
from daphne.http_protocol import WebRequest
from django.core.management import CommandError, ManagementUtility, call_command
from twisted.web import http

from comfy_router.server_patches import check_server_patches

BODY_LIMIT = "cannot install the Daphne request-body limit: "


class NotStarted(Exception):
    pass


@pytest.fixture(autouse=True)
def no_server_starts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise NotStarted("serve built a Daphne server without its patches")

    monkeypatch.setattr(daphne.server, "Server", refuse)
    yield


def serve_error() -> str:
    with pytest.raises(CommandError) as stopped:
        call_command("serve")
    return str(stopped.value)


def test_the_patches_fit_the_pinned_daphne_and_twisted() -> None:
    check_server_patches()


def test_a_replaced_http_factory_stops_serve_naming_the_body_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(daphne.server, "HTTPFactory", type("OtherFactory", (), {}))
    assert serve_error() == (
        BODY_LIMIT + "daphne.server.HTTPFactory is not the class it was written for"
    )


def test_another_daphne_version_stops_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(daphne, "__version__", "4.3.0")
    assert serve_error() == BODY_LIMIT + "written for daphne 4.2.3, found daphne 4.3.0"


def test_a_daphne_request_without_handle_reply_stops_serve_naming_the_head_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(WebRequest, "handle_reply")
    assert serve_error() == (
        "cannot install the Daphne HEAD fix: daphne.http_protocol.WebRequest has no handle_reply"
    )


def test_a_twisted_request_that_always_parses_forms_stops_serve(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = http.Request.__init__
    monkeypatch.setattr(
        http.Request, "__init__", lambda self, channel, queued=None: original(self, channel)
    )
    assert serve_error() == (
        "cannot install the Daphne form-body pass-through: "
        "twisted.web.http.Request takes no parsePOSTFormSubmission"
    )


def test_the_failed_check_is_one_line_on_stderr_and_exit_status_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(daphne, "__version__", "4.3.0")
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["manage.py", "serve"]).execute()
    assert exited.value.code == 1
    assert capsys.readouterr().err == (
        "CommandError: " + BODY_LIMIT + "written for daphne 4.2.3, found daphne 4.3.0\n"
    )
