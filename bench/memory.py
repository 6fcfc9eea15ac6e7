"""Scenario 6: RSS of each process we run, sampled at every phase of the run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.procs import largest_member_rss, tree_sample
from bench.report import Target

RSS_LIMIT_MB = 200.0
# "No growth": the second half may add at most this much (allocator noise, lazily built caches).
GROWTH_SLACK_MB = 5.0
GROWTH_SLACK_FRACTION = 0.05
# Processes the targets are about (PostgreSQL and the bench's own are reported, not judged).
JUDGED = ("gateway", "payment-ms", "dispatcher")


@dataclass
class MemoryTracker:
    samples: dict[str, list[tuple[str, float, float]]] = field(default_factory=dict)

    def sample(self, phase: str, pids: dict[str, int]) -> None:
        for name, pid in pids.items():
            largest = largest_member_rss(pid)
            if largest <= 0:
                continue
            self.samples.setdefault(name, []).append((phase, largest, tree_sample(pid).rss_mb))

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, series in self.samples.items():
            mid = series[(len(series) - 1) // 2]
            out[name] = {
                "start_mb": round(series[0][1], 1),
                "mid_mb": round(mid[1], 1),
                "mid_phase": mid[0],
                "end_mb": round(series[-1][1], 1),
                "peak_mb": round(max(s[1] for s in series), 1),
                "tree_end_mb": round(series[-1][2], 1),
                "second_half_growth_mb": round(series[-1][1] - mid[1], 1),
                "series": [
                    {"phase": p, "largest_mb": round(r, 1), "tree_mb": round(t, 1)} for p, r, t in series
                ],
            }
        return out

    def targets(self) -> list[Target]:
        found = []
        summary = self.summary()
        for name in JUDGED:
            mem = summary.get(name)
            if mem is None:
                continue
            found.append(Target(f"{name} peak RSS MB", mem["peak_mb"], "<=", RSS_LIMIT_MB))
            allowed = max(GROWTH_SLACK_MB, GROWTH_SLACK_FRACTION * mem["mid_mb"])
            found.append(
                Target(f"{name} second-half growth MB", mem["second_half_growth_mb"], "<=", round(allowed, 1))
            )
        return found
