"""Django settings. Everything an operator may change comes from `COMFY_ROUTER__*` (see config.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import environ

from comfy_router.config import (
    channel_layer_settings,
    database_settings,
    load_config,
)
from comfy_router.directory_checks import StartupCheckFailed, database_directory_made
from comfy_router.logs import logging_settings

BASE_DIR = Path(__file__).resolve().parent.parent

if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

ROUTER = load_config()

SECRET_KEY = environ.Env().str("DJANGO_SECRET_KEY", default="") or (
    "comfy-router:" + ROUTER.username + ":" + ROUTER.password
)
DEBUG = False
ALLOWED_HOSTS = ["*"]
if ROUTER.trust_forwarded_proto:  # behind a TLS-terminating proxy that sets it
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "comfy_router",
    "nodes",
    "workflows",
    "downloads",
    "clients",
]

MIDDLEWARE = [
    "comfy_router.errors.JsonErrorMiddleware",
    "comfy_router.limits.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "comfy_router.auth.BasicAuthMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

AUTHENTICATION_BACKENDS = ["comfy_router.auth.RouterCredentialsBackend"]
# How comfy_router.auth checks an API key: a dotted path, as the project package imports no app.
API_KEY_PRINCIPAL = "clients.auth.principal_for_key"

ROOT_URLCONF = "comfy_router.urls"
ASGI_APPLICATION = "comfy_router.asgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

try:
    database_directory_made(ROUTER)
except StartupCheckFailed as problem:
    # Before Django is set up, where an exception would be a traceback: one line, like a bad
    # value's (manage.py).
    sys.exit(f"comfy-router: {problem}")
DATABASES = {"default": database_settings(ROUTER)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
CHANNEL_LAYERS = channel_layer_settings(ROUTER)

DATA_UPLOAD_MAX_MEMORY_SIZE = ROUTER.max_request_bytes
FILE_UPLOAD_MAX_MEMORY_SIZE = ROUTER.max_request_bytes

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# Admin and Swagger UI assets are served by WhiteNoise straight from the installed apps.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = False

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "comfy_router.auth.RouterBasicAuthentication",
        "comfy_router.auth.RouterKeyAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["comfy_router.parsers.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "comfy_router.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Comfy Router",
    "DESCRIPTION": "One front door for a pool of ComfyUI servers.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choices used by several serializers get a readable name, not a hash suffix (`StatusF99Enum`).
    "ENUM_NAME_OVERRIDES": {
        "TaskStatusEnum": "workflows.models.Task.Status",
        "WorkflowTypeEnum": "workflows.models.Task.Type",
        "NodeStatusEnum": "nodes.models.Node.Status",
    },
    "SECURITY": [{"basicAuth": []}],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "comfy_router.openapi.document_error_responses",
    ],
    "APPEND_COMPONENTS": {
        "securitySchemes": {"basicAuth": {"type": "http", "scheme": "basic"}},
    },
}

LOGGING = logging_settings(ROUTER)

# Background work started by `serve` (and by `worker` in scale-out) beyond what each app's
# AppConfig declares (see comfy_router/background.py): dotted paths to
# `async def run(stop: asyncio.Event) -> None`, and channel name -> worker consumer.
COMFY_ROUTER_BACKGROUND_SERVICES: list[str] = []
COMFY_ROUTER_WORKER_CHANNELS: dict[str, str] = {}
