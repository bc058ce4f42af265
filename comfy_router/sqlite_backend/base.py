"""Django's SQLite backend, with this process's write transactions taking turns on a lock.

SQLite lets one connection write at a time, and every transaction here starts with
`BEGIN IMMEDIATE`. One that finds the file locked sleeps and tries again (1, 2, 5, 10 ... ms),
so when many request threads submit at once they spent much of their time asleep while the lock
sat free. The writers of one process queue on a lock of their own instead and start the moment
it is let go; between processes, SQLite's lock and its busy timeout decide as before.

Django has no public hook for "a transaction starts / ends", so this overrides four private
methods of its database wrapper, as Django 5.2.19 names them (django/db/backends/base/base.py,
django/db/backends/sqlite3/base.py): listed in README "Patches to dependencies". Should Django
rename one, the override would silently stop running, and a turn taken would never be given
back; so the backend refuses to load, naming the method, instead.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError
from django.db.backends.sqlite3 import base

WRITE_TURN_TIMEOUT = 30.0  # seconds, as the busy timeout
write_turn = threading.Lock()

PRIVATE_HOOKS = ("_start_transaction_under_autocommit", "_commit", "_rollback", "_close")


def check_private_hooks() -> None:
    """Raises ImproperlyConfigured if Django's SQLite wrapper lacks a method overridden here."""
    for name in PRIVATE_HOOKS:
        if not callable(getattr(base.DatabaseWrapper, name, None)):
            raise ImproperlyConfigured(
                "comfy_router.sqlite_backend cannot take write turns: "
                f"django.db.backends.sqlite3.base.DatabaseWrapper has no {name} "
                "(written for Django 5.2.19)"
            )


check_private_hooks()


class DatabaseWrapper(base.DatabaseWrapper):
    holds_write_turn = False

    def _start_transaction_under_autocommit(self) -> None:
        if not write_turn.acquire(timeout=WRITE_TURN_TIMEOUT):
            raise OperationalError("database is locked: another write held it too long")
        self.holds_write_turn = True
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._end_write_turn()
            raise

    def _commit(self) -> Any:
        try:
            return super()._commit()
        finally:
            self._end_write_turn()

    def _rollback(self) -> Any:
        try:
            return super()._rollback()
        finally:
            self._end_write_turn()

    def _close(self) -> Any:
        try:
            return super()._close()
        finally:
            self._end_write_turn()

    def _end_write_turn(self) -> None:
        if self.holds_write_turn:
            self.holds_write_turn = False
            write_turn.release()
