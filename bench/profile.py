"""Optional py-spy profiles of the services while a scenario runs (``BENCH_PROFILE=checkout.gateway``,
a comma-separated list of scenario names, or ``all``).

py-spy samples from outside the process (``--nonblocking``: the target is never paused), 100 times a
second, only threads that are running; it costs some CPU of its own, so a profiled scenario is marked
``profiled`` and its figures are not the ones to quote. Collapsed stacks are kept in
``bench/results/profile-<scenario>-<process>.txt`` (feed them to any flame graph tool) and the
hottest functions, by own time and by inclusive time, go into the result's details.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.config import RESULTS_DIR

PROFILED = ("gateway", "payment-ms", "dispatcher")
TOP = 15


def wanted(scenario: str) -> bool:
    raw = os.environ.get("BENCH_PROFILE", "")
    names = {n.strip() for n in raw.split(",") if n.strip()}
    return "all" in names or scenario in names


def _py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return found if Path(found).exists() else None


def _package(frame: str) -> str:
    """``func (sqlalchemy/engine/base.py)`` -> ``sqlalchemy``: where a sample's own time goes."""
    match = re.search(r"\(([^)]*)\)$", frame)
    location = match.group(1) if match else frame
    return location.split("/", 1)[0] if "/" in location else location


def summarize(path: Path, top: int = TOP) -> dict[str, Any]:
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        # drop py-spy's "process …" / "thread …" prefixes: keep the Python frames
        frames = [f for f in stack.split(";") if not re.match(r"^(process|thread) ", f)]
        if not frames:
            continue
        total += samples
        own[frames[-1]] += samples
        packages[_package(frames[-1])] += samples
        for frame in set(frames):
            inclusive[frame] += samples

    def share(counter: Counter[str]) -> list[dict[str, Any]]:
        ranked = counter.most_common(top)
        return [{"frame": frame, "share": round(n / total, 3), "samples": n} for frame, n in ranked]

    return {
        "samples": total,
        "own_time_by_package": share(packages),
        "own_time": share(own),
        "inclusive_time": share(inclusive),
    }


@contextmanager
def profiling(scenario: str, pids: dict[str, int]) -> Iterator[dict[str, Any]]:
    """Profile the services of ``pids`` while the body runs (py-spy stops on SIGINT and writes its
    file); the yielded dict fills with one summary per process once the body is done."""
    summaries: dict[str, Any] = {}
    py_spy = _py_spy() if wanted(scenario) else None
    if py_spy is None:
        if wanted(scenario):
            summaries["error"] = "py-spy not installed (uv sync installs the dev group)"
        yield summaries
        return
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    running: list[tuple[str, Path, subprocess.Popen[bytes]]] = []
    for name in PROFILED:
        pid = pids.get(name)
        if pid is None:
            continue
        output = RESULTS_DIR / f"profile-{scenario}-{name}.txt"
        command = [
            py_spy, "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--nolineno",
            "--rate", "100", "--format", "raw",
            "--output", str(output),
        ]  # fmt: skip
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        running.append((name, output, proc))
    try:
        yield summaries
    finally:
        for _name, _output, proc in running:
            proc.send_signal(signal.SIGINT)
        for name, output, proc in running:
            try:
                _out, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                _out, err = proc.communicate()
            if output.exists():
                summaries[name] = {"file": str(output), **summarize(output)}
            else:
                summaries[name] = {"error": err.decode(errors="replace")[-500:]}


def print_profile(scenario: str, profiles: dict[str, Any], top: int = 8) -> None:
    for name, summary in profiles.items():
        if not isinstance(summary, dict) or "own_time" not in summary:
            print(f"[bench] profile {scenario}/{name}: {summary}", flush=True)
            continue
        if not summary["samples"]:  # idle during this scenario
            continue
        packages = ", ".join(
            f"{row['frame']} {row['share']:.0%}" for row in summary["own_time_by_package"][:top]
        )
        print(f"[bench] profile {scenario}/{name} ({summary['samples']} samples): {packages}", flush=True)
        for row in summary["own_time"][:top]:
            print(f"          {row['share']:6.1%}  {row['frame']}", flush=True)
