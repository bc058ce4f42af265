"""Throwaway PostgreSQL and Redis servers on loopback ports for the scale-out tests.

Session fixtures start them once per test process (each pytest-xdist worker has its own, on its
own ports and directories) from the Debian binaries (which `scripts/install-system-deps`
installs) and stop them at the end; tests skip with the reason when a binary is missing.
PostgreSQL refuses to run as root, so as root the cluster belongs to an unprivileged user.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.live_router import free_port

POSTGRES_LIB = Path("/usr/lib/postgresql")
UNPRIVILEGED_USERS = ("postgres", "nobody")
PR_SET_PDEATHSIG = 1


def postgres_bin_dir() -> Path | None:
    """The newest installed server's bin dir (Debian keeps them per major version), else PATH."""
    versions = sorted(
        (path for path in POSTGRES_LIB.glob("*/bin") if (path / "initdb").is_file()),
        key=lambda path: [int(part) for part in re.findall(r"\d+", path.parent.name)] or [0],
    )
    if versions:
        return versions[-1]
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def run_as() -> str | None:
    """The user to run PostgreSQL as: ourselves, or an unprivileged account when we are root."""
    if os.geteuid() != 0:
        return None
    for name in UNPRIVILEGED_USERS:
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    return None


@dataclass
class PostgresServer:
    port: int
    user: str = "router"

    def url(self, database: str) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{database}"

    def answers(self) -> bool:
        import psycopg

        try:
            psycopg.connect(self.url("postgres"), connect_timeout=2).close()
            return True
        except psycopg.OperationalError:
            return False

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@dataclass
class RedisServer:
    port: int

    def url(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"


def die_with_parent() -> None:
    """Runs in the child before exec: the kernel kills it if the test process dies first, so a
    crashed or interrupted run leaves no server behind."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def stop(process: subprocess.Popen[bytes], sig: int) -> None:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_until(check: Callable[[], bool], what: str, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    output = log.read_text(errors="replace")
    raise RuntimeError(f"{what} did not start within {timeout}s:\n{output}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (scripts/install-system-deps installs it)")
    user = run_as()
    if os.geteuid() == 0 and user is None:
        pytest.skip("running as root and no unprivileged user to run PostgreSQL as")
    base = Path(tempfile.mkdtemp(prefix="comfy-router-postgres-"))
    base.chmod(0o755)
    data, log = base / "data", base / "postgres.log"
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    port = free_port()
    subprocess.run(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", "router", "--auth=trust", "-E", "UTF8"],
        check=True, capture_output=True, user=user, cwd=base, timeout=120,
    )
    with log.open("ab") as output:
        process = subprocess.Popen(
            [str(bin_dir / "postgres"), "-D", str(data), "-c", "listen_addresses=127.0.0.1",
             "-c", f"port={port}", "-c", f"unix_socket_directories={base}", "-c", "fsync=off",
             "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=200"],
            stdout=output, stderr=subprocess.STDOUT, user=user, cwd=base,
            preexec_fn=die_with_parent,
        )
    server = PostgresServer(port=port)
    try:
        _wait_until(server.answers, "PostgreSQL", log)
        yield server
    finally:
        stop(process, signal.SIGINT)  # fast shutdown
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (scripts/install-system-deps installs it)")
    base = Path(tempfile.mkdtemp(prefix="comfy-router-redis-"))
    log = base / "redis.log"
    port = free_port()
    with log.open("ab") as output:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
             "no", "--daemonize", "no", "--dir", str(base)],
            stdout=output, stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
        )

    def answers() -> bool:
        import redis

        try:
            return bool(redis.Redis(port=port, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    try:
        _wait_until(answers, "redis-server", log)
        yield RedisServer(port=port)
    finally:
        stop(process, signal.SIGTERM)
        shutil.rmtree(base, ignore_errors=True)
