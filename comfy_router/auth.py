"""One set of credentials (COMFY_ROUTER__USERNAME / __PASSWORD) guards the API, websockets and admin.

Every path needs HTTP Basic auth except the few in PUBLIC_PATHS. The admin also accepts its own login
form, backed by the same credentials, and the operator's superuser is created on first login.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from typing import Any, Callable

from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.hashers import make_password
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import authentication, exceptions

PUBLIC_PATHS = re.compile(r"^/((health_check|preview/[^/]+(/image)?)/?)?$")
ADMIN_PREFIX = "/admin/"
REALM = 'Basic realm="Comfy Router", charset="UTF-8"'


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
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, password = decoded.partition(":")
    return (username, password) if colon else None


def basic_credentials_valid(header: str | bytes | None) -> bool:
    parsed = parse_basic_header(header)
    return parsed is not None and credentials_match(*parsed)


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


def unauthorized_response() -> JsonResponse:
    response = JsonResponse(
        {"message": "Authentication required: use HTTP Basic auth.", "detail": {}}, status=401
    )
    response["WWW-Authenticate"] = REALM
    return response


class BasicAuthMiddleware:
    """Refuses every request without valid Basic credentials, except PUBLIC_PATHS and the admin's
    own login flow (the admin redirects anonymous visitors to its form)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if PUBLIC_PATHS.match(path):
            return self.get_response(request)
        header = request.META.get("HTTP_AUTHORIZATION")
        if path.startswith(ADMIN_PREFIX):
            if header and basic_credentials_valid(header) and not request.user.is_authenticated:
                login(request, operator_user(), backend=settings.AUTHENTICATION_BACKENDS[0])
            return self.get_response(request)
        if not basic_credentials_valid(header):
            return unauthorized_response()
        return self.get_response(request)


class RouterUser:
    """The API's authenticated principal; not stored anywhere, so API requests never touch the
    users table."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False

    def __init__(self, username: str) -> None:
        self.username = username

    def __str__(self) -> str:
        return self.username


class RouterBasicAuthentication(authentication.BasicAuthentication):
    """DRF's view of the same Basic auth (it also makes drf-spectacular declare `basicAuth`)."""

    www_authenticate_realm = "Comfy Router"

    def authenticate_credentials(
        self, userid: str, password: str, request: Any = None
    ) -> tuple[RouterUser, None]:
        if not credentials_match(userid, password):
            raise exceptions.AuthenticationFailed("Invalid username or password.")
        return RouterUser(userid), None


class WebsocketBasicAuthMiddleware:
    """Channels middleware: a websocket handshake without valid Basic credentials is refused (403)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        headers = dict(scope.get("headers") or [])
        if not basic_credentials_valid(headers.get(b"authorization")):
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 4401})
            return None
        scope = dict(scope, user=RouterUser(settings.ROUTER.username))
        return await self.inner(scope, receive, send)
