"""The operator's one account comes from the environment, so Django's user and group pages would
only mislead: they are left out of the admin."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.models import Group, User

admin.site.unregister(User)
admin.site.unregister(Group)
