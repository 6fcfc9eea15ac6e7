"""RSS and CPU time of the processes under test, read from /proc (Linux only, like the bench)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ProcSample:
    pid: int
    rss_mb: float
    cpu_seconds: float


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may contain spaces: split after the closing parenthesis.
    return raw[raw.rindex(")") + 2 :].split()


def sample(pid: int) -> ProcSample | None:
    fields = _stat_fields(pid)
    if fields is None:
        return None
    # fields[0] is field 3 (state) of proc(5): utime 14, stime 15, cutime 16, cstime 17, rss 24.
    # cutime/cstime hold the children already reaped (PostgreSQL backends that exited), so a tree's
    # CPU time never goes backwards when a member exits.
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    rss_pages = int(fields[21])
    return ProcSample(pid, rss_pages * PAGE_BYTES / 1_048_576, ticks / CLOCK_TICKS)


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (granian's workers, the postmaster's backends)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def tree(pid: int) -> list[int]:
    """``pid`` and every descendant."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo.extend(children(current))
    return pids


def tree_sample(pid: int) -> ProcSample:
    """One process and its descendants summed: the RSS a service costs, its CPU time."""
    rss = cpu = 0.0
    for member in tree(pid):
        found = sample(member)
        if found is not None:
            rss += found.rss_mb
            cpu += found.cpu_seconds
    return ProcSample(pid, rss, cpu)


def largest_member_rss(pid: int) -> float:
    """The biggest single process of a tree (the 200 MB target is per process)."""
    sizes = [s.rss_mb for s in (sample(p) for p in tree(pid)) if s is not None]
    return max(sizes, default=0.0)
