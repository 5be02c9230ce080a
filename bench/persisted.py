"""Rooms that last: fan-out with the SQLite history against the in-memory one, and a restart.

* :func:`fanout_rows` — the fan-out capacity of :mod:`bench.fanout` (5 senders, every member
  receives every message, 16 per CHAT frame) twice in the same run, alternately: the relay with
  its history in memory, and with the room's SQLite history (``synchronous=NORMAL``, the
  product's default; also ``FULL``). Target: SQLite within 15 % of memory.
* :func:`restart_row` — ``main.py relay --room-file`` with 200 members joined (the load
  generator's members, default relay limits, every member from 127.0.0.1); the relay is
  stopped with SIGTERM and started again on the same room file and history, and the members
  join again, 16 handshakes at a time (the relay's limit per address). Reported: the restart
  (SIGTERM to listening again) and from then until every member is back in the room. Clients
  wait 0.5–1.5 s of jitter before their first reconnect on purpose (not counted). Target:
  under 5 s in all.

The fan-out rows use ``bench.relay_server``, which opens the room's SQLite history when
``BENCH_RELAY_HISTORY`` says so (``sqlite-normal``, ``sqlite-full``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench import fanout, report
from bench.loadgen import ROOT, BenchError, Loop, join_many
from crypto.kdf import RoomKeys
from net.relay.roomfile import RoomSecret

_HISTORY_ENV = "BENCH_RELAY_HISTORY"  # read by bench.relay_server, in the relay's process


def _capacity(
    keys: RoomKeys, tmp: str, size: int, seconds: float, presealed: int, mode: str
) -> fanout.Measured:
    """One capacity row of bench.fanout, its relay keeping history as ``mode`` says (the
    relay process inherits ``BENCH_RELAY_HISTORY``: see bench/relay_server.py)."""
    folder = Path(tmp) / f"persisted-{mode}-{time.monotonic_ns()}"
    folder.mkdir()
    os.environ[_HISTORY_ENV] = mode
    try:
        room = fanout.open_room("socketchat", size, keys, str(folder))
    finally:
        del os.environ[_HISTORY_ENV]
    try:
        return fanout.capacity(room, seconds=seconds, batch=16, messages_per_sender=presealed)
    finally:
        room.close()


def fanout_rows(
    keys: RoomKeys, tmp: str, *, size: int, seconds: float, presealed: int, rounds: int
) -> list[list[str]]:
    """Deliveries per second with each history, ``rounds`` times each, alternately."""
    rates: dict[str, list[float]] = {"memory": [], "sqlite-normal": [], "sqlite-full": []}
    for _ in range(rounds):
        for mode in rates:
            measured = _capacity(keys, tmp, size, seconds, presealed, mode)
            rates[mode].append(measured.rate)
            print(f"  persisted fan-out {size} {mode:<14} {measured.rate:>10,.0f}/s", flush=True)
    best = {mode: max(values) for mode, values in rates.items()}
    rows = []
    for mode, rate in best.items():
        ratio = rate / best["memory"] if best["memory"] else 0.0
        rows.append([str(size), mode, f"{rate:,.0f}", f"{ratio:.2f}"])
    return rows


def restart_row(keys: RoomKeys, tmp: str, *, members: int) -> list[str]:
    """Seconds for a relay restart, and until ``members`` members are back."""
    folder = Path(tmp) / f"restart-{time.monotonic_ns()}"
    folder.mkdir()
    room_file = folder / "office.room"
    RoomSecret.from_room_keys(keys).save(room_file)
    port = _free_port()
    relay = _start_relay(room_file, port)
    loop = Loop()
    names = [f"m{i}" for i in range(members)]
    try:
        first = join_many(
            loop, port, names, keys, concurrency=16, deadline=time.perf_counter() + 120
        )
        started = time.perf_counter()
        relay.send_signal(signal.SIGTERM)
        relay.wait(timeout=60)
        for joiner in first:
            joiner.close()
        relay = _start_relay(room_file, port)
        listening = time.perf_counter()
        back = join_many(
            loop, port, names, keys, concurrency=16, deadline=time.perf_counter() + 120
        )
        done = time.perf_counter()
        for joiner in back:
            joiner.close()
    finally:
        loop.close()
        if relay.poll() is None:
            relay.send_signal(signal.SIGTERM)
            relay.wait(timeout=60)
    return [
        str(members),
        f"{listening - started:.2f}",
        f"{done - listening:.2f}",
        f"{done - started:.2f}",
    ]


def _start_relay(room_file: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCKETCHAT_")}
    env["SOCKETCHAT_DATA_DIR"] = str(room_file.parent / "data")
    command = [sys.executable, str(ROOT / "main.py"), "relay", "--bind", "127.0.0.1"]
    command += ["--port", str(port), "--room-file", str(room_file)]
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        if line.startswith("SocketChat relay listening on"):
            return proc
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise BenchError(f"the relay did not start (exit {proc.poll()})")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def section(keys: RoomKeys, tmp: str, *, quick: bool) -> str:
    """Section 10 of the report: both scenarios (small and short with ``quick``)."""
    size, members = (10, 20) if quick else (50, 200)
    seconds, presealed, rounds = (0.3, 2_000, 1) if quick else (1.5, 12_000, 3)
    try:
        fan = fanout_rows(keys, tmp, size=size, seconds=seconds, presealed=presealed, rounds=rounds)
        restart = [restart_row(keys, tmp, members=members)]
    except BenchError as exc:
        return f"### 10. Rooms that last\n\nfailed: {exc}"
    return (
        "### 10. Rooms that last: stored history, restarts\n\n"
        + report.table(["members", "history", "deliveries/s (best)", "vs memory"], fan)
        + "\n\nTarget: SQLite history (synchronous=NORMAL, the default) within 15 % of memory."
        + "\n\n"
        + report.table(
            ["members", "restart (SIGTERM to listening) s", "until all back s", "total s"],
            restart,
        )
        + "\n\nTarget: under 5 s from the restart until every member is back."
    )
