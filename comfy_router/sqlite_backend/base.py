"""Django's SQLite backend, with this process's write transactions taking turns on a lock.

SQLite lets one connection write at a time, and every transaction here starts with
`BEGIN IMMEDIATE`. One that finds the file locked sleeps and tries again (1, 2, 5, 10 ... ms),
so when many request threads submit at once they spent much of their time asleep while the lock
sat free. The writers of one process queue on a lock of their own instead and start the moment
it is let go; between processes, SQLite's lock and its busy timeout decide as before.
"""

from __future__ import annotations

import threading
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base

WRITE_TURN_TIMEOUT = 30.0  # seconds, as the busy timeout
_write_turn = threading.Lock()


class DatabaseWrapper(base.DatabaseWrapper):
    holds_write_turn = False

    def _start_transaction_under_autocommit(self) -> None:
        if not _write_turn.acquire(timeout=WRITE_TURN_TIMEOUT):
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
            _write_turn.release()
