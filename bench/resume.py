"""Rooms that last, as a member sees them: coming back after many messages, and searching.

* :func:`resume_row` — a member who was away while 10,000 messages were stored comes back
  (``net.client.ChatClient`` with its device archive, against ``bench.relay_server`` keeping
  the room's SQLite history). Reported: from ``start()`` until the newest 100 messages are
  shown (opened, in the conversation), and until every missed message has reached the device
  (WELCOME, then HISTORY pages), with how many of them it can open. Target: the newest 100 in
  under 1 s, the rest on the device. Only messages whose sender keys the members present still
  hold and may share open (docs/DECISIONS.md 32): the rest arrive locked.
* :func:`search_row` — the device archive's search over 100,000 messages of one room: loading
  and decrypting the room once (the first search), then searches of a word that matches
  nothing (every message is looked at) and of one that fills a page. Target: under 200 ms.

The sender here is another ChatClient sending as fast as the relay takes it (the benchmark's
relay lifts the per-member message rate, as bench.relay_server says).
"""

from __future__ import annotations

import os
import queue
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import report
from bench.loadgen import ROOT, BenchError
from crypto.identity import Identity
from crypto.kdf import RoomKeys
from net.client import ChatClient
from net.client import events as ce
from net.client.archive import Archive, StoredMessage
from net.relay.roomfile import RoomSecret

_WAIT = 300.0  # the longest any phase may take before the row is reported as failed


def _relay(room_file: Path) -> tuple[subprocess.Popen[str], int]:
    env = dict(os.environ, BENCH_RELAY_HISTORY="sqlite-normal")
    command = [sys.executable, "-m", "bench.relay_server", "--kind", "socketchat"]
    command += ["--room", str(room_file)]
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.strip().isdigit():
        proc.kill()
        raise BenchError(f"the relay did not start: {line!r}")
    return proc, int(line)


class _Member:
    """A ChatClient whose events land in a queue, with helpers to wait for them."""

    def __init__(self, port: int, name: str, keys: RoomKeys, identity: Identity, db: Path):
        self.events: queue.Queue[ce.ClientEvent] = queue.Queue()
        key = bytes(range(32))  # the benchmark's archive key; a device's comes from its keyring
        self.client = ChatClient(
            host="127.0.0.1",
            port=port,
            username=name,
            keys=keys,
            identity=identity,
            on_event=self.events.put,
            archive=lambda: Archive.open(db, key),
        )

    def until(self, done: type, deadline: float) -> None:
        while True:
            event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if isinstance(event, ce.Failed):
                raise BenchError(f"member failed: {event.message}")
            if isinstance(event, done):
                return


def resume_row(keys: RoomKeys, tmp: str, *, missed: int) -> list[str]:
    folder = Path(tempfile.mkdtemp(dir=tmp, prefix="resume-"))
    room_file = folder / "room.room"
    RoomSecret.from_room_keys(keys).save(room_file)
    relay, port = _relay(room_file)
    away_identity = Identity.generate()
    try:
        away = _Member(port, "away", keys, away_identity, folder / "away.sqlite3")
        away.client.start()
        away.until(ce.Joined, time.monotonic() + _WAIT)
        sender = _Member(port, "sender", keys, Identity.generate(), folder / "sender.sqlite3")
        sender.client.start()
        sender.until(ce.Joined, time.monotonic() + _WAIT)
        away.client.close()
        stored = 0
        deadline = time.monotonic() + _WAIT
        for start in range(0, missed, 500):  # the outbox holds 1,000 at most
            for n in range(start, min(missed, start + 500)):
                sender.client.send(f"message {n} while you were away")
            while stored < min(missed, start + 500):
                if isinstance(sender.events.get(timeout=_WAIT), ce.MessageStored):
                    stored += 1
            if time.monotonic() > deadline:
                raise BenchError("the sender's messages were not stored in time")
        back = _Member(port, "away", keys, away_identity, folder / "away.sqlite3")
        started = time.monotonic()
        back.client.start()
        newest: float | None = None
        everything: float | None = None
        opened: set[bytes] = set()
        seen: set[bytes] = set()
        positions: list[int] = []
        deadline = started + _WAIT
        # Until every missed message is on the device and the newest 100 are open, or nothing
        # has happened for a few seconds after that (the keys that can come have come).
        quiet_until = deadline
        while time.monotonic() < min(deadline, quiet_until):
            try:
                event = back.events.get(
                    timeout=max(0.01, min(deadline, quiet_until) - time.monotonic())
                )
            except queue.Empty:
                break
            if isinstance(event, ce.Failed):
                raise BenchError(f"member failed: {event.message}")
            if isinstance(event, ce.MessageReceived):
                opened.add(event.message_id)
                seen.add(event.message_id)
                positions.append(event.position)
                top = sorted(positions)[-100:]
                if newest is None and len(top) == 100 and top[0] >= missed + 1 - 100:
                    newest = time.monotonic() - started
            elif isinstance(event, ce.MessageLocked):
                seen.add(event.message_id)
            if everything is None and len(seen) >= missed:
                everything = time.monotonic() - started
            if everything is not None:
                quiet_until = time.monotonic() + (0.0 if newest is not None else 5.0)
        back.client.close()
        sender.client.close()
    finally:
        if relay.stdin is not None:
            relay.stdin.close()
        relay.wait(timeout=60)
    return [
        f"{missed:,}",
        "not reached" if newest is None else f"{newest:.2f}",
        f"{everything:.2f}" if everything is not None else f"only {len(seen):,} in {_WAIT:.0f}",
        f"{len(opened):,}",
    ]


def search_row(tmp: str, *, messages: int) -> list[str]:
    room = bytes(16)
    path = Path(tempfile.mkdtemp(dir=tmp, prefix="search-")) / "archive.sqlite3"
    words = ["meeting", "lunch", "deploy", "coffee", "review", "budget", "travel", "release"]
    with Archive.open(path, bytes(range(32))) as archive:
        for start in range(0, messages, 1000):
            archive.add(
                [
                    StoredMessage(
                        room_id=room,
                        message_id=n.to_bytes(16, "big"),
                        position=n + 1,
                        sender=f"member{n % 40}",
                        signing_key=bytes(32),
                        timestamp_ms=1_700_000_000_000 + n * 1000,
                        text=f"{words[n % len(words)]} notes number {n}: nothing to see here",
                        own=False,
                    )
                    for n in range(start, min(messages, start + 1000))
                ]
            )
    with Archive.open(path, bytes(range(32))) as archive:
        began = time.perf_counter()
        archive.warm(room)
        load = time.perf_counter() - began
        misses, hits = [], []
        for _ in range(10):
            began = time.perf_counter()
            archive.search("zebra", room_id=room)
            misses.append(time.perf_counter() - began)
            began = time.perf_counter()
            archive.search("Budget", room_id=room)
            hits.append(time.perf_counter() - began)
    return [
        f"{messages:,}",
        f"{load:.2f}",
        f"{statistics.median(misses) * 1000:.0f}",
        f"{statistics.median(hits) * 1000:.1f}",
    ]


def section(keys: RoomKeys, tmp: str, *, quick: bool) -> str:
    """Section 11 of the report (small with ``quick``)."""
    missed, messages = (600, 5_000) if quick else (10_000, 100_000)
    try:
        resume = resume_row(keys, tmp, missed=missed)
        search = search_row(tmp, messages=messages)
    except (BenchError, queue.Empty) as exc:
        return f"### 11. Coming back and searching\n\nfailed: {exc!r}"
    return (
        "### 11. Coming back and searching\n\n"
        + report.table(
            [
                "messages missed",
                "newest 100 shown s",
                "all on the device s",
                "of them readable",
            ],
            [resume],
        )
        + "\n\nTarget: the newest 100 in under 1 s; the rest on the device (readable only "
        "where the members present still hold their keys: DECISIONS 32)."
        + "\n\n"
        + report.table(
            ["messages", "first load s", "search, no match ms", "search, a page ms"],
            [search],
        )
        + "\n\nTarget: a search under 200 ms (after the first load of the room)."
    )
