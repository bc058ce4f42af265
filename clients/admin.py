"""Clients in the admin, with their keys inline. A key is made by a button (or the list's action)
and shown on the page that answers it, never stored in a message or a session: the page is the
only time anyone sees it. Keys are revoked one by one, never deleted, so a key's history stays."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.views.decorators.http import require_http_methods, require_POST

from clients.models import ApiKey, Client
from clients.services import api_key_create, api_key_revoke

NEW_KEYS_TEMPLATE = "admin/clients/client/new_keys.html"
REVOKE_TEMPLATE = "admin/clients/client/revoke_key.html"


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    can_delete = False
    fields = ("prefix", "created_at", "last_used_at", "revoked_at", "revoke_button")
    readonly_fields = fields
    ordering = ("-created_at",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # made by the "Make a new API key" button, which shows it once

    @admin.display(description="revoke")
    def revoke_button(self, api_key: ApiKey) -> SafeString | str:
        if api_key.pk is None or api_key.is_revoked:
            return "–"
        # A link to a page that asks first: a button in the client's own form would be the
        # one that pressing Enter in a field of that form submits.
        url = reverse("admin:clients_apikey_revoke", args=[api_key.client_id, api_key.pk])
        return format_html('<a href="{}" class="button">Revoke…</a>', url)


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ("name", "enabled", "priority", "pending_limit", "live_keys", "created_at")
    list_filter = ("enabled",)
    search_fields = ("name", "notes")
    fields = ("name", "enabled", "priority", "pending_limit", "notes", "created_at")
    readonly_fields = ("created_at",)
    inlines = (ApiKeyInline,)
    actions = ("make_keys",)
    change_form_template = "admin/clients/client/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Client]:
        live = Count("api_keys", filter=Q(api_keys__revoked_at__isnull=True))
        return super().get_queryset(request).annotate(live_key_count=live)

    @admin.display(description="live keys", ordering="live_key_count")
    def live_keys(self, client: Client) -> int:
        return int(getattr(client, "live_key_count", 0))

    @admin.action(description="Make a new API key for each selected client")
    def make_keys(self, request: HttpRequest, queryset: QuerySet[Client]) -> HttpResponse:
        made = [(client, api_key_create(client=client)[1]) for client in queryset]
        return self.show_new_keys(request, made)

    def show_new_keys(self, request: HttpRequest, made: list[tuple[Client, str]]) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "New API keys",
            "opts": self.model._meta,
            "made": made,
        }
        # admin_view marks it never_cache (`no-store`): no cache keeps a copy of the keys.
        return TemplateResponse(request, NEW_KEYS_TEMPLATE, context)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:client_id>/keys/new/",
                self.admin_site.admin_view(require_POST(self.make_key_view)),
                name="clients_apikey_create",
            ),
            path(
                "<int:client_id>/keys/<int:key_id>/revoke/",
                self.admin_site.admin_view(require_http_methods(["GET", "POST"])(self.revoke_view)),
                name="clients_apikey_revoke",
            ),
            *super().get_urls(),
        ]

    def make_key_view(self, request: HttpRequest, client_id: int) -> HttpResponse:
        client = Client.objects.filter(pk=client_id).first()
        if client is None or not self.has_change_permission(request, client):
            raise Http404("No such client")
        return self.show_new_keys(request, [(client, api_key_create(client=client)[1])])

    def revoke_view(self, request: HttpRequest, client_id: int, key_id: int) -> HttpResponse:
        api_key = (
            ApiKey.objects.select_related("client").filter(pk=key_id, client_id=client_id).first()
        )
        if api_key is None or not self.has_change_permission(request, api_key.client):
            raise Http404("No such key")
        if request.method != "POST":
            context = {
                **self.admin_site.each_context(request),
                "title": f"Revoke key {api_key.prefix}… of {api_key.client.name}?",
                "opts": self.model._meta,
                "api_key": api_key,
            }
            return TemplateResponse(request, REVOKE_TEMPLATE, context)
        if api_key_revoke(api_key_id=api_key.pk):
            self.message_user(request, f"Key {api_key.prefix}… revoked.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:clients_client_change", args=[client_id]))
