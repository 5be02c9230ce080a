"""``python -m bench`` — run every benchmark, print the tables, update docs/BENCHMARKS.md.

``--quick`` is the seconds-long smoke version CI runs (small rooms, short windows, no docs
written, no thresholds). ``--profile`` also runs the SocketChat relay under cProfile during the
50-member fan-out (one and 16 messages per frame) and prints its time by area and its top
functions (:mod:`bench.profiles`). Every loop is bounded in time and count.

ngIRCd (:mod:`bench.ngircd`) runs beside the Python baselines as a peer, in ``--quick`` too
(so its code path does not rot); it is installed with apt-get when missing and possible, and
its rows say "skipped: ..." otherwise. ``--no-ngircd`` leaves it out.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import (
    epoch_change,
    fanout,
    files,
    history,
    idle,
    joins,
    ngircd,
    persisted,
    previous,
    profiles,
    report,
    resume,
    rooms_start,
    soak,
    v1,
)
from bench.loadgen import ROOT, BenchError, pin_loadgen
from crypto.kdf import RoomKeys, derive_room_keys

PASSWORD = "bench password, not a secret"
ROOM_ID = bytes(range(16))
BATCH = 16  # messages per CHAT frame from a busy SocketChat sender (the outbox flush)
BIG_BATCH = 200  # the batched rows compared with ngIRCd


@dataclass(frozen=True)
class Plan:
    sizes: tuple[int, ...]
    capacity_seconds: float
    latency_seconds: float
    presealed: dict[int, int]
    idle_sizes: tuple[int, ...]
    joins: int
    timed_joins: int
    storm: int
    v1_capacity: tuple[int, ...]  # sizes with a v1 capacity row (relay CPU per delivery)
    v1_presealed: int
    history_trials: int
    epoch_rooms: tuple[tuple[int, int], ...]  # (members, trials) of the epoch change
    previous_rows: tuple[tuple[int, int], ...]  # (members, messages per frame) vs the previous
    previous_client_sizes: tuple[int, ...]  # room sizes of the client's cost per message
    previous_messages: int  # timed messages per client pass (in rounds of 200)
    previous_passes: int  # client passes in each tree, alternately
    previous_presealed: dict[int, int]  # messages per sender of the previous-protocol rows
    big_batch: bool = True  # the 200-per-frame rows at 10 and 50 members


FULL = Plan(
    (10, 50, 200),
    1.5,
    2.0,
    {10: 12_000, 50: 12_000, 200: 6_000},
    (1000, 5000),
    300,
    30,
    1000,
    (10, 50),
    4_000,  # v1 sends what is left after its window all at once: keep that small
    20,
    ((50, 5), (200, 3)),
    ((10, 1), (50, 1), (200, BATCH)),
    (2, 50, 200),
    2_000,
    2,
    {10: 12_000, 50: 12_000, 200: 6_000},
)
QUICK = Plan(
    (10, 50),
    0.3,
    0.3,
    {10: 2_000, 50: 2_000},
    (200,),
    30,
    5,
    30,
    (10,),
    1_500,
    3,
    ((10, 1),),
    (),  # no relay rows (each tree's fan-out capacity code; the full run has them)
    (2,),
    200,
    1,
    {},
    big_batch=False,  # the same code as 16 per frame: left out of the smoke run
)
PEER = "ngircd"
PEER_ONE_ADDRESS = "ngircd, one address"  # the storm again, every client from 127.0.0.1
FAILED: list[str] = []  # rows of our own relay or a baseline that failed (exit status 1)
_NOTE_PEER = (
    "ngIRCd does not echo a message to its sender: there a message counts N - 1 deliveries, "
    "elsewhere N. CPU columns: share of the window on a CPU, (+ share spent runnable but "
    "waiting for the CPU, taken by other work on the machine); a side is saturated when the "
    "two add up to ≥ 85 %."
)
_NOTE_SHARES = (
    "SocketChat's rows are the product's steady state with sender keys: each sender's first"
    " message (its key sealed to every member) went out before the rows; in the window a"
    " sender moves to a new key every 500 messages and seals it to the N − 1 others, which the"
    " relay hands on one SHARE frame each (counted by the members: SHAREs in window). The"
    " same rows without re-keying, against the previous protocol, are in section 9."
)


def _saturated(relay: float, loadgen: float) -> str:
    """Which side was busy (on its CPU, or waiting for it) ≥ 85 % of the window."""
    sides = [name for name, share in (("relay", relay), ("loadgen", loadgen)) if share >= 0.85]
    return " + ".join(sides) or "neither"


def _share(cpu: float, busy: float) -> str:
    return f"{cpu:.0%} (+{max(0.0, busy - cpu):.0%})"


def _label(kind: str, batch: int) -> str:
    return kind if kind != "socketchat" else f"socketchat ({batch}/frame)"


def _runs(size: int, plan: Plan) -> list[tuple[str, int]]:
    """The fan-out rows at ``size`` members: (kind, messages per sender frame)."""
    extra = [("socketchat", 1)] if size in (10, 50) else []
    if size in (10, 50) and plan.big_batch:
        extra.append(("socketchat", BIG_BATCH))
    base = [("plain", 1), ("plain-coalesced", 1), ("select", 1), (PEER, 1)]
    return [("socketchat", BATCH), *extra, *base]


def _skip_row(size: int | None, kind: str, why: str, width: int) -> list[str]:
    lead = [str(size)] if size is not None else []
    row = [*lead, kind, why[:120]]
    return row + ["-"] * (width - len(row))


def run_fanout(
    plan: Plan, keys: RoomKeys, tmp: str, profile: str | None, peer_skip: str | None
) -> tuple[str, dict]:
    cap_rows, lat_rows, results = [], [], {}
    for size in plan.sizes:
        for kind, batch in _runs(size, plan):
            label = _label(kind, batch)
            latency_row = kind != "plain-coalesced" and batch == (
                BATCH if kind == "socketchat" else 1
            )
            if kind == PEER and peer_skip:
                cap_rows.append(_skip_row(size, label, peer_skip, 10))
                lat_rows.append(_skip_row(size, label, peer_skip, 7))
                continue
            prof = None
            if profile and kind == "socketchat" and size == 50 and batch in (1, BATCH):
                prof = f"{profile}-{batch}.prof"  # one relay process, one profile per row
            try:
                room = fanout.open_room(kind, size, keys, tmp, prof)
                try:
                    cap = fanout.capacity(
                        room,
                        seconds=plan.capacity_seconds,
                        batch=batch,
                        messages_per_sender=plan.presealed[size],
                    )
                    lat = None
                    if latency_row:
                        lat = fanout.latency(room, members=size, seconds=plan.latency_seconds)
                finally:
                    room.close()
            except BenchError as exc:
                # Shown in its row; the run goes on (a relay that dropped a member under this
                # shared machine's load should not cost the other rows). A SocketChat or
                # baseline row that failed still makes the command fail at the end.
                if kind != PEER:
                    FAILED.append(f"fan-out {size} {label}: {exc}")
                cap_rows.append(_skip_row(size, label, f"failed: {exc}", 10))
                lat_rows.append(_skip_row(size, label, f"failed: {exc}", 7))
                print(f"  fan-out {size:>3} {label:<24} failed: {exc}", flush=True)
                continue
            results[(size, label)] = (cap, lat)
            us = cap.relay_cpu / cap.deliveries * 1e6 if cap.deliveries else 0.0
            cap_rows.append(
                [
                    str(size),
                    label,
                    f"{cap.rate:,.0f}",
                    f"{us:.2f}",
                    f"{cap.deliveries / max(cap.frames, 1):.1f}",
                    _share(cap.relay_share, cap.relay_busy),
                    _share(cap.loadgen_share, cap.loadgen_busy),
                    _saturated(cap.relay_busy, cap.loadgen_busy),
                    f"{cap.shares:,}" if kind == "socketchat" else "-",
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
                        _share(lat.relay_share, lat.relay_busy),
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
            "SHAREs in window",
            "window s",
        ],
        cap_rows,
    )
    text += f"\n\n{_NOTE_PEER} {_NOTE_SHARES}"
    text += "\n\n### 2. Latency at 5,000 deliveries/s\n\n" + report.table(
        ["members", "relay", "deliveries/s", "p50 ms", "p99 ms", "samples", "relay CPU"], lat_rows
    )
    return text, results


def _v2_latency(fan: dict, size: int) -> tuple[float, float] | None:
    """v2's paced (p50, p99) at ``size``, from the fan-out section's SocketChat row."""
    row = fan.get((size, _label("socketchat", BATCH)))
    if not row or not row[1] or not row[1].latencies:
        return None
    lat = row[1].latencies
    return fanout.percentile(lat, 0.5), fanout.percentile(lat, 0.99)


def run_v1(plan: Plan, tmp: str, fan: dict) -> tuple[str, dict]:
    """Protocol v1 (its own relay and load generator, :mod:`bench.v1`) beside v2's rows."""
    result = v1.run(
        tmp,
        password=PASSWORD,
        room_id=ROOM_ID,
        sizes=plan.sizes,
        capacity_sizes=plan.v1_capacity,
        latency_seconds=plan.latency_seconds,
        capacity_seconds=plan.capacity_seconds,
        presealed=plan.v1_presealed,
    )
    title = f"### 2b. Protocol v1 ({v1.V1_COMMIT}) against v2, same run\n\n"
    if isinstance(result, str):
        print(f"  v1: {result}", flush=True)
        return title + f"socketchat-v1: {result}", {}
    rows = []
    for size in plan.sizes:
        old, new = result.get(size), _v2_latency(fan, size)
        if old is None or new is None:
            rows.append([str(size), "-", "-", "-", "-", "-", "-", "-"])
            continue
        p50, p99 = new
        rows.append(
            [
                str(size),
                f"{old.p50 * 1e3:.2f}",
                f"{p50 * 1e3:.2f}",
                f"{(p50 - old.p50) * 1e3:+.2f}",
                f"{p50 / old.p50:.2f}",
                f"{old.p99 * 1e3:.2f}",
                f"{p99 * 1e3:.2f}",
                f"{p99 / old.p99:.2f}",
            ]
        )
        print(
            f"  v1 {size:>3}: p50 {old.p50 * 1e3:.2f} ms (v2 {p50 * 1e3:.2f}),"
            f" p99 {old.p99 * 1e3:.2f} ms (v2 {p99 * 1e3:.2f})",
            flush=True,
        )
    text = title + report.table(
        [
            "members",
            "v1 p50 ms",
            "v2 p50 ms",
            "v2 − v1 p50 ms",
            "v2/v1 p50",
            "v1 p99 ms",
            "v2 p99 ms",
            "v2/v1 p99",
        ],
        rows,
    )
    cpu_rows = []
    for size in plan.v1_capacity:
        old = result.get(size)
        new_row = fan.get((size, _label("socketchat", 1)))
        if old is None or old.cpu_per_delivery is None or not new_row:
            continue
        cap = new_row[0]
        if not cap.deliveries:
            continue
        a, b = old.cpu_per_delivery * 1e6, cap.relay_cpu / cap.deliveries * 1e6
        checks = "-" if cap.relay_verifies is None else f"{cap.relay_verifies:,}"
        cpu_rows.append(
            [str(size), f"{a:.2f}", f"{b:.2f}", f"{b / a:.2f}", checks, f"{cap.messages:,}"]
        )
    if cpu_rows:
        text += (
            "\n\nRelay CPU per delivery, one message per CHAT frame (v1 AES-256-GCM envelopes"
            " of 100-byte texts; v2 signed XChaCha20-Poly1305 envelopes, 177 bytes more each),"
            " and the Ed25519 checks the v2 relay made during the whole row (it checks one"
            " signature per JOIN, none per message):\n\n"
        )
        text += report.table(
            [
                "members",
                "v1 relay µs/delivery",
                "v2 relay µs/delivery",
                "v2/v1",
                "v2 relay Ed25519 checks",
                "v2 messages relayed",
            ],
            cpu_rows,
        )
    text += (
        "\n\nv1 is measured by its own load generator (git archive of the commit, its"
        " `bench.relay_server` and `bench.fanout.latency`), pinned like v2's; v2 − v1 is the"
        " extra end-to-end latency of a v2 message (sign + seal on the sender, open + verify on"
        " the receiver, bigger frames)."
    )
    return text, result


def run_history(plan: Plan, keys: RoomKeys) -> tuple[str, history.HistoryResult]:
    res = history.run(keys, trials=plan.history_trials)
    print(
        f"  history: {res.messages} signed messages verified in {res.median * 1e3:.1f} ms"
        f" (median of {len(res.seconds)}, worst {res.worst * 1e3:.1f} ms)",
        flush=True,
    )
    row = [
        f"{res.messages}",
        f"{res.median * 1e3:.1f}",
        f"{res.worst * 1e3:.1f}",
        f"{res.median / res.messages * 1e6:.0f}",
        f"{statistics.median(res.keys_seconds) * 1e3:.1f}",
        f"{len(res.seconds)}",
    ]
    return (
        "### 7. A joiner verifying the history: WELCOME with 100 signed messages\n\n"
        + report.table(
            [
                "messages",
                "median ms",
                "worst ms",
                "µs per message",
                "of which from the 5 SHAREs on, ms",
                "trials",
            ],
            [row],
        )
        + "\n\nOn the client side only, in memory: the joiner's client from the WELCOME bytes"
        " to every message opened (XChaCha20-Poly1305) and its Ed25519 signature verified;"
        " each trial a new joiner with the key checks' cache cleared. With sender keys the"
        " WELCOME's 100 messages arrive locked; the joiner asks for the keys (WANT) and the five"
        " senders answer with a share each (untimed: their devices and the relay); the time"
        " is the joiner's WELCOME part plus its part from the SHARE frames (each share opened"
        " and checked, then the messages it unlocks) to the last ChatOpened.",
        res,
    )


EPOCH_TARGET = (50, 1.0)  # members, seconds: the bound on moving to a new epoch


def run_epoch(plan: Plan, keys: RoomKeys, tmp: str) -> tuple[str, dict]:
    """Scenario 8 (:mod:`bench.epoch_change`): a departure, then the next message."""
    rows, results = [], {}
    for members, trials in plan.epoch_rooms:
        try:
            res = epoch_change.run(members, trials, keys, tmp)
        except BenchError as exc:
            FAILED.append(f"epoch change {members}: {exc}")
            rows.append([str(members), f"failed: {exc}"[:120]] + ["-"] * 9)
            print(f"  epoch {members:>3} failed: {exc}", flush=True)
            continue
        results[members] = res
        t = res.trials

        def med(values: list[float]) -> str:
            return f"{statistics.median(values) * 1e3:.1f}"

        parallel = [x.left_seen + x.rekey_cpu + x.relay_cpu + x.receiver_cpu for x in t]
        rows.append(
            [
                str(members),
                f"{res.median * 1e3:.0f}",
                f"{res.worst * 1e3:.0f}",
                med([x.left_seen for x in t]),
                med([x.rekey_cpu for x in t]),
                f"{t[0].shares}",
                med([x.receiver_cpu for x in t]),
                med([x.relay_cpu for x in t]),
                f"{statistics.median(parallel) * 1e3:.0f}",
                f"{sum(x.locked for x in t)}",
                f"{len(t)}",
            ]
        )
        print(
            f"  epoch {members:>3}: all read the next message {res.median * 1e3:.0f} ms after"
            f" the departure (worst {res.worst * 1e3:.0f}; setup {res.setup_seconds:.0f} s)",
            flush=True,
        )
    return "### 8. Epoch change: a member leaves, the next message\n\n" + report.table(
        [
            "members",
            "all read it, median ms",
            "worst ms",
            "LEFT seen by the sender ms",
            "sender re-key CPU ms",
            "shares sealed",
            "receiver CPU ms",
            "relay CPU ms",
            "one device each, est. ms",
            "locked first",
            "trials",
        ],
        rows,
    ) + (
        "\n\nReal relay process and N real clients over loopback, every member having spoken"
        " once (every key shared). Clock from the leaver's GOODBYE until every remaining member"
        " (the sender's echo included) has opened the next message under the new epoch. The"
        " sender sends as soon as it sees the LEFT (the relay seals joins and leaves together,"
        " after up to 50 ms); its client makes a fresh key and seals it to every member left"
        " (HPKE + Ed25519 each: sender re-key CPU, message included). Receiver CPU: one"
        " receiver's client from the send to its ChatOpened (the share's open and check, the"
        " message's). One process plays every member on one core, so the wall time includes"
        ' every receiver\'s work one after another; "one device each" adds up the parts of one'
        " path instead (LEFT seen + re-key + relay + one receiver). Locked first: receivers that"
        " got the message before its key (none expected: the relay hands on the shares first)."
    ), results


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f}"


STEADY_TARGET = 1.10  # the issue: steady state within 10 % of the previous protocol


def _steady_rows(prev: previous.PreviousResult) -> list[list[str]]:
    """The Targets rows of section 9: sender keys / previous, per measure and size."""
    med = previous.PreviousResult.median
    groups: dict[str, list[tuple[str, float]]] = {"send": [], "receive": [], "relay": []}
    for members, c in sorted(prev.client.items()):
        if med(c.send_old) and med(c.receive_old):
            groups["send"].append((f"{members}", med(c.send_new) / med(c.send_old)))
            groups["receive"].append((f"{members}", med(c.receive_new) / med(c.receive_old)))
    for (members, batch), old_row in sorted(prev.relay_old.items()):
        new_row = prev.relay_new.get((members, batch))
        if new_row is not None and old_row.cpu_per_delivery:
            ratio = new_row.cpu_per_delivery / old_row.cpu_per_delivery
            groups["relay"].append((f"{members} ({batch}/frame)", ratio))
    titles = {
        "send": "client send per message",
        "receive": "client receive per message",
        "relay": "relay CPU per delivery, shares distributed",
    }
    rows = []
    for key, values in groups.items():
        if not values:
            continue
        sizes = " / ".join(size for size, _ in values)
        ratios = " / ".join(f"{ratio:.2f}" for _, ratio in values)
        worse = [size for size, ratio in values if ratio > STEADY_TARGET]
        verdict = "met" if not worse else f"missed at {', '.join(worse)}"
        rows.append(
            [
                f"steady state ≤ 1.1 × the previous protocol: {titles[key]}, {sizes} members",
                f"{ratios} ×",
                verdict,
            ]
        )
    return rows


def _client_rounds(plan: Plan) -> int:
    return max(1, plan.previous_messages // 200)  # rounds of about 200 messages


def run_previous(plan: Plan, tmp: str, fan: dict) -> tuple[str, previous.PreviousResult | None]:
    """Scenario 9 (:mod:`bench.previous`): steady state against the previous protocol."""
    title = (
        "### 9. Steady state against the previous protocol"
        f" ({previous.PREVIOUS_COMMIT}), same run\n\n"
    )
    result = previous.run(
        tmp,
        rows=plan.previous_rows,
        seconds=plan.capacity_seconds,
        presealed=plan.previous_presealed,
        client_sizes=plan.previous_client_sizes,
        client_messages=plan.previous_messages,
        client_rounds=_client_rounds(plan),
        client_passes=plan.previous_passes,
    )
    if isinstance(result, str):
        if result.startswith("failed"):
            FAILED.append(f"previous protocol: {result}")
        print(f"  previous: {result}", flush=True)
        return title + f"previous protocol: {result}", None
    med = previous.PreviousResult.median
    rows = []
    for members, c in sorted(result.client.items()):
        for what, old, new in (
            ("send (send_messages)", c.send_old, c.send_new),
            ("receive (to ChatOpened)", c.receive_old, c.receive_new),
        ):
            a, b = med(old), med(new)
            rows.append(
                [
                    f"client {what}, µs/message, {members} members",
                    _us(a),
                    _us(b),
                    f"{b / a:.2f}" if a else "-",
                ]
            )
            print(f"  previous: {what} at {members}: {_us(a)} -> {_us(b)} µs", flush=True)
    for (members, batch), old_row in sorted(result.relay_old.items()):
        new_row = result.relay_new.get((members, batch))
        if new_row is None:
            continue
        a, b = old_row.cpu_per_delivery, new_row.cpu_per_delivery
        rows.append(
            [
                f"relay CPU µs/delivery, {members} members, {batch}/frame, shares distributed"
                f" ({new_row.shares} SHAREs in window)",
                f"{a * 1e6:.3f}",
                f"{b * 1e6:.3f}",
                f"{b / a:.2f}",
            ]
        )
        product = fan.get((members, _label("socketchat", batch)))
        if product and product[0].deliveries:
            c = product[0].relay_cpu / product[0].deliveries
            rows.append(
                [
                    f"relay CPU µs/delivery, {members} members, {batch}/frame, re-keying"
                    " every 500 (section 1)",
                    f"{a * 1e6:.3f}",
                    f"{c * 1e6:.3f}",
                    f"{c / a:.2f}",
                ]
            )
        print(
            f"  previous: relay {members}x{batch}: {a * 1e6:.3f} -> {b * 1e6:.3f} µs/delivery",
            flush=True,
        )
    text = title + report.table(
        ["measure", "previous (room key)", "sender keys", "sender keys / previous"], rows
    )
    crypto = result.crypto
    if crypto:
        seal, opened = crypto["share_seal"], crypto["share_open"]
        amortized = ", ".join(f"{n} members {_us((n - 1) * seal / 500)}" for n in (10, 50, 200))
        text += (
            f"\n\nWhat sender keys add beside the steady state: a share costs {_us(seal)} µs"
            f" to seal (HPKE + Ed25519) and {_us(opened)} µs to open and check; a sender"
            f" seals N − 1 of them every 500 messages, {amortized} µs per message"
            f" amortized (each receiver opens one per 500 of that sender's messages). A"
            f" message key is derived (HKDF) in {_us(crypto['message_key'])} µs; the client"
            " derives it once per sender key and keeps it with the key."
        )
    rounds = _client_rounds(plan)
    text += (
        "\n\nBoth protocols measured by their own code: the previous tree is extracted with"
        " git archive and one driver runs in each tree (bench/previous.py). Client: real cores"
        " in memory (bench/corepair.py), one 100-byte message per send_messages, alice sending"
        " to bob in a room of N members; sender keys in steady state (shares distributed, no"
        " re-key: the keyring's MAX_MESSAGES set out of reach in the driver); the median of"
        f" {rounds * plan.previous_passes} round(s) of {plan.previous_messages // rounds}"
        f" messages in CPU time, {plan.previous_passes} pass(es) per tree, alternately. Relay:"
        " each tree's fan-out capacity row (5 senders, as in section 1)."
    )
    return text, result


def run_idle(plan: Plan, keys: RoomKeys, tmp: str, peer_skip: str | None) -> tuple[str, dict]:
    rows, results = [], {}
    for size in plan.idle_sizes:
        for kind in ("socketchat", "plain", "select", PEER):
            if kind == PEER and peer_skip:
                rows.append(_skip_row(size, kind, peer_skip, 9))
                continue
            try:
                res = idle.run(kind, size, keys, tmp)
            except BenchError as exc:
                rows.append([str(size), kind, "-", "-", "-", "-", "-", "-", f"failed: {exc}"])
                continue
            live = res.live_per_connection
            results[(size, kind)] = res
            rows.append(
                [
                    str(size),
                    kind,
                    f"{res.rss_before / 2**20:.1f}",
                    f"{res.rss_after / 2**20:.1f}",
                    f"{res.per_connection / 1024:.2f}",
                    "-" if live is None else f"{live / 1024:.2f}",
                    f"{res.join_seconds:.1f}",
                    f"{res.relay_cpu:.1f}",
                    f"{res.loadgen_cpu:.1f}",
                ]
            )
            print(
                f"  idle {size:>5} {kind:<12} {res.per_connection / 1024:6.2f} KiB/conn", flush=True
            )
    return "### 3. Idle members: relay memory per joined connection\n\n" + report.table(
        [
            "members",
            "relay",
            "RSS before MiB",
            "RSS after MiB",
            "KiB/connection",
            "live KiB/connection",
            "joining took s",
            "relay CPU s",
            "loadgen CPU s",
        ],
        rows,
    ) + (
        "\n\nKiB/connection: RSS growth per member. Live: the same once the relay returned its"
        " C heap's free memory to the system (glibc malloc_trim, asked for by the benchmark), so"
        " that the high-water mark of what joining needed for a while (WELCOMEs listing every"
        " member with its keys, broadcast write buffers) is not counted as held per member."
        " Joining: SocketChat members join 32 at a time from one process that plays every"
        " client, each reading its own WELCOME (N members listed: N²/2 entries in all); the CPU"
        " columns say which side the time went to."
    ), results


def run_joins(
    plan: Plan, keys: RoomKeys, tmp: str, kdf_seconds: float, peer_skip: str | None
) -> tuple[str, dict]:
    rows, results = [], {}
    for kind in ("socketchat", "plain", "select", PEER):
        if kind == PEER and peer_skip:
            rows.append(_skip_row(None, kind, peer_skip, 8))
            continue
        try:
            res = joins.run(kind, plan.joins, keys, tmp, timed=plan.timed_joins)
        except BenchError as exc:
            if kind != PEER:
                raise
            rows.append(_skip_row(None, kind, f"failed: {exc}", 8))
            continue
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
        " (once per room per client; reconnects reuse the keys). ngIRCd's join is registration"
        " (NICK, USER, 001) and JOIN up to the end of the names list (366)."
    ), results


def run_storm(plan: Plan, keys: RoomKeys, tmp: str, peer_skip: str | None) -> tuple[str, dict]:
    rows, results = [], {}
    for label in ("socketchat", PEER, PEER_ONE_ADDRESS):
        kind = PEER if label == PEER_ONE_ADDRESS else label
        if kind == PEER and peer_skip:
            rows.append(_skip_row(None, label, peer_skip, 11))
            continue
        try:
            res = joins.storm(kind, plan.storm, keys, tmp, one_address=label == PEER_ONE_ADDRESS)
        except BenchError as exc:
            rows.append(_skip_row(None, label, f"failed: {exc}", 11))
            print(f"  storm {label:<12} failed: {exc}", flush=True)
            continue
        results[label] = res
        rows.append(
            [
                label,
                f"{res.members:,}",
                f"{res.seconds:.2f}",
                f"{res.relay_cpu / res.members * 1e3:.3f}",
                _share(res.relay_cpu / res.seconds, (res.relay_cpu + res.relay_wait) / res.seconds),
                _share(
                    res.loadgen_cpu / res.seconds,
                    (res.loadgen_cpu + res.loadgen_wait) / res.seconds,
                ),
                f"{res.overflows:,}",
                f"{res.reconnects:,}",
                f"{res.queued:,}" if kind == "socketchat" else "-",
                f"{res.broadcasts / res.members:.1f}" if kind == "socketchat" else "-",
                _saturated(
                    (res.relay_cpu + res.relay_wait) / res.seconds,
                    (res.loadgen_cpu + res.loadgen_wait) / res.seconds,
                ),
            ]
        )
        print(f"  storm {label:<12} {res.members} in after {res.seconds:.2f} s", flush=True)
    return f"### 5. Join storm: {plan.storm:,} clients connecting at once\n\n" + report.table(
        [
            "relay",
            "members",
            "all in after s",
            "relay CPU ms/join",
            "relay CPU",
            "loadgen CPU",
            "connects dropped (listen queue full)",
            "reconnects",
            "told to wait (QUEUED)",
            "presence broadcasts per member",
            "saturated",
        ],
        rows,
    ) + (
        "\n\nEvery client starts its connect at once, from a loopback address of its own"
        " (127.1.x.y, as the members of a restarted room come from many addresses), and stays."
        " The SocketChat relay keeps its default admission limits: 64 handshakes at once, the"
        " rest told to wait in line (QUEUED), the per-address shares and the login throttle;"
        " only the member cap is raised to fit. A connect dropped on a full listen queue is"
        " retried by the kernel after 1 s, then 3 s, 7 s... (SocketChat's backlog is 512;"
        " ngIRCd's is 10, compiled in). The drop count is machine-wide. Presence broadcasts:"
        " the frames each SocketChat member received while the others joined, on average (joins"
        " and leaves are sealed together at most every 50 ms)."
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
        return f"### 6. GUI burst\n\nskipped: {result['skipped']}", result
    rows = [
        [
            "SocketChat chat window (v2 core verifying, pump + batches)",
            f"{result['app_seconds'] * 1e3:.0f}",
            f"{result['app_stall'] * 1e3:.1f}",
            f"{result['app_core'] * 1e3:.0f}",
        ],
        [
            "bare Tk Text, all lines in one callback",
            f"{result['plain_seconds'] * 1e3:.0f}",
            f"{result['plain_stall'] * 1e3:.1f}",
            "-",
        ],
    ]
    print(
        f"  gui burst: {result['app_seconds'] * 1e3:.0f} ms, longest stall "
        f"{result['app_stall'] * 1e3:.1f} ms",
        flush=True,
    )
    return "### 6. GUI: a burst of 1,000 incoming messages\n\n" + report.table(
        ["renderer", "1,000 shown in ms", "longest Tk stall ms", "worker in client core ms"],
        rows,
    ) + (
        "\n\nThe worker feeds real v2 broadcasts (10 messages each, signed by three senders)"
        " to a real ClientProtocol, which opens every envelope and verifies every signature,"
        " and puts each message on the pump, as the client's reader thread does."
    ), result


def targets(
    fan: dict,
    idle_res: dict,
    join_res: dict,
    gui: dict,
    plan: Plan,
    hist: history.HistoryResult | None = None,
    epochs: dict | None = None,
    prev: previous.PreviousResult | None = None,
) -> str:
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
        live = idle_res[(big, "socketchat")].live_per_connection
        also = f" (live {live / 1024:.2f} KiB)" if live is not None else ""
        rows.append(
            [
                f"idle at {big}: ≤ 4 KiB/connection",
                f"{kib:.2f} KiB{also}",
                "met"
                if kib <= 4
                else ("met live, missed in RSS" if live is not None and live <= 4096 else "missed"),
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
    if hist is not None:
        rows.append(
            [
                "history of 100 signed messages verified < 300 ms",
                f"{hist.median * 1e3:.1f} ms (worst {hist.worst * 1e3:.1f})",
                "met" if hist.worst < 0.3 else "missed",
            ]
        )
    for members, res in sorted((epochs or {}).items()):
        bound = EPOCH_TARGET[1] if members == EPOCH_TARGET[0] else None
        ok = all(not t.locked for t in res.trials)
        rows.append(
            [
                f"epoch change at {members}: all read the next message"
                + (f" < {bound:g} s" if bound else ""),
                f"{res.median * 1e3:.0f} ms (worst {res.worst * 1e3:.0f})",
                ("met" if ok and res.worst < bound else "missed") if bound else "-",
            ]
        )
    if prev is not None:
        rows += _steady_rows(prev)
    if "app_stall" in gui:
        rows.append(
            [
                "GUI burst (signatures verified): no Tk stall > 100 ms",
                f"{gui['app_stall'] * 1e3:.1f} ms",
                "met" if gui["app_stall"] <= 0.1 else "missed",
            ]
        )
    return "### Targets\n\n" + report.table(["target", "measured", ""], rows)


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}" if theirs else "-"


# Relay CPU per delivery against ngIRCd: (members, messages per CHAT frame) -> the bound on
# SocketChat / ngIRCd; None: shown without a target.
PEER_CPU_TARGETS: dict[tuple[int, int], float | None] = {
    (10, 1): 8.0,
    (50, 1): 3.0,
    (200, BATCH): 0.5,
    (10, BIG_BATCH): None,
    (50, BIG_BATCH): None,
}


def against_peer(fan: dict, idle_res: dict, storm_res: dict, plan: Plan) -> str:
    """SocketChat beside ngIRCd, measured in the same run, with the issue's bounds where set."""
    rows = []
    peer = {size: fan.get((size, PEER)) for size in plan.sizes}
    for (size, batch), bound in PEER_CPU_TARGETS.items():
        theirs = peer.get(size)
        ours = fan.get((size, _label("socketchat", batch)))
        if not (ours and theirs and ours[0].deliveries and theirs[0].deliveries):
            continue
        a = ours[0].relay_cpu / ours[0].deliveries * 1e6
        b = theirs[0].relay_cpu / theirs[0].deliveries * 1e6
        verdict = "-" if bound is None else ("met" if a <= bound * b else "missed")
        rows.append(
            [
                f"relay CPU µs/delivery, {size} members, {batch}/frame",
                f"{a:.3f}",
                f"{b:.3f}",
                _ratio(a, b),
                "-" if bound is None else f"≤ {bound:g}",
                verdict,
            ]
        )
    for size in plan.sizes:
        ours, theirs = fan.get((size, _label("socketchat", BATCH))), peer.get(size)
        if ours and theirs and ours[1] and theirs[1]:
            a = fanout.percentile(ours[1].latencies, 0.99) * 1e3
            b = fanout.percentile(theirs[1].latencies, 0.99) * 1e3
            rows.append(
                [f"paced p99 ms, {size} members", f"{a:.2f}", f"{b:.2f}", _ratio(a, b), "-", "-"]
            )
    ours = storm_res.get("socketchat")
    peers = [r for r in (storm_res.get(PEER), storm_res.get(PEER_ONE_ADDRESS)) if r]
    if ours and peers:
        theirs = min(peers, key=lambda r: r.seconds)  # ngIRCd at its best in this run
        met = ours.members == plan.storm and ours.seconds <= 2 * theirs.seconds
        rows.append(
            [
                f"join storm of {plan.storm:,}: s until all are in (ngIRCd: its faster row)",
                f"{ours.seconds:.2f}",
                f"{theirs.seconds:.2f}",
                _ratio(ours.seconds, theirs.seconds),
                "≤ 2",
                "met" if met else "missed",
            ]
        )
    big = max(plan.idle_sizes)
    ours, theirs = idle_res.get((big, "socketchat")), idle_res.get((big, PEER))
    if ours:
        rows.append(
            [
                f"filling a {big:,}-member room: relay CPU s (wall s)",
                f"{ours.relay_cpu:.1f} ({ours.join_seconds:.1f})",
                f"{theirs.relay_cpu:.1f} ({theirs.join_seconds:.1f})" if theirs else "-",
                _ratio(ours.relay_cpu, theirs.relay_cpu) if theirs else "-",
                "≤ 15 s",
                "met in relay CPU" if ours.relay_cpu <= 15 else "missed",
            ]
        )
        live = ours.live_per_connection
        if live is not None:
            rows.append(
                [
                    f"live KiB per idle member at {big:,}",
                    f"{live / 1024:.2f}",
                    "-",
                    "-",
                    "≤ 4",
                    "met" if live <= 4096 else "missed",
                ]
            )
    if ours and theirs:
        a, b = ours.per_connection / 1024, theirs.per_connection / 1024
        rows.append(
            [f"idle KiB per member at {big:,}", f"{a:.2f}", f"{b:.2f}", _ratio(a, b), "-", "-"]
        )
    if not rows:
        return "### Against ngIRCd\n\nno ngIRCd figures in this run"
    return "### Against ngIRCd (same run)\n\n" + report.table(
        ["measure", "SocketChat", "ngIRCd", "SocketChat / ngIRCd", "target", ""], rows
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run (CI)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile the SocketChat relay during the 50-member fan-out (1 and 16 per frame)",
    )
    parser.add_argument("--no-docs", action="store_true", help="do not update the docs")
    parser.add_argument(
        "--no-ngircd", action="store_true", help="leave out the ngIRCd peer (and its install)"
    )
    parser.add_argument(
        "--soak",
        nargs="?",
        type=float,
        const=soak.DEFAULT_MINUTES,
        metavar="MINUTES",
        help="run only the churn-and-faults soak (bench/soak.py), default 25 minutes",
    )
    args = parser.parse_args(argv)
    if args.soak is not None:
        return soak.main(["--minutes", str(args.soak)])
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    print(f"machine: {report.machine()}", flush=True)
    peer_skip = "skipped: --no-ngircd" if args.no_ngircd else ngircd.available()
    print(f"ngIRCd peer: {peer_skip or 'yes'}", flush=True)
    pin_loadgen()  # after the install; every relay is pinned to the other core
    t0 = time.perf_counter()
    keys = derive_room_keys(PASSWORD, room_id=ROOM_ID)  # real scrypt, once for the whole run
    kdf_seconds = time.perf_counter() - t0
    prof_path = None
    with fanout.temp_dir() as tmp:
        if args.profile:
            prof_path = str(Path(tmp) / "relay")
        sections = []
        text, fan = run_fanout(plan, keys, tmp, prof_path, peer_skip)
        sections.append(text)
        for batch in (1, BATCH) if prof_path else ():
            path = Path(f"{prof_path}-{batch}.prof")
            if path.exists():
                print(
                    f"\nrelay profile, 50 members, {batch}/frame:\n\n{profiles.tables(str(path))}"
                )
        text, _v1 = run_v1(plan, tmp, fan)
        sections.append(text)
        text, idle_res = run_idle(plan, keys, tmp, peer_skip)
        sections.append(text)
        text, join_res = run_joins(plan, keys, tmp, kdf_seconds, peer_skip)
        sections.append(text)
        text, storm_res = run_storm(plan, keys, tmp, peer_skip)
        sections.append(text)
        epoch_text, epoch_res = run_epoch(plan, keys, tmp)
        previous_text, prev = run_previous(plan, tmp, fan)
        sections.append(persisted.section(keys, tmp, quick=args.quick))
        sections.append(resume.section(keys, tmp, quick=args.quick))
        sections.append(rooms_start.section(quick=args.quick))
        sections.append(files.section(keys, tmp, quick=args.quick))
    text, gui = run_gui()
    sections.append(text)
    text, hist = run_history(plan, keys)
    sections.append(text)
    sections += [epoch_text, previous_text]
    elapsed = time.perf_counter() - started
    header = (
        f"Measured {time.strftime('%Y-%m-%d')} on: {report.machine()}. "
        f"Run: `python -m bench{' --quick' if args.quick else ''}`, {elapsed:.0f} s."
    )
    body = "\n\n".join(
        [
            header,
            targets(fan, idle_res, join_res, gui, plan, hist, epoch_res, prev),
            against_peer(fan, idle_res, storm_res, plan),
            *sections,
        ]
    )
    print("\n" + body)
    if not args.quick and not args.no_docs:
        report.write_docs(ROOT / "docs" / "BENCHMARKS.md", body)
        print("\nwrote docs/BENCHMARKS.md")
    for failure in FAILED:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
