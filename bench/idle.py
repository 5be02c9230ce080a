"""Scenario 3: relay memory per joined, idle connection.

The relay's RSS (VmRSS, read inside its process) is taken after 50 warm-up members and again
after N more; the difference divided by N is the cost of one connection. SocketChat members
really join (handshake, JOIN, WELCOME) and read every broadcast they are sent (each join is
announced to everyone), so nothing piles up in the relay's write buffers; baseline members just
connect. ngIRCd members register and JOIN the channel (each JOIN is announced to everyone too)
and read what they are sent. Before the second reading the room is left quiet (nothing
arriving for a while).
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from pathlib import Path

from bench import irc
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
    drain,
    join_many,
    prepare_identities,
    shared_membership_checks,
)
from bench.ngircd import NgircdProcess
from crypto.kdf import RoomKeys
from net.relay.roomfile import RoomSecret

WARMUP_MEMBERS = 50


@dataclass
class IdleResult:
    """RSS before and after, per connection, and how long the joins took."""

    members: int
    rss_before: int
    rss_after: int
    join_seconds: float
    trimmed_before: int = 0  # RSS once the C heap's free memory went back (SocketChat, baselines)
    trimmed_after: int = 0
    relay_cpu: float = 0.0  # the relay's CPU seconds while the N members joined
    loadgen_cpu: float = 0.0  # and this process's (the joining clients)

    @property
    def per_connection(self) -> float:
        return (self.rss_after - self.rss_before) / self.members

    @property
    def live_per_connection(self) -> float | None:
        """Per connection, counting live memory only (after ``malloc_trim``); None if unknown."""
        if not self.trimmed_after:
            return None
        return (self.trimmed_after - self.trimmed_before) / self.members


def raise_nofile(needed: int) -> None:
    """Raise this process's open-file limit toward ``needed``; BenchError if the hard limit is
    too low (say so instead of failing half way)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(needed, soft)), hard))
    if min(hard, needed) < needed:
        raise BenchError(f"RLIMIT_NOFILE hard limit {hard} is below the {needed} needed")


def run(
    kind: str, members: int, keys: RoomKeys, tmp: str, profile: str | None = None
) -> IdleResult:
    """Join ``members`` idle members (after the warm-up ones) and measure the relay's RSS."""
    raise_nofile(members + WARMUP_MEMBERS + 200)
    room_file = str(Path(tmp) / "room.json")
    if kind == "socketchat" and not Path(room_file).exists():
        RoomSecret.from_room_keys(keys).save(room_file)
    relay: RelayProcess | NgircdProcess
    if kind == "ngircd":
        relay = NgircdProcess(tmp)
    else:
        relay = RelayProcess(kind, room_file if kind == "socketchat" else None, profile)
    loop, counters = Loop(), Counters()
    deadline = time.perf_counter() + 60 + members * 0.05
    holder: list[BroadcastCheck] = []
    kept: list[Member] = []

    def joined(joiner: Joiner) -> None:
        if not holder:
            key = joiner.broadcast_key()
            holder.append(BroadcastCheck(keys, key, {}, {}))
        kept.append(Member(loop, joiner.take_socket(), counters, holder[0], -1, joiner.leftover))

    def irc_joined(joiner: irc.IrcJoiner) -> None:
        kept.append(irc.IrcMember(loop, joiner.take_socket(), counters, -1, bytes(joiner.buf)))

    def add(count: int, prefix: str) -> None:
        if kind == "ngircd":
            names = [f"{prefix}{i}" for i in range(count)]
            # 8 at a time: ngIRCd's listen backlog is 10, more would overflow it and the
            # dropped connects would wait a second for the kernel's retry.
            irc.join_many(
                loop, relay.port, names, concurrency=8, deadline=deadline, on_joined=irc_joined
            )
        elif kind == "socketchat":
            names = [f"{prefix}{i}" for i in range(count)]
            with shared_membership_checks():  # one process plays every joiner: see loadgen
                join_many(
                    loop,
                    relay.port,
                    names,
                    keys,
                    concurrency=32,
                    deadline=deadline,
                    on_joined=joined,
                )
        else:
            for _ in range(count):
                kept.append(Member(loop, connect(relay.port), counters, None))
        drain(loop, 0.3, deadline)

    if kind == "socketchat":
        prepare_identities(
            [f"{p}{i}" for p, n in (("w", WARMUP_MEMBERS), ("m", members)) for i in range(n)]
        )
    try:
        add(WARMUP_MEMBERS, "w")
        before = relay.stats()
        trimmed = relay.stats("trim") if isinstance(relay, RelayProcess) else before
        started, own = time.perf_counter(), cpu_seconds()
        add(members, "m")
        elapsed = time.perf_counter() - started
        own = cpu_seconds() - own
        after = relay.stats()
        trimmed_after = relay.stats("trim") if isinstance(relay, RelayProcess) else after
        if after["connections"] < members + WARMUP_MEMBERS:
            raise BenchError(f"only {after['connections']} connections held")
        if any(member.closed for member in kept):
            raise BenchError("the relay dropped idle members")
        return IdleResult(
            members,
            int(before["rss"]),
            int(after["rss"]),
            elapsed,
            int(trimmed["rss"]) if trimmed is not before else 0,
            int(trimmed_after["rss"]) if trimmed_after is not after else 0,
            after["cpu"] - before["cpu"],
            own,
        )
    finally:
        for member in kept:
            member.close()
        loop.close()
        relay.close()
