"""Scenario 4: joins — relay CPU per handshake, joins per second, a client's time to join.

* Throughput: ``count`` members join with up to 8 handshakes in flight, each leaving as soon as
  it is welcomed (the room stays small, so this measures the handshake, not the announcement
  to a big room). Relay CPU per join covers accept, SPAKE2, key confirmation, JOIN, WELCOME, the
  JOINED and LEFT broadcasts and the close; "handshakes per CPU second" is its inverse.
* Client time: one join at a time into the quiet room, from connect to WELCOME, with the room
  keys derived once and reused (what every reconnect costs), p50 and p90; and the same plus
  the scrypt key derivation a first join needs (measured in the same run).

Baselines have no handshake: for them a "join" is a TCP connect and close, for scale. For
ngIRCd a join is connect, ``NICK``/``USER``, ``001``, ``JOIN``, the end of the names list
(``366``), then close.

* Storm (:func:`storm`, SocketChat and ngIRCd): ``count`` clients start connecting at once
  (non-blocking connects, every handshake in flight together) and stay; all must get in. A
  client whose connection is reset or closed before it is in reconnects at once, as a real
  client would (at most ``_STORM_RETRIES`` times). Reports the time from the first connect
  until the last member is in, the relay's CPU, the reconnects, and how many connection
  attempts the kernel dropped meanwhile because the relay's listen queue was full
  (``ListenOverflows`` in ``/proc/net/netstat``, machine-wide): a dropped SYN is retried by
  the kernel after 1 s, then 2 s more, 4 s more...
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import irc
from bench.fanout import percentile
from bench.loadgen import (
    BenchError,
    BroadcastCheck,
    Counters,
    Joiner,
    Loop,
    Member,
    RelayProcess,
    connect,
    cpu_seconds,
    join_many,
    prepare_identities,
    run_queue_seconds,
    shared_membership_checks,
    storm_source,
)
from bench.ngircd import NgircdProcess
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


def _start(kind: str, keys: RoomKeys, tmp: str, limits: str = "") -> RelayProcess | NgircdProcess:
    if kind == "ngircd":
        return NgircdProcess(tmp)
    room_file = str(Path(tmp) / "room.json")
    if kind == "socketchat" and not Path(room_file).exists():
        RoomSecret.from_room_keys(keys).save(room_file)
    return RelayProcess(kind, room_file if kind == "socketchat" else None, limits=limits)


def _join(kind: str, loop: Loop, port: int, names: list[str], keys: RoomKeys, **kw: object) -> None:
    """Join ``names`` the way ``kind`` joins (``kw``: concurrency, deadline, keep...)."""
    if kind == "socketchat":
        join_many(loop, port, names, keys, **kw)  # type: ignore[arg-type]
    elif kind == "ngircd":
        irc.join_many(loop, port, names, **kw)  # type: ignore[arg-type]
    else:
        for _ in names:
            connect(port).close()


def run(kind: str, count: int, keys: RoomKeys, tmp: str, *, timed: int = 30) -> JoinResult:
    """Join ``count`` members (8 in flight), then ``timed`` one at a time for the client's view."""
    relay = _start(kind, keys, tmp)
    loop = Loop()
    deadline = time.perf_counter() + 60 + count * 0.1
    names = [f"j{i}" for i in range(count)]
    if kind == "socketchat":
        prepare_identities(names + [f"t{i}" for i in range(timed)])
    try:
        before, own_before = relay.stats(), cpu_seconds()
        started = time.perf_counter()
        _join(kind, loop, relay.port, names, keys, concurrency=8, deadline=deadline, keep=False)
        elapsed = time.perf_counter() - started
        after, own_after = relay.stats(), cpu_seconds()
        times = []
        for i in range(timed):
            t0 = time.perf_counter()
            _join(
                kind,
                loop,
                relay.port,
                [f"t{i}"],
                keys,
                concurrency=1,
                deadline=deadline,
                keep=False,
            )
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


@dataclass
class StormResult:
    """What a join storm measured for one relay kind."""

    kind: str
    members: int
    seconds: float  # first connect to the last member in
    relay_cpu: float
    relay_wait: float
    loadgen_cpu: float
    loadgen_wait: float
    overflows: int  # connection attempts dropped on a full listen queue (machine-wide)
    reconnects: int  # clients that had to connect again (reset or closed before they were in)
    queued: int = 0  # clients the relay told to wait in line (QUEUED) before letting them in
    broadcasts: int = 0  # broadcast frames the members received meanwhile, all together


def listen_overflows() -> int:
    """The kernel's ``TcpExt ListenOverflows`` counter (0 where it cannot be read)."""
    try:
        with open("/proc/net/netstat", encoding="ascii") as netstat:
            lines = [line.split() for line in netstat if line.startswith("TcpExt:")]
        return int(dict(zip(lines[0], lines[1], strict=True)).get("ListenOverflows", 0))
    except (OSError, ValueError, IndexError):
        return 0


_STORM_RETRIES = 5


def _storm_join(
    kind: str,
    loop: Loop,
    port: int,
    names: list[str],
    keys: RoomKeys,
    deadline: float,
    on_joined: Callable[[Any], None],
    one_address: bool = False,
) -> int:
    """Start every join at once; reconnect a failed one; return how many reconnected."""
    attempts = dict.fromkeys(names, 0)
    sources = {
        name: None if one_address else storm_source(index) for index, name in enumerate(names)
    }
    done = [0]

    def start(name: str) -> None:
        if kind == "ngircd":
            irc.IrcJoiner(loop, port, name, finished, wait_connect=False, source=sources[name])
        else:
            Joiner(loop, port, name, keys, finished, wait_connect=False, source=sources[name])

    def finished(joiner: Any) -> None:
        name = joiner.nick if kind == "ngircd" else joiner.name
        if joiner.error:
            joiner.close()
            if attempts[name] >= _STORM_RETRIES:
                raise BenchError(f"{name}: {joiner.error} ({_STORM_RETRIES} reconnects)")
            attempts[name] += 1
            start(name)
            return
        done[0] += 1
        on_joined(joiner)

    started = time.perf_counter()
    for name in names:
        start(name)
    try:
        loop.run_until(lambda: done[0] == len(names), deadline, f"a storm of {len(names)} joins")
    except BenchError as exc:  # say how far it got
        raise BenchError(
            f"{exc}: {done[0]} in after {time.perf_counter() - started:.0f} s,"
            f" {sum(attempts.values())} reconnects"
        ) from exc
    return sum(attempts.values())


def storm(
    kind: str, count: int, keys: RoomKeys, tmp: str, *, one_address: bool = False
) -> StormResult:
    """``count`` clients connect at once and stay; time until every one of them is in.

    Each client comes from an address of its own (:func:`storm_source`), as the members of a
    restarted room do, and the SocketChat relay keeps its default admission limits (64
    handshakes at once, the queue, the per-address shares, the login throttle): only its
    member cap is lifted. ``one_address``: every client from 127.0.0.1 instead (for ngIRCd,
    whose small listen queue fares differently then)."""
    relay = _start(kind, keys, tmp, limits="default")
    queued = [0]
    loop, counters = Loop(), Counters()
    deadline = time.perf_counter() + 30 + count * 0.1
    kept: list[Member] = []
    holder: list[BroadcastCheck] = []

    def joined(joiner: Joiner) -> None:  # members read what they are sent (every JOINED)
        if not holder:
            holder.append(BroadcastCheck(keys, joiner.broadcast_key(), {}, {}))
        queued[0] += joiner.queued > 0
        kept.append(Member(loop, joiner.take_socket(), counters, holder[0], -1, joiner.leftover))

    def irc_joined(joiner: irc.IrcJoiner) -> None:
        kept.append(irc.IrcMember(loop, joiner.take_socket(), counters, -1, bytes(joiner.buf)))

    names = [f"m{i}" for i in range(count)]
    if kind == "socketchat":
        prepare_identities(names)
    try:
        before, own, own_wait = relay.times(), cpu_seconds(), run_queue_seconds()
        overflows = listen_overflows()
        started = time.perf_counter()
        on_joined = irc_joined if kind == "ngircd" else joined
        with shared_membership_checks():  # one process plays every joiner: see loadgen
            reconnects = _storm_join(
                kind, loop, relay.port, names, keys, deadline, on_joined, one_address
            )
        elapsed = time.perf_counter() - started
        after = relay.times()
        broadcasts = counters.frames if kind == "socketchat" else 0
        return StormResult(
            kind,
            count,
            elapsed,
            after[0] - before[0],
            after[1] - before[1],
            cpu_seconds() - own,
            run_queue_seconds() - own_wait,
            listen_overflows() - overflows,
            reconnects,
            queued[0],
            broadcasts,
        )
    finally:
        for member in kept:
            member.close()
        loop.close()
        relay.close()
