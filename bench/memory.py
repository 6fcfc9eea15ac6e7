"""Scenario 6: RSS of each process we run, sampled at every phase of the run.

"No growth" compares samples taken right after phases that LOADED the process (its own scenarios):
the middle one against the last, so a leak under load shows even if the process idles afterwards."""

from __future__ import annotations

from collections.abc import Collection
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
    samples: dict[str, list[tuple[str, float, float, bool]]] = field(default_factory=dict)

    def sample(self, phase: str, pids: dict[str, int], loaded: Collection[str] = ()) -> None:
        """``loaded``: the processes the phase just put under load."""
        for name, pid in pids.items():
            largest = largest_member_rss(pid)
            if largest <= 0:
                continue
            self.samples.setdefault(name, []).append(
                (phase, largest, tree_sample(pid).rss_mb, name in loaded)
            )

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, series in self.samples.items():
            under_load = [s for s in series if s[3]] or series
            mid, last = under_load[(len(under_load) - 1) // 2], under_load[-1]
            out[name] = {
                "start_mb": round(series[0][1], 1),
                "mid_mb": round(mid[1], 1),
                "mid_phase": mid[0],
                "end_mb": round(series[-1][1], 1),
                "peak_mb": round(max(s[1] for s in series), 1),
                "tree_end_mb": round(series[-1][2], 1),
                "last_loaded_phase": last[0],
                "second_half_growth_mb": round(last[1] - mid[1], 1),
                "series": [
                    {"phase": p, "largest_mb": round(r, 1), "tree_mb": round(t, 1), "loaded": loaded}
                    for p, r, t, loaded in series
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
