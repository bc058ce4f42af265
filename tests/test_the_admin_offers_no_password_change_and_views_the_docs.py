"""The admin's credentials come from the environment: it offers no "Change password" (a form that
could only refuse the right password), and "View site" opens the API's docs."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    return Client(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"admin:admin").decode())


def test_the_admin_has_no_change_password_link(admin_client: Client) -> None:
    page = admin_client.get("/admin/").content.decode()
    assert "/admin/password_change/" not in page
    assert not get_user_model().objects.get(username="admin").has_usable_password()


def test_an_operator_user_made_before_loses_its_usable_password(admin_client: Client) -> None:
    get_user_model().objects.create_superuser("admin", password="whatever")
    page = admin_client.get("/admin/").content.decode()
    assert "/admin/password_change/" not in page


def test_view_site_opens_the_docs(admin_client: Client) -> None:
    page = admin_client.get("/admin/").content.decode()
    assert 'href="/doc"' in page
