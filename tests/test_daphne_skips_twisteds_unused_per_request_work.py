"""The router's Daphne connections skip what Twisted does per request for nobody: an access log
line Daphne sends nowhere (the form parse Daphne does not use is off too: see
test_form_bodies_reach_django_unparsed)."""

from __future__ import annotations

import io
from typing import Any

from twisted.web.test.requesthelper import DummyRequest

from comfy_router.bounded_daphne import BoundedHTTPFactory


def test_no_twisted_access_log_line_is_formatted_for_a_request() -> None:
    factory = BoundedHTTPFactory(server=None)
    formatted: list[Any] = []
    factory._logFormatter = lambda *args: formatted.append(args) or "line"
    factory._logFile = written = io.StringIO()
    factory.log(DummyRequest([b"workflow"]))
    assert formatted == [] and written.getvalue() == ""
