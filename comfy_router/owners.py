"""Who holds a piece of work (a task's lease, a cache entry's download): one id per process,
and one per job it takes on, so that two jobs of one process are still told apart and a job of
a process that died is known as such."""

from __future__ import annotations

import os
import secrets
import socket

PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def new_owner() -> str:
    """An owner for one job of this process: PROCESS_ID and a token of its own."""
    return f"{PROCESS_ID}:{secrets.token_hex(8)}"


def owner_token(owner: str) -> str:
    """The job's own part of an owner: unique, and safe in a file name."""
    return owner.rsplit(":", 1)[-1]
