"""``python -m bench`` — run every benchmark, print the tables, update docs/BENCHMARKS.md.

``--quick`` is the seconds-long smoke version CI runs (small rooms, short windows, no docs
written, no thresholds). ``--profile`` also runs the SocketChat relay under cProfile during the
50-member fan-out and prints its top functions. Every loop is bounded in time and count.
"""

from __future__ import annotations

import argparse
import json
import pstats
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import fanout, idle, joins, report
from bench.loadgen import ROOT, BenchError
from crypto.kdf import RoomKeys, derive_room_keys

PASSWORD = "bench password, not a secret"
ROOM_ID = bytes(range(16))


@dataclass(frozen=True)
class Plan:
    sizes: tuple[int, ...]
    capacity_seconds: float
    latency_seconds: float
    presealed: dict[int, int]
    idle_sizes: tuple[int, ...]
    joins: int
    timed_joins: int


FULL = Plan((10, 50, 200), 1.5, 2.0, {10: 12_000, 50: 12_000, 200: 6_000}, (1000, 5000), 300, 30)
QUICK = Plan((10, 50), 0.3, 0.3, {10: 2_000, 50: 2_000}, (200,), 30, 5)
BATCH = 16  # messages per CHAT frame from a busy SocketChat sender (the outbox flush)


def _saturated(relay: float, loadgen: float) -> str:
    sides = [name for name, share in (("relay", relay), ("loadgen", loadgen)) if share >= 0.85]
    return " + ".join(sides) or "neither"


def run_fanout(plan: Plan, keys: RoomKeys, tmp: str, profile: str | None) -> tuple[str, dict]:
    kinds = [("socketchat", BATCH), ("plain", 1), ("plain-coalesced", 1), ("select", 1)]
    cap_rows, lat_rows, results = [], [], {}
    for size in plan.sizes:
        runs = kinds + ([("socketchat", 1)] if size == 50 else [])
        for kind, batch in runs:
            label = kind if kind != "socketchat" else f"socketchat ({batch}/frame)"
            prof = profile if (kind == "socketchat" and size == 50 and batch == BATCH) else None
            room = fanout.open_room(kind, size, keys, tmp, prof)
            try:
                cap = fanout.capacity(
                    room,
                    seconds=plan.capacity_seconds,
                    batch=batch,
                    messages_per_sender=plan.presealed[size],
                )
                lat = None
                if kind != "plain-coalesced" and batch == (BATCH if kind == "socketchat" else 1):
                    lat = fanout.latency(room, members=size, seconds=plan.latency_seconds)
            finally:
                room.close()
            results[(size, label)] = (cap, lat)
            us = cap.relay_cpu / cap.deliveries * 1e6 if cap.deliveries else 0.0
            cap_rows.append(
                [
                    str(size),
                    label,
                    f"{cap.rate:,.0f}",
                    f"{us:.2f}",
                    f"{cap.deliveries / max(cap.frames, 1):.1f}",
                    f"{cap.relay_share:.0%}",
                    f"{cap.loadgen_share:.0%}",
                    _saturated(cap.relay_share, cap.loadgen_share),
                    f"{cap.seconds:.2f}",
                ]
            )
            if lat is not None:
                lat_rows.append(
                    [
                        str(size),
                        kind,
                        f"{lat.rate:,.0f}",
                        f"{fanout.percentile(lat.latencies, 0.5) * 1e3:.2f}",
                        f"{fanout.percentile(lat.latencies, 0.99) * 1e3:.2f}",
                        f"{len(lat.latencies):,}",
                        f"{lat.relay_share:.0%}",
                    ]
                )
            print(f"  fan-out {size:>3} {label:<24} {cap.rate:>12,.0f} deliveries/s", flush=True)
    text = "### 1. Fan-out capacity (5 senders, 100-byte messages)\n\n" + report.table(
        [
            "members",
            "relay",
            "deliveries/s",
            "relay CPU µs/delivery",
            "msgs/frame received",
            "relay CPU",
            "loadgen CPU",
            "saturated",
            "window s",
        ],
        cap_rows,
    )
    text += "\n\n### 2. Latency at 5,000 deliveries/s\n\n" + report.table(
        ["members", "relay", "deliveries/s", "p50 ms", "p99 ms", "samples", "relay CPU"], lat_rows
    )
    return text, results


def run_idle(plan: Plan, keys: RoomKeys, tmp: str) -> tuple[str, dict]:
    rows, results = [], {}
    for size in plan.idle_sizes:
        for kind in ("socketchat", "plain", "select"):
            try:
                res = idle.run(kind, size, keys, tmp)
            except BenchError as exc:
                rows.append([str(size), kind, "-", "-", "-", f"failed: {exc}"])
                continue
            results[(size, kind)] = res
            rows.append(
                [
                    str(size),
                    kind,
                    f"{res.rss_before / 2**20:.1f}",
                    f"{res.rss_after / 2**20:.1f}",
                    f"{res.per_connection / 1024:.2f}",
                    f"{res.join_seconds:.1f}",
                ]
            )
            print(
                f"  idle {size:>5} {kind:<12} {res.per_connection / 1024:6.2f} KiB/conn", flush=True
            )
    return "### 3. Idle members: relay memory per joined connection\n\n" + report.table(
        ["members", "relay", "RSS before MiB", "RSS after MiB", "KiB/connection", "joining took s"],
        rows,
    ), results


def run_joins(plan: Plan, keys: RoomKeys, tmp: str, kdf_seconds: float) -> tuple[str, dict]:
    rows, results = [], {}
    for kind in ("socketchat", "plain", "select"):
        res = joins.run(kind, plan.joins, keys, tmp, timed=plan.timed_joins)
        results[kind] = res
        with_kdf = f"{(res.client_p50 + kdf_seconds) * 1e3:.0f}" if kind == "socketchat" else "-"
        rows.append(
            [
                kind,
                f"{res.cpu_per_join * 1e3:.3f}",
                f"{1 / res.cpu_per_join:,.0f}",
                f"{res.per_second:,.0f}",
                f"{res.client_p50 * 1e3:.1f}",
                f"{res.client_p90 * 1e3:.1f}",
                with_kdf,
                _saturated(res.relay_cpu / res.seconds, res.loadgen_cpu / res.seconds),
            ]
        )
        print(f"  joins {kind:<12} {1 / res.cpu_per_join:8,.0f} per relay CPU second", flush=True)
    return "### 4. Joins\n\n" + report.table(
        [
            "relay",
            "relay CPU ms/join",
            "joins per relay CPU s",
            "joins/s (8 in flight)",
            "client p50 ms (keys reused)",
            "client p90 ms",
            "client ms with scrypt",
            "saturated",
        ],
        rows,
    ) + (
        f"\n\nscrypt (N=2^17) on this machine: {kdf_seconds * 1e3:.0f} ms"
        " (once per room per client; reconnects reuse the keys)."
    ), results


def run_gui() -> tuple[str, dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.gui_burst"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    result: dict[str, Any] = (
        json.loads(lines[-1]) if lines else {"skipped": proc.stderr.strip()[-300:]}
    )
    if "skipped" in result:
        return f"### 5. GUI burst\n\nskipped: {result['skipped']}", result
    rows = [
        [
            "SocketChat chat window (pump + batches)",
            f"{result['app_seconds'] * 1e3:.0f}",
            f"{result['app_stall'] * 1e3:.1f}",
        ],
        [
            "bare Tk Text, all lines in one callback",
            f"{result['plain_seconds'] * 1e3:.0f}",
            f"{result['plain_stall'] * 1e3:.1f}",
        ],
    ]
    print(
        f"  gui burst: {result['app_seconds'] * 1e3:.0f} ms, longest stall "
        f"{result['app_stall'] * 1e3:.1f} ms",
        flush=True,
    )
    return "### 5. GUI: a burst of 1,000 incoming messages\n\n" + report.table(
        ["renderer", "1,000 shown in ms", "longest Tk stall ms"], rows
    ), result


def targets(fan: dict, idle_res: dict, join_res: dict, gui: dict, plan: Plan) -> str:
    rows = []
    label = f"socketchat ({BATCH}/frame)"
    for size in plan.sizes:
        sc, plain = fan.get((size, label)), fan.get((size, "plain"))
        strong = fan.get((size, "plain-coalesced"))
        if sc and plain and plain[0].rate:
            need = 0.25 if size == 10 else 0.5
            ratio = sc[0].rate / plain[0].rate
            also = f" ({sc[0].rate / strong[0].rate:.0%} of plain-coalesced)" if strong else ""
            rows.append(
                [
                    f"fan-out {size}: ≥ {need:.0%} of plain",
                    f"{ratio:.0%}{also}",
                    "met" if ratio >= need else "missed",
                ]
            )
        if sc and plain and sc[1] and plain[1]:
            p99 = fanout.percentile(sc[1].latencies, 0.99)
            base = fanout.percentile(plain[1].latencies, 0.99)
            ok = p99 <= 1.5 * base and (size != 50 or p99 < 0.010)
            extra = " and < 10 ms" if size == 50 else ""
            rows.append(
                [
                    f"p99 at {size}: ≤ 1.5 × plain{extra}",
                    f"{p99 * 1e3:.2f} ms = {p99 / base:.2f} × plain",
                    "met" if ok else "missed",
                ]
            )
    big = max(plan.idle_sizes)
    if (big, "socketchat") in idle_res:
        kib = idle_res[(big, "socketchat")].per_connection / 1024
        rows.append(
            [
                f"idle at {big}: ≤ 8 KiB/connection",
                f"{kib:.2f} KiB",
                "met" if kib <= 8 else "missed",
            ]
        )
    sc = join_res.get("socketchat")
    if sc:
        per_cpu = 1 / sc.cpu_per_join
        rows.append(
            [
                "≥ 400 handshakes per relay CPU second",
                f"{per_cpu:,.0f}",
                "met" if per_cpu >= 400 else "missed",
            ]
        )
        rows.append(
            [
                "join with reused keys < 50 ms",
                f"{sc.client_p50 * 1e3:.1f} ms (p50)",
                "met" if sc.client_p90 < 0.05 else "missed",
            ]
        )
    if "app_stall" in gui:
        rows.append(
            [
                "GUI burst: no Tk stall > 100 ms",
                f"{gui['app_stall'] * 1e3:.1f} ms",
                "met" if gui["app_stall"] <= 0.1 else "missed",
            ]
        )
    return "### Targets\n\n" + report.table(["target", "measured", ""], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run (CI)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile the SocketChat relay during the 50-member fan-out",
    )
    parser.add_argument("--no-docs", action="store_true", help="do not update the docs")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    print(f"machine: {report.machine()}", flush=True)
    t0 = time.perf_counter()
    keys = derive_room_keys(PASSWORD, room_id=ROOM_ID)  # real scrypt, once for the whole run
    kdf_seconds = time.perf_counter() - t0
    prof_path = None
    with fanout.temp_dir() as tmp:
        if args.profile:
            prof_path = str(Path(tmp) / "relay.prof")
        sections = []
        text, fan = run_fanout(plan, keys, tmp, prof_path)
        sections.append(text)
        if prof_path and Path(prof_path).exists():
            stats = pstats.Stats(prof_path)
            stats.sort_stats("tottime").print_stats(25)
        text, idle_res = run_idle(plan, keys, tmp)
        sections.append(text)
        text, join_res = run_joins(plan, keys, tmp, kdf_seconds)
        sections.append(text)
    text, gui = run_gui()
    sections.append(text)
    elapsed = time.perf_counter() - started
    header = (
        f"Measured {time.strftime('%Y-%m-%d')} on: {report.machine()}. "
        f"Run: `python -m bench{' --quick' if args.quick else ''}`, {elapsed:.0f} s."
    )
    body = "\n\n".join([header, targets(fan, idle_res, join_res, gui, plan), *sections])
    print("\n" + body)
    if not args.quick and not args.no_docs:
        report.write_docs(ROOT / "docs" / "BENCHMARKS.md", body)
        print("\nwrote docs/BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
