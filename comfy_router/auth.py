"""Who may call the router, and as whom.

Two kinds of credentials: the operator's one pair (COMFY_ROUTER__USERNAME / __PASSWORD, HTTP
Basic), which reaches everything, and clients' API keys (`Authorization: Bearer <key>`, or
`?token=<key>` where a header cannot be set: websockets, ComfyUI-style clients), which reach the
task API for their own tasks only. Every path needs one but those in PUBLIC_PATHS; OPERATOR_ONLY
paths refuse a key (403). The admin also accepts its own login form, backed by the operator's
pair, and the operator's superuser is created on first login.

Every authenticated request carries `request.principal`, every websocket `scope["principal"]`:
a `Principal`, the operator or one client. This package is the bottom layer, so it knows nothing
of clients: a key is checked by the function the API_KEY_PRINCIPAL setting names (a dotted path).
"""

from __future__ import annotations

import base64
import functools
import hmac
import re
from dataclasses import dataclass
from typing import Any, Callable, TypeVar
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.hashers import make_password
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

PUBLIC_PATHS = re.compile(r"^/((health_check|preview/[^/]+(/image)?)/?)?$")
ADMIN_PREFIX = "/admin/"
# The pool itself and its figures: what one client may not see of the others (the admin too).
OPERATOR_ONLY = re.compile(r"^/(cluster/|metrics/?$)")
REALM = 'Basic realm="Comfy Router", charset="UTF-8"'
KEY_REALM = 'Bearer realm="Comfy Router"'
TOKEN_PARAM = "token"
# The foreign key by which a row (a task) belongs to the client that made it.
OWNER_FIELD = "submitted_by"

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: the operator (`client_id` None), or the client an API key
    belongs to, with what the scheduler and the pending limit need of it."""

    name: str
    client_id: int | None = None
    priority: int = 0
    pending_limit: int | None = None  # None: the global PENDING_LIMIT

    @property
    def is_operator(self) -> bool:
        return self.client_id is None

    def may_see(self, client_id: int | None) -> bool:
        """Whether a row that belongs to `client_id` (None: to no client) is this principal's."""
        return self.is_operator or client_id == self.client_id

    def visible(self, queryset: QuerySet[M]) -> QuerySet[M]:
        """The rows of `queryset` this principal may see: all for the operator, a client's own
        for a client (rows belong to a client through their OWNER_FIELD foreign key)."""
        if self.is_operator:
            return queryset
        return queryset.filter(**{f"{OWNER_FIELD}_id": self.client_id})


def operator() -> Principal:
    return Principal(name=settings.ROUTER.username)


def credentials_match(username: str, password: str) -> bool:
    """Constant-time comparison of both fields, so timing tells nothing about either."""
    config = settings.ROUTER
    username_ok = hmac.compare_digest(username.encode(), config.username.encode())
    password_ok = hmac.compare_digest(password.encode(), config.password.encode())
    return username_ok & password_ok


def parse_basic_header(header: str | bytes | None) -> tuple[str, str] | None:
    if not header:
        return None
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError:  # not base64 (binascii.Error), not ASCII to begin with, not UTF-8
        return None
    username, colon, password = decoded.partition(":")
    return (username, password) if colon else None


def basic_credentials_valid(header: str | bytes | None) -> bool:
    parsed = parse_basic_header(header)
    return parsed is not None and credentials_match(*parsed)


@dataclass(frozen=True)
class Presented:
    """The credentials a request carries: an Authorization header, else a `token` parameter."""

    header: str | None
    token: str | None

    @classmethod
    def of(cls, header: str | bytes | None, query_string: str | bytes) -> Presented:
        if isinstance(header, bytes):
            header = header.decode("latin-1")
        if isinstance(query_string, bytes):
            query_string = query_string.decode("latin-1")
        tokens = parse_qs(query_string).get(TOKEN_PARAM) if TOKEN_PARAM in query_string else None
        return cls(header=header or None, token=tokens[0] if tokens else None)

    @property
    def is_basic(self) -> bool:
        return self.header is not None and self.header.partition(" ")[0].lower() == "basic"

    @property
    def key(self) -> str | None:
        """The API key presented, if the credentials are one (None for Basic or nothing)."""
        if self.header is None:
            return self.token
        scheme, _, key = self.header.partition(" ")
        return key.strip() if scheme.lower() == "bearer" and key.strip() else None


@functools.cache
def _key_principal() -> Callable[[str], Principal | None]:
    path = getattr(settings, "API_KEY_PRINCIPAL", None)
    return import_string(path) if path else (lambda key: None)


def principal_for(presented: Presented) -> Principal | None:
    """The principal the credentials stand for; None for missing, malformed, unknown or revoked
    ones alike (a key costs one indexed query; Basic none)."""
    if presented.is_basic:
        return operator() if basic_credentials_valid(presented.header) else None
    key = presented.key
    return None if key is None else _key_principal()(key)


def unauthorized_response() -> JsonResponse:
    """The one 401, whatever was wrong: nothing tells whether a key exists."""
    response = JsonResponse(
        {
            "message": "Authentication required: use HTTP Basic auth or an API key "
            "(Authorization: Bearer <key>).",
            "detail": {},
        },
        status=401,
    )
    response["WWW-Authenticate"] = f"{REALM}, {KEY_REALM}"
    return response


def forbidden_response() -> JsonResponse:
    return JsonResponse(
        {"message": "This route is for the operator only, not for API keys.", "detail": {}},
        status=403,
    )


def operator_user() -> Any:
    """The superuser that stands for the configured credentials in the admin. Its password is
    unusable: the credentials come from the environment, so the admin offers no "Change password"
    (a form that could only refuse the right password)."""
    user, _ = get_user_model().objects.get_or_create(
        username=settings.ROUTER.username,
        defaults={
            "is_staff": True,
            "is_superuser": True,
            "is_active": True,
            "password": make_password(None),
        },
    )
    if not (user.is_staff and user.is_superuser and user.is_active) or user.has_usable_password():
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_unusable_password()
        user.save(update_fields=["is_staff", "is_superuser", "is_active", "password"])
    return user


class RouterCredentialsBackend(BaseBackend):
    """Lets the admin login form accept the router's credentials; there are no other accounts."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None
    ) -> Any:
        if username is None or password is None or not credentials_match(username, password):
            return None
        return operator_user()

    def get_user(self, user_id: int) -> Any:
        user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
        if user is None or user.username != settings.ROUTER.username:
            return None  # the credentials changed since this session was opened
        return user


class BasicAuthMiddleware:
    """Refuses every request without valid credentials (Basic or an API key), except
    PUBLIC_PATHS and the admin's own login flow (the admin redirects anonymous visitors to its
    form); refuses an API key on OPERATOR_ONLY paths and the admin. Sets `request.principal`
    (None on public paths and on admin pages reached through the admin's session)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.principal = None  # type: ignore[attr-defined]
        path = request.path_info
        if PUBLIC_PATHS.match(path):
            return self.get_response(request)
        presented = Presented.of(
            request.META.get("HTTP_AUTHORIZATION"), request.META.get("QUERY_STRING", "")
        )
        if path.startswith(ADMIN_PREFIX) and presented.key is None:
            return self.admin(request, presented)
        principal = principal_for(presented)
        if principal is None:
            return unauthorized_response()
        if not principal.is_operator and (
            OPERATOR_ONLY.match(path) or path.startswith(ADMIN_PREFIX)
        ):
            return forbidden_response()
        request.principal = principal  # type: ignore[attr-defined]
        return self.get_response(request)

    def admin(self, request: HttpRequest, presented: Presented) -> HttpResponse:
        if presented.is_basic and basic_credentials_valid(presented.header):
            request.principal = operator()  # type: ignore[attr-defined]
            if not request.user.is_authenticated:
                login(request, operator_user(), backend=settings.AUTHENTICATION_BACKENDS[0])
        return self.get_response(request)


class RouterUser:
    """The API's authenticated user, standing for a principal; not stored anywhere, so API
    requests never touch the users table."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.username = principal.name

    def __str__(self) -> str:
        return self.username


class RouterBasicAuthentication(authentication.BasicAuthentication):
    """DRF's view of the operator's Basic auth (it also makes drf-spectacular declare
    `basicAuth`)."""

    www_authenticate_realm = "Comfy Router"

    def authenticate_credentials(
        self, userid: str, password: str, request: Any = None
    ) -> tuple[RouterUser, None]:
        if not credentials_match(userid, password):
            raise exceptions.AuthenticationFailed("Invalid username or password.")
        return RouterUser(operator()), None


class RouterKeyAuthentication(authentication.BaseAuthentication):
    """DRF's view of an API key: the middleware checked it and set the request's principal."""

    def authenticate(self, request: Any) -> tuple[RouterUser, None] | None:
        principal = getattr(request, "principal", None)
        if principal is None or principal.is_operator:
            return None
        return RouterUser(principal), None

    def authenticate_header(self, request: Any) -> str:
        return KEY_REALM


class RouterKeyScheme(OpenApiAuthenticationExtension):
    """Declares the two ways to present a key: either one will do."""

    target_class = RouterKeyAuthentication
    name = ["bearerAuth", "tokenAuth"]

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        return [{"bearerAuth": []}, {"tokenAuth": []}]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return [
            {"type": "http", "scheme": "bearer", "description": "A client's API key."},
            {
                "type": "apiKey",
                "in": "query",
                "name": TOKEN_PARAM,
                "description": "A client's API key, where no header can be set.",
            },
        ]


class WebsocketBasicAuthMiddleware:
    """Channels middleware: a websocket handshake without valid credentials (Basic, or an API
    key as a Bearer header or `?token=`) is refused with close code 4401. Sets
    `scope["principal"]` (and `scope["user"]`)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        headers = dict(scope.get("headers") or [])
        presented = Presented.of(headers.get(b"authorization"), scope.get("query_string", b""))
        if presented.is_basic or presented.key is None:
            principal = principal_for(presented)
        else:  # a key is looked up in the database
            principal = await database_sync_to_async(principal_for)(presented)
        if principal is None:
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 4401})
            return None
        scope = dict(scope, user=RouterUser(principal), principal=principal)
        return await self.inner(scope, receive, send)
