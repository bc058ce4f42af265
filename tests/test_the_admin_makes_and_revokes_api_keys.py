"""In the admin a client's page has "Make a new API key", which shows the key once on the page
that answers it (never stored, never cached), and its keys inline with a Revoke each; the task
list shows and filters tasks by client, and a retry is the same client's task."""

from __future__ import annotations

import base64
import re

import pytest
from django.test import Client as Browser
from django.urls import reverse

from clients.models import ApiKey, Client
from clients.selectors import client_for_key
from clients.services import api_key_create, client_create
from workflows.models import Task

pytestmark = pytest.mark.django_db(transaction=True)
KEY_ON_PAGE = re.compile(r'<code class="api-key">(cr_[A-Za-z0-9_-]+)</code>')


@pytest.fixture
def admin() -> Browser:
    token = base64.b64encode(b"admin:admin").decode()
    return Browser(HTTP_AUTHORIZATION=f"Basic {token}")


def as_client(key: str) -> Browser:
    return Browser(HTTP_AUTHORIZATION=f"Bearer {key}")


def a_task(client: Client | None, status: str = Task.Status.CANCELLED) -> Task:
    return Task.objects.create(
        type=Task.Type.COMFYUI,
        params={"prompt": {"1": {"class_type": "EmptyImage", "inputs": {}}}},
        graph={"1": {"class_type": "EmptyImage", "inputs": {}}},
        status=status,
        submitted_by=client,
    )


def test_make_a_new_api_key_shows_it_once_and_it_works(admin: Browser) -> None:
    client = client_create(name="team-a")
    page = admin.post(reverse("admin:clients_apikey_create", args=[client.pk]))
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    [key] = KEY_ON_PAGE.findall(page.content.decode())
    assert client_for_key(key) == client
    stored = ApiKey.objects.get()
    assert key.startswith(stored.prefix) and key not in stored.digest
    assert as_client(key).get("/workflow").status_code == 200
    change = admin.get(reverse("admin:clients_client_change", args=[client.pk])).content.decode()
    assert stored.prefix in change and key not in change
    assert "Make a new API key" in change
    # Making a key takes a POST: a link followed by a crawler makes none.
    assert admin.get(reverse("admin:clients_apikey_create", args=[client.pk])).status_code == 405


def test_the_list_action_makes_a_key_for_each_selected_client(admin: Browser) -> None:
    clients = [client_create(name="team-a"), client_create(name="team-b")]
    page = admin.post(
        reverse("admin:clients_client_changelist"),
        {"action": "make_keys", "_selected_action": [c.pk for c in clients]},
    )
    keys = KEY_ON_PAGE.findall(page.content.decode())
    assert sorted(client_for_key(key).name for key in keys) == ["team-a", "team-b"]


def test_revoke_asks_first_then_refuses_the_key_at_once(admin: Browser) -> None:
    client = client_create(name="team-a")
    api_key, key = api_key_create(client=client)
    _, other = api_key_create(client=client)
    revoke = reverse("admin:clients_apikey_revoke", args=[client.pk, api_key.pk])
    change = admin.get(reverse("admin:clients_client_change", args=[client.pk])).content.decode()
    assert revoke in change
    asked = admin.get(revoke)
    assert asked.status_code == 200 and api_key.prefix in asked.content.decode()
    assert client_for_key(key) == client  # asking revokes nothing
    done = admin.post(revoke)
    assert done.status_code == 302
    assert client_for_key(key) is None
    assert client_for_key(other) == client
    refused = as_client(key).get("/workflow")
    assert refused.status_code == 401 and set(refused.json()) == {"message", "detail"}
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is not None
    change = admin.get(reverse("admin:clients_client_change", args=[client.pk])).content.decode()
    assert change.count("Revoke…") == 1  # only the live key still has one


def test_the_task_list_shows_and_filters_by_client(admin: Browser) -> None:
    team_a, team_b = client_create(name="team-a"), client_create(name="team-b")
    own, theirs, operators = a_task(team_a), a_task(team_b), a_task(None)
    changelist = reverse("admin:workflows_task_changelist")
    everything = admin.get(changelist).content.decode()
    assert "team-a" in everything and "team-b" in everything
    filtered = admin.get(changelist, {"submitted_by__id__exact": team_a.pk}).content.decode()
    assert str(own.pk)[:8] in filtered
    assert str(theirs.pk)[:8] not in filtered and str(operators.pk)[:8] not in filtered


def test_a_retry_in_the_admin_is_the_same_clients_task(admin: Browser) -> None:
    team_a = client_create(name="team-a")
    original = a_task(team_a)
    admin.post(reverse("admin:workflows_task_retry", args=[original.pk]))
    copy = Task.objects.exclude(pk=original.pk).get()
    assert copy.submitted_by == team_a
