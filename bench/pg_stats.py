"""What the bench reads from its PostgreSQL: statements run through ``psql``, pg_stat_statements'
totals and their difference between two moments, and the postmaster's pid (for CPU accounting)."""

from __future__ import annotations

import contextlib
import subprocess
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.embedded_pg import EmbeddedPostgres


def psql(server: EmbeddedPostgres, sql: str) -> str:
    from shared.embedded_pg import POSTGRES_BIN_PATH

    command = [str(POSTGRES_BIN_PATH / "psql"), "-h", server.host, "-p", str(server.port)]
    command += ["-U", "postgres", "-d", "paygate", "-At", "-F", "\t", "-c", sql]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def statement_totals(server: EmbeddedPostgres) -> dict[str, tuple[str, int, float, int]]:
    """PostgreSQL's per-statement totals now (queryid -> query, calls, total ms, rows)."""
    found = {}
    sql = "SELECT queryid, calls, total_exec_time, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 160)"
    for line in psql(server, sql + " FROM pg_stat_statements").splitlines():
        queryid, calls, total_ms, rows, query = line.split("\t", 4)
        found[queryid] = (query, int(calls), float(total_ms), int(rows))
    return found


def postmaster_pid(server: EmbeddedPostgres) -> int | None:
    pid_file = server.pgdata / "postmaster.pid"
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(pid_file.read_text().splitlines()[0])
    return None


def statements_between(
    before: dict[str, tuple[str, int, float, int]],
    after: dict[str, tuple[str, int, float, int]],
    top: int = 8,
) -> list[dict[str, object]]:
    """The statements PostgreSQL spent most time executing between two ``Stack.statements()``."""
    spent = []
    for queryid, (query, calls, total_ms, rows) in after.items():
        _, calls0, total0, rows0 = before.get(queryid, (query, 0, 0.0, 0))
        if calls > calls0:
            ms = total_ms - total0
            spent.append(
                {
                    "query": query,
                    "calls": calls - calls0,
                    "total_ms": round(ms, 1),
                    "mean_ms": round(ms / (calls - calls0), 3),
                    "rows": rows - rows0,
                }
            )
    return sorted(spent, key=lambda s: -float(s["total_ms"]))[:top]  # type: ignore[arg-type]
