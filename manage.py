#!/usr/bin/env python
"""Django's command-line utility for Comfy Router."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "comfy_router.settings")
    from django.core.exceptions import ImproperlyConfigured

    from comfy_router.config import load_config

    try:
        load_config()
    except ImproperlyConfigured as error:
        sys.exit(f"comfy-router: configuration error: {error}")

    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
