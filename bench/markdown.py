"""``python -m bench.markdown [results.json]``: a results file as the Markdown tables of BENCHMARKS.md."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.config import RESULTS_DIR

SERVICES = ("gateway", "payment-ms", "floor", "dispatcher", "raw-sender", "postgres")


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _targets(targets: list[dict[str, Any]]) -> str:
    cells = []
    for t in targets:
        mark = "not measured" if t["met"] is None else ("**met**" if t["met"] else "**MISSED**")
        value = "-" if t["value"] is None else f"{t['value']:,.2f}"
        cells.append(f"{t['name']} {t['op']} {t['threshold']:g}: {value} {mark}")
    return "<br>".join(cells)


def render(data: dict[str, Any]) -> str:
    lines = [
        "| scenario | what | rate/s | p50 ms | p99 ms | n | errors | ratio (baseline) "
        "| CPU ms/req (service) | targets |",
        "|---|---|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for r in data["results"]:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}x ({r['baseline']})"
        cpu = r["details"].get("cpu_ms_per_request") or {}
        cpu_cell = ", ".join(f"{k} {v:.2f}" for k, v in cpu.items() if v >= 0.005 and k in SERVICES)
        name = f"_{r['name']}_" if r["is_baseline"] else f"**{r['name']}**"
        lines.append(
            f"| {name} | {r['title']} | {_num(r['throughput'])} | {_num(r['p50_ms'])} | {_num(r['p99_ms'])} "
            f"| {r['count']} | {r['errors']} | {ratio} | {cpu_cell} | {_targets(r['targets'])} |"
        )
    lines += [
        "",
        "| process | RSS start MB | mid MB | end MB | peak MB | second-half growth MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, mem in data["memory"].items():
        lines.append(
            f"| {name} | {_num(mem['start_mb'])} | {_num(mem['mid_mb'])} | {_num(mem['end_mb'])} "
            f"| {_num(mem['peak_mb'])} | {_num(mem['second_half_growth_mb'])} |"
        )
    summary = data["summary"]
    lines += ["", f"Targets met: {summary['targets_met']}/{summary['targets_total']}."]
    if summary["targets_missed"]:
        lines.append("Missed: " + "; ".join(summary["targets_missed"]) + ".")
    for note in data.get("notes", []):
        lines.append(f"Note: {note}")
    return "\n".join(lines)


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS_DIR / "latest.json"
    print(render(json.loads(path.read_text())))


if __name__ == "__main__":
    main()
