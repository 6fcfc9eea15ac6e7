"""The results: one record per scenario and baseline, targets checked, a table and ``latest.json``."""

from __future__ import annotations

import json
import operator
import platform
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

_OPS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le}


@dataclass
class Target:
    name: str
    value: float | None
    op: str
    threshold: float
    met: bool | None = None

    def __post_init__(self) -> None:
        self.met = None if self.value is None else _OPS[self.op](self.value, self.threshold)


@dataclass
class Result:
    """One measured scenario (or baseline). ``throughput`` is per second in ``unit``."""

    name: str
    title: str
    unit: str
    throughput: float
    p50_ms: float | None
    p99_ms: float | None
    count: int
    errors: int
    baseline: str | None = None
    ratio: float | None = None
    targets: list[Target] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    is_baseline: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    config: dict[str, Any]
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    results: list[Result] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=dict)
    memory_targets: list[Target] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # What the system under test did wrong without breaking the harness (e.g. deliveries missing).
    notes: list[str] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)
    commit: str = ""
    finished_at: str | None = None

    def add(self, result: Result) -> Result:
        self.results.append(result)
        return result

    def get(self, name: str) -> Result | None:
        return next((r for r in self.results if r.name == name), None)

    def relate(self, name: str, baseline: str) -> float | None:
        """Set ``name``'s ratio to ``baseline``'s throughput (same run) and return it."""
        result, base = self.get(name), self.get(baseline)
        if result is None or base is None or not base.throughput:
            return None
        result.baseline = baseline
        result.ratio = result.throughput / base.throughput
        return result.ratio

    def all_targets(self) -> list[tuple[str, Target]]:
        found = [(r.name, t) for r in self.results for t in r.targets]
        found += [("memory", t) for t in self.memory_targets]
        return found

    def as_dict(self) -> dict[str, Any]:
        targets = self.all_targets()
        return {
            "schema_version": SCHEMA_VERSION,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "commit": self.commit,
            "machine": self.machine,
            "config": self.config,
            "results": [r.as_dict() for r in self.results],
            "memory": self.memory,
            "memory_targets": [asdict(t) for t in self.memory_targets],
            "summary": {
                "targets_total": len(targets),
                "targets_met": sum(1 for _, t in targets if t.met),
                "targets_missed": [f"{owner}: {t.name}" for owner, t in targets if t.met is False],
                "targets_unmeasured": [f"{owner}: {t.name}" for owner, t in targets if t.met is None],
            },
            "errors": self.errors,
            "notes": self.notes,
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=2, default=str) + "\n")


def machine_description() -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "python": platform.python_version()}
    try:
        import os

        info["nproc"] = os.cpu_count()
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
        with open("/proc/meminfo") as meminfo:
            total_kb = int(meminfo.readline().split()[1])
        info["ram_gib"] = round(total_kb / 1_048_576, 1)
        info["loadavg_at_start"] = os.getloadavg()
    except (OSError, ValueError, IndexError):
        pass
    return info


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _target_cell(targets: list[Target]) -> str:
    if not targets:
        return ""
    cells = []
    for t in targets:
        mark = "?" if t.met is None else ("ok" if t.met else "MISS")
        cells.append(f"{t.name} {t.op} {t.threshold:g}: {mark}")
    return "; ".join(cells)


def render_table(report: Report) -> str:
    header = ["scenario", "rate/s", "p50 ms", "p99 ms", "n", "err", "ratio (to)", "targets"]
    rows = [header]
    for r in report.results:
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}x ({r.baseline})"
        rows.append(
            [
                ("  " if r.is_baseline else "") + r.name,
                _fmt(r.throughput),
                _fmt(r.p50_ms),
                _fmt(r.p99_ms),
                str(r.count),
                str(r.errors),
                ratio,
                _target_cell(r.targets),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = []
    for idx, row in enumerate(rows):
        cells = [row[i].ljust(widths[i]) for i in range(len(widths))] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
        if idx == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 7)
    if report.memory:
        lines.append("")
        lines.append("memory (RSS MB, largest single process of each tree): start / mid / end")
        for name, mem in report.memory.items():
            lines.append(
                f"  {name:<12} {_fmt(mem.get('start_mb'))} / {_fmt(mem.get('mid_mb'))}"
                f" / {_fmt(mem.get('end_mb'))}"
                f"   (tree total at end {_fmt(mem.get('tree_end_mb'))})"
            )
        if report.memory_targets:
            lines.append("  " + _target_cell(report.memory_targets))
    summary = report.as_dict()["summary"]
    lines.append("")
    lines.append(
        f"targets met: {summary['targets_met']}/{summary['targets_total']}"
        + (f"; missed: {', '.join(summary['targets_missed'])}" if summary["targets_missed"] else "")
        + (
            f"; not measured: {', '.join(summary['targets_unmeasured'])}"
            if summary["targets_unmeasured"]
            else ""
        )
    )
    for note in report.notes:
        lines.append(f"NOTE: {note}")
    for error in report.errors:
        lines.append(f"ERROR: {error}")
    return "\n".join(lines)
