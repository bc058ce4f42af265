"""The router's Daphne connections skip what Twisted does per request for nobody: an access log
line Daphne sends nowhere, and a fresh `email`-package parse of every POST's Content-Type."""

from __future__ import annotations

import io
from typing import Any

from twisted.web import http
from twisted.web.test.requesthelper import DummyRequest

from comfy_router.bounded_daphne import (
    BoundedHTTPFactory,
    BoundedWebRequest,
    install_daphne_body_limit,
)


def test_no_twisted_access_log_line_is_formatted_for_a_request() -> None:
    factory = BoundedHTTPFactory(server=None)
    formatted: list[Any] = []
    factory._logFormatter = lambda *args: formatted.append(args) or "line"
    factory._logFile = written = io.StringIO()
    factory.log(DummyRequest([b"workflow"]))
    assert formatted == [] and written.getvalue() == ""


def test_a_posts_content_type_is_parsed_once_and_as_twisted_parses_it() -> None:
    limit = BoundedWebRequest.max_body_bytes
    install_daphne_body_limit(limit)
    parse = http._parseContentType
    original = parse.__wrapped__
    samples = [
        b"application/json",
        b"Application/JSON; charset=utf-8",
        b"multipart/form-data; boundary=----x",
        b"application/x-www-form-urlencoded",
        b"not a type",
    ]
    for sample in samples:
        assert parse(sample) == original(sample)
    hits = parse.cache_info().hits
    for sample in samples:
        parse(sample)
    assert parse.cache_info().hits == hits + len(samples)
    install_daphne_body_limit(limit)  # installing again does not wrap twice
    assert http._parseContentType is parse
