"""Scenario 4: joins — relay CPU per handshake, joins per second, a client's time to join.

* Throughput: ``count`` members join with up to 8 handshakes in flight, each leaving as soon as
  it is welcomed (the room stays small, so this measures the handshake, not the announcement
  to a big room). Relay CPU per join covers accept, SPAKE2, key confirmation, JOIN, WELCOME, the
  JOINED and LEFT broadcasts and the close; "handshakes per CPU second" is its inverse.
* Client time: one join at a time into the quiet room, from connect to WELCOME, with the room
  keys derived once and reused (what every reconnect costs), p50 and p90; and the same plus
  the scrypt key derivation a first join needs (measured in the same run).

Baselines have no handshake: for them a "join" is a TCP connect and close, for scale.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bench.fanout import percentile
from bench.loadgen import Loop, RelayProcess, connect, cpu_seconds, join_many
from crypto.kdf import RoomKeys
from net.relay.roomfile import RoomSecret


@dataclass
class JoinResult:
    """What the joins scenario measured for one relay kind."""

    kind: str
    joins: int
    seconds: float
    relay_cpu: float
    loadgen_cpu: float
    client_p50: float
    client_p90: float

    @property
    def per_second(self) -> float:
        return self.joins / self.seconds

    @property
    def cpu_per_join(self) -> float:
        return self.relay_cpu / self.joins


def run(kind: str, count: int, keys: RoomKeys, tmp: str, *, timed: int = 30) -> JoinResult:
    """Join ``count`` members (8 in flight), then ``timed`` one at a time for the client's view."""
    room_file = str(Path(tmp) / "room.json")
    if kind == "socketchat" and not Path(room_file).exists():
        RoomSecret.from_room_keys(keys).save(room_file)
    relay = RelayProcess(kind, room_file if kind == "socketchat" else None)
    loop = Loop()
    deadline = time.perf_counter() + 60 + count * 0.1
    try:
        before, own_before = relay.stats(), cpu_seconds()
        started = time.perf_counter()
        if kind == "socketchat":
            names = [f"j{i}" for i in range(count)]
            join_many(loop, relay.port, names, keys, concurrency=8, deadline=deadline, keep=False)
        else:
            for _ in range(count):
                connect(relay.port).close()
        elapsed = time.perf_counter() - started
        after, own_after = relay.stats(), cpu_seconds()
        times = []
        for i in range(timed):
            t0 = time.perf_counter()
            if kind == "socketchat":
                join_many(
                    loop, relay.port, [f"t{i}"], keys, concurrency=1, deadline=deadline, keep=False
                )
            else:
                connect(relay.port).close()
            times.append(time.perf_counter() - t0)
        return JoinResult(
            kind,
            count,
            elapsed,
            after["cpu"] - before["cpu"],
            own_after - own_before,
            percentile(times, 0.5),
            percentile(times, 0.9),
        )
    finally:
        loop.close()
        relay.close()
