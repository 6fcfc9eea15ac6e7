"""Scenario 5: a healthy partner beside one that never answers, and its control beside a fast one."""

from __future__ import annotations

from typing import Any

from bench.dispatch_batches import cpu_delta, log
from bench.dispatch_harness import DispatchHarness
from bench.report import Result, Target
from bench.seed import enable_only


async def _isolation_control(bench: DispatchHarness, healthy: Any, events: int) -> Result | None:
    """The healthy partner beside a second FAST one: the same fan-out (two deliveries per event) as
    beside the hanging partner, but the dispatcher also sends the second partner's 20,000. A
    diagnostic, not one of the issue's targets: beside the hanging partner the healthy one should
    do at least as well as here, since the hanging one only ever holds its own few slots."""
    second = bench.partners.get("fast-2")
    if second is None:
        return None
    before = bench.begin()
    outcomes, _complete, _ = await bench.run_batch(
        "isolation.healthy_beside_fast", [healthy, second], [healthy], events
    )
    control = bench.result(
        "isolation.healthy_beside_fast",
        f"{events} events -> the healthy partner beside a second fast one (control: same fan-out)",
        outcomes,
        events,
        cpu_delta(before, bench.stack.cpu_seconds()),
    )
    control.is_baseline = True
    control.details["diagnostic"] = True
    bench.report.add(control)
    bench.report.relate(control.name, "dispatch.one_partner")
    await bench.quiesce()
    return control


async def isolation(bench: DispatchHarness, events: int) -> None:
    healthy, hanging = bench.partners["fast-1"], bench.partners["hang-1"]
    control = await _isolation_control(bench, healthy, events)
    before = bench.begin()
    outcomes, _complete, _ = await bench.run_batch(
        "isolation.healthy_beside_hanging", [healthy, hanging], [healthy], events
    )
    cpu = cpu_delta(before, bench.stack.cpu_seconds())
    hung = int(bench.client.get(f"{bench.base}/counts").json()["hung"].get(hanging.name, 0))
    timed_out = await bench.attempts_with_error(hanging, "timeout")
    result = bench.result(
        "isolation.healthy_beside_hanging",
        f"{events} events -> a healthy partner beside one that never answers",
        outcomes,
        events,
        cpu,
    )
    result.details["hanging_partner_requests_open"] = hung
    result.details["hanging_partner_attempts_timed_out"] = timed_out
    result.details["compared_with"] = "dispatch.one_partner"
    bench.report.add(result)
    ratio = bench.report.relate(result.name, "dispatch.one_partner")
    reference = bench.report.get("dispatch.one_partner")
    p99_ratio = (
        (result.p99_ms / reference.p99_ms) if reference and reference.p99_ms and result.p99_ms else None
    )
    result.details["p99_ratio_to_one_partner"] = p99_ratio
    result.targets = [Target("healthy throughput ratio", ratio, ">=", 0.9)]
    if control is not None and control.throughput:
        # Against scenario 3 the hanging partner also doubles the rows fanned out and scanned; the
        # control has that database work too (and twice the sending).
        result.details["ratio_to_control"] = result.throughput / control.throughput
    log(
        f"isolation: healthy {result.throughput:,.0f} deliveries/s (ratio {ratio or 0:.2f}), "
        f"p99 {result.p99_ms:.0f} ms; hanging partner holds {hung} open requests, "
        f"{timed_out} of its attempts timed out; "
        f"{result.details.get('ratio_to_control') or 0:.2f}x the control beside a fast partner"
    )
    conn = await bench.connect()
    try:
        await enable_only(conn, [])
    finally:
        await conn.close()
    await bench.quiesce()
