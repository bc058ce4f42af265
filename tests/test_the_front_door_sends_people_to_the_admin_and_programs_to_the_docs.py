"""`GET /` is no dead end: a browser goes to the admin, anything else to the API's docs."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_browser_is_sent_to_the_admin() -> None:
    response = Client().get("/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert (response.status_code, response["Location"]) == (302, "/admin/")


def test_a_program_is_sent_to_the_docs() -> None:
    response = Client().get("/", HTTP_ACCEPT="application/json")
    assert (response.status_code, response["Location"]) == (302, "/doc")
    assert Client().get("/").status_code == 302  # no Accept at all


def test_only_the_front_door_itself_is_open() -> None:
    assert Client().get("/workflow").status_code == 401
