"""Scenarios 1 and 2: fan-out capacity, and latency at a fixed load.

A room of N members on 127.0.0.1; 5 of them send 100-byte messages, every member (senders
included: a sender gets its own echo) receives every message. A delivery is one message
arriving at one member, so a message in a room of 50 counts 50. ngIRCd does not echo: there a
message counts N - 1 (see :mod:`bench.irc`).

* :func:`capacity` — the senders keep up to ``WINDOW[kind]`` messages each in flight (sent, own
  echo not yet back) and send whenever the window allows: the relay runs as fast as it can.
  Every sender's bytes are built *before* the clock starts (SocketChat's CHAT frames sealed by
  the real client, ``ClientProtocol.send_messages``; the baselines' frames and ngIRCd's
  ``PRIVMSG`` lines), so the load generator only writes and counts bytes while the relay is
  measured. Reports deliveries/s and relay CPU µs per delivery.
  With sender keys, a SocketChat sender's first message carries its key to every other member
  (a SHARES frame before the CHAT frame): :func:`open_room` has each sender send one message
  once the room is full, before any row, so those shares are never in a measured window. What
  is in the windows is the product's steady state: every 500 messages a sender moves to a new
  key and seals it to every member again (``send_messages`` puts those SHARES frames among the
  prebuilt ones), which the relay hands on one by one; the rows count the SHARE frames the
  members received (:attr:`Measured.shares`).
* :func:`latency` — the senders together send ``LOAD / receivers`` messages per second on a
  fixed schedule (5,000 deliveries/s whatever N), signing and sealing each message as they send
  it; reports p50 and p99 from "send" (before signing) to "opened and verified by the receiving
  member", for every delivery (SocketChat: each message's signature is verified once and that
  cost counted for every receiver, see :class:`bench.loadgen.BroadcastCheck`).
"""

from __future__ import annotations

import struct
import tempfile
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
    run_queue_seconds,
)
from bench.ngircd import NgircdProcess
from crypto.kdf import RoomKeys
from net.proto import ClientProtocol
from net.proto._messages import PendingMessage
from net.relay.roomfile import RoomSecret

SENDERS = 5
# Messages in flight per sender (sent, not yet seen arriving). Large enough that the relay
# always has input waiting: the capacity rows must say "relay" saturated, not "neither".
# SocketChat's stays modest: its relay drops a member whose queue passes 1 MiB, and one
# sealed frame there can carry many messages.
WINDOW = {
    "socketchat": 64,
    "plain": 1024,
    "plain-coalesced": 1024,
    "select": 1024,
    "ngircd": 1024,
}
TEXT = "x" * 100
#: The number of each sender's first message, sent by open_room (its key's shares go with it).
FIRST_MESSAGE = 2**40
LOAD = 5000.0  # deliveries per second in the latency scenario
_IN_FLIGHT_DELIVERIES = 50_000  # per sender: caps WINDOW in big rooms
_SETUP_TIMEOUT = 120.0


@dataclass
class Room:
    """A relay process with N members joined in the load generator's loop."""

    relay: RelayProcess | NgircdProcess
    loop: Loop
    counters: Counters
    senders: list[Member]
    protocols: list[ClientProtocol]  # the senders' (SocketChat only)
    sent: dict[bytes, float]
    check: BroadcastCheck | None
    kind: str = "socketchat"
    members: list[Member] | None = None  # every member (to notice one the relay dropped)
    receivers: int = 0  # members that receive each message (N, or N - 1 without an echo)

    def check_members(self) -> None:
        """BenchError if the relay dropped a member (ngIRCd drops a slow reader)."""
        for member in self.members or ():
            if member.closed:
                why = getattr(member, "error", "") or "closed"
                if isinstance(self.relay, RelayProcess) and self.relay.why_closed():
                    why = f"{why}; relay log: {self.relay.why_closed()}"
                raise BenchError(f"{self.kind} dropped a member: {why}")

    def close(self) -> None:
        self.loop.close()
        self.relay.close()


def open_room(
    kind: str, members: int, keys: RoomKeys, tmp: str, profile: str | None = None
) -> Room:
    """Start a ``kind`` relay and join ``members`` members (the first 5 are the senders).

    SocketChat: the senders join first, one at a time, then the receivers; the first receiver
    is the observer (see :mod:`bench.loadgen`). The senders' clients follow the room while it
    fills, so each knows every member; then each sends one message, whose SHARES frame hands
    its sender key to every other member, and the room is ready once every echo is back and
    the observer holds every sender's key. From then on only the observer's client reads
    (the SHARE frames of new keys); the senders' clients only seal.
    """
    if kind == "ngircd":
        return _open_irc_room(members, tmp)
    room_file = None
    if kind == "socketchat":
        room_file = str(Path(tmp) / "room.json")
        if not Path(room_file).exists():
            RoomSecret.from_room_keys(keys).save(room_file)
    relay = RelayProcess(kind, room_file, profile)
    loop, counters = Loop(), Counters()
    sent: dict[bytes, float] = {}
    senders: list[Member] = []
    protocols: list[ClientProtocol] = []
    deadline = time.perf_counter() + _SETUP_TIMEOUT
    try:
        if kind != "socketchat":
            for i in range(members):
                member = Member(loop, connect(relay.port), counters, None, i if i < SENDERS else -1)
                if i < SENDERS:
                    senders.append(member)
            return Room(relay, loop, counters, senders, protocols, sent, None, kind, None, members)
        names = {f"s{i}": i for i in range(SENDERS)}
        observer = f"r{SENDERS}"
        holder: list[BroadcastCheck] = []
        everyone: list[Member] = []

        def joined(joiner: Joiner) -> None:
            if not holder:  # the broadcast key, as the real client holds it after WELCOME
                key = joiner.broadcast_key()
                holder.append(BroadcastCheck(keys, key, names, sent))
            index = names.get(joiner.name, -1)
            keep = index >= 0 or joiner.name == observer
            member = Member(
                loop,
                joiner.take_socket(),
                counters,
                holder[0],
                index,
                joiner.leftover,
                proto=joiner.proto if keep else None,
            )
            everyone.append(member)
            if index >= 0:
                member.follow = True  # until the first message: learn every member
                senders.append(member)
                protocols.append(joiner.proto)
            if joiner.name == observer:
                holder[0].keys_from = joiner.proto

        wanted = list(names) + [f"r{i}" for i in range(SENDERS, members)]
        # Senders first and one at a time, so index i is sender i; then the rest, 16 at a time.
        join_many(
            loop,
            relay.port,
            wanted[:SENDERS],
            keys,
            concurrency=1,
            deadline=deadline,
            on_joined=joined,
            memo_names=frozenset(names),
        )
        join_many(
            loop,
            relay.port,
            wanted[SENDERS:],
            keys,
            concurrency=16,
            deadline=deadline,
            on_joined=joined,
        )
        drain(loop, 0.2, deadline)
        order = sorted(range(SENDERS), key=lambda k: senders[k].index)
        senders[:] = [senders[k] for k in order]
        protocols[:] = [protocols[k] for k in order]
        room = Room(
            relay, loop, counters, senders, protocols, sent, holder[0], kind, everyone, members
        )
        _first_messages(room, members, deadline)
        return room
    except BaseException:
        loop.close()
        relay.close()
        raise


def _first_messages(room: Room, members: int, deadline: float) -> None:
    """Each sender's first message, once its client knows all ``members``: its key goes to
    every other member (SHARES, then the CHAT frame). Returns when every echo is back and the
    observer's client holds every sender's key; the senders' clients then stop reading (from
    here on they only seal)."""
    loop, check = room.loop, room.check
    assert check is not None and check.keys_from is not None
    observer = check.keys_from

    def everyone_known() -> bool:
        room.check_members()
        return all(len(p.members) == members for p in room.protocols)

    loop.run_until(everyone_known, deadline, "the senders hearing of every member")
    for s, (member, client) in enumerate(zip(room.senders, room.protocols, strict=True)):
        member.inflight += 1
        member.send(_seal(client, s, FIRST_MESSAGE, 1, _RUN_MS))

    def keys_shared() -> bool:
        room.check_members()
        if any(m.inflight > 0 for m in room.senders):
            return False
        return all(
            observer.keyring.sender_key(p.identity.signing_public, p.keyring.own_epoch,
                                        room_id=observer.room_id) is not None
            for p in room.protocols
        )  # fmt: skip

    loop.run_until(keys_shared, deadline, "the senders' first messages and their shares")
    for member in room.senders:
        # Done: from here the senders only seal. Their clients open nothing more (a receiver's
        # work the load generator would otherwise do for them mid-window; the observer's
        # client goes on opening the new keys' shares that the sampled messages need).
        member.follow = False
        member.proto = None
    drain(loop, 0.05, deadline)


def _open_irc_room(members: int, tmp: str) -> Room:
    """ngIRCd with ``members`` members in its channel: senders ``s0``..``s4`` (operators with
    the flood exemption, user mode F), then receivers; the first receiver is the observer."""
    if members <= SENDERS:
        raise BenchError("an IRC room needs a receiver besides the senders (the observer)")
    relay = NgircdProcess(tmp)
    loop, counters = Loop(), Counters()
    joined: list[Member] = []
    deadline = time.perf_counter() + _SETUP_TIMEOUT

    def on_joined(joiner: irc.IrcJoiner) -> None:
        index = int(joiner.nick[1:]) if joiner.nick.startswith("s") else -1
        sock = joiner.take_socket()
        joined.append(irc.IrcMember(loop, sock, counters, index, bytes(joiner.buf)))

    try:
        names = [f"s{i}" for i in range(SENDERS)]
        irc.join_many(
            loop,
            relay.port,
            names,
            concurrency=1,
            deadline=deadline,
            on_joined=on_joined,
            oper=True,
        )
        rest = [f"r{i}" for i in range(SENDERS, members)]
        irc.join_many(  # 8 at a time: ngIRCd's listen backlog is 10
            loop, relay.port, rest, concurrency=8, deadline=deadline, on_joined=on_joined
        )
        drain(loop, 0.2, deadline)
        senders = joined[:SENDERS]
        observer = joined[SENDERS]
        assert isinstance(observer, irc.IrcMember)
        observer.watch(senders)
        room = Room(relay, loop, counters, senders, [], {}, None, "ngircd", joined, members - 1)
        room.check_members()
        return room
    except BaseException:
        loop.close()
        relay.close()
        raise


def _message_id(sender: int, number: int) -> bytes:
    return struct.pack(">BQ7x", sender, number)


def _plain_frame(sender: int) -> bytes:
    body = b"\x12" + bytes((sender,)) + struct.pack(">d", time.perf_counter()) + TEXT.encode()
    return len(body).to_bytes(4, "big") + body


# The capacity rows' messages carry one timestamp for the whole run, so that a sender's
# message n is the same signed message in every row (signed once: see MemoIdentity).
_RUN_MS = int(time.time() * 1000)


def _seal(
    proto: ClientProtocol, sender: int, number: int, batch: int = 1, now_ms: int | None = None
) -> bytes:
    """The real client signs, seals and frames ``batch`` messages: one CHAT frame's bytes,
    after a SHARES frame when the sender moves to a new key (its first message; every 500)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    messages = [PendingMessage(TEXT, _message_id(sender, number + k), now_ms) for k in range(batch)]
    proto.send_messages(messages)
    return proto.data_to_send()


@dataclass
class Measured:
    """One measured window."""

    seconds: float
    deliveries: int
    relay_cpu: float
    loadgen_cpu: float
    latencies: list[float]
    frames: int
    relay_wait: float = 0.0  # runnable, waiting for its CPU (taken by other work)
    loadgen_wait: float = 0.0
    # SocketChat capacity rows: messages sent in the whole row (warm-up and drain included),
    # and the Ed25519 checks the relay made meanwhile (it should make none: it never verifies).
    messages: int = 0
    relay_verifies: int | None = None
    shares: int = 0  # SHARE frames the members received in the window (new sender keys)

    @property
    def relay_busy(self) -> float:
        """Share of the window the relay ran or wanted to run (saturated near 100 %)."""
        return (self.relay_cpu + self.relay_wait) / self.seconds if self.seconds else 0.0

    @property
    def loadgen_busy(self) -> float:
        return (self.loadgen_cpu + self.loadgen_wait) / self.seconds if self.seconds else 0.0

    @property
    def rate(self) -> float:
        return self.deliveries / self.seconds if self.seconds else 0.0

    @property
    def relay_share(self) -> float:
        return self.relay_cpu / self.seconds if self.seconds else 0.0

    @property
    def loadgen_share(self) -> float:
        return self.loadgen_cpu / self.seconds if self.seconds else 0.0


def capacity(
    room: Room,
    *,
    seconds: float,
    messages_per_sender: int,
    batch: int = 1,
    warmup: float = 0.3,
    window: int | None = None,
) -> Measured:
    """Send as fast as the window allows; measure ``seconds`` after ``warmup``.

    SocketChat senders put ``batch`` messages in each CHAT frame, as the real client flushes
    what its outbox holds in one frame; the baselines send one frame per message, and ngIRCd's
    senders one ``PRIVMSG`` line. ``window`` (messages in flight per sender) defaults to
    ``WINDOW[kind]``, raised to two whole frames of ``batch``.
    """
    # Bounded in deliveries too (at most ~50,000 per sender in flight), so what is still in
    # flight when the window closes drains in seconds, before the latency run starts.
    cap = max(64, _IN_FLIGHT_DELIVERIES // max(room.receivers, 1))
    window = max(min(window or WINDOW[room.kind], cap), 2 * batch)
    frames: list[list[bytes]] = []
    units: list[bytes] = []  # baselines and ngIRCd: one message's bytes, repeated
    if room.protocols:
        frames = [
            [_seal(proto, s, n, batch, _RUN_MS) for n in range(0, messages_per_sender, batch)]
            for s, proto in enumerate(room.protocols)
        ]
    elif room.kind == "ngircd":
        units = [irc.privmsg(TEXT) for _ in room.senders]
    else:
        units = [_plain_frame(s) for s in range(len(room.senders))]
    used = [0] * len(room.senders)
    loop = room.loop
    verifies = _verifies(room)
    start = time.perf_counter()
    warm_end, end = start + warmup, start + warmup + seconds
    first = last = None
    exhausted = False
    while True:
        now = time.perf_counter()
        warmed = (
            now >= warm_end
            if not frames
            else (sum(used) * 7 >= sum(map(len, frames)) or now >= warm_end)
        )  # 1/7 of what is sealed
        if first is None and warmed:
            first = _snapshot(room, now)
        if first is not None and (now >= end or exhausted):
            last = _snapshot(room, time.perf_counter())
            break
        if now > end + 30:
            raise BenchError("capacity run overran")
        for s, member in enumerate(room.senders):
            room_left = window - member.inflight
            if room_left <= 0:
                continue
            if frames:
                whole = min(room_left // batch, len(frames[s]) - used[s])
                if used[s] >= len(frames[s]):
                    exhausted = True
                if whole <= 0:
                    continue
                data = b"".join(frames[s][used[s] : used[s] + whole])
                used[s] += whole
                take = whole * batch
            else:
                take = room_left
                data = units[s] * take
            member.inflight += take
            member.send(data)
        loop.run_once(0.01)
        room.check_members()
    # The sealed frames that are left must all go (the transport's nonces are a counter), but
    # within the window as before: all at once, they were megabytes per member that the load
    # generator could not read before the relay's 1 MiB bound dropped a member as too slow.
    drain_end = time.perf_counter() + 60
    while frames and any(used[s] < len(frames[s]) for s in range(len(frames))):
        if time.perf_counter() > drain_end:
            raise BenchError("the sealed frames left after the window did not drain in 60 s")
        for s, member in enumerate(room.senders):
            whole = min((window - member.inflight) // batch, len(frames[s]) - used[s])
            if whole > 0:
                member.inflight += whole * batch
                member.send(b"".join(frames[s][used[s] : used[s] + whole]))
                used[s] += whole
        loop.run_once(0.01)
        room.check_members()
    _settle(room)
    measured = _measured(first, last, [])
    if frames:
        measured.messages = sum(map(len, frames)) * batch
        after = _verifies(room)
        if verifies is not None and after is not None:
            measured.relay_verifies = after - verifies
    return measured


def _verifies(room: Room) -> int | None:
    """The Ed25519 checks the SocketChat relay process has made so far (None elsewhere)."""
    if room.kind != "socketchat" or not isinstance(room.relay, RelayProcess):
        return None
    return int(room.relay.stats()["verifies"])


def latency(room: Room, *, members: int, seconds: float, warmup: float = 0.3) -> Measured:
    """Send ``LOAD / receivers`` messages per second in total, on a schedule (5,000 deliveries
    per second); measure latency."""
    rate = LOAD / (room.receivers or members)
    interval = len(room.senders) / rate  # per sender
    counters, loop = room.counters, room.loop
    start = time.perf_counter()
    warm_end, end = start + warmup, start + warmup + seconds
    due = [start + interval * s / len(room.senders) for s in range(len(room.senders))]
    numbers = [10**6] * len(room.senders)
    clock = room.check.clock if room.check is not None else time.perf_counter
    if room.check is not None:
        room.check.verify_every_message = True  # as every receiver does, signatures included
    first = None
    while True:
        now = time.perf_counter()
        if first is None and now >= warm_end:
            counters.measuring = True
            first = _snapshot(room, now)
        if now >= end:
            counters.measuring = False
            last = _snapshot(room, now)
            break
        for s, member in enumerate(room.senders):
            while due[s] <= now:
                due[s] += interval
                if room.protocols:
                    number = numbers[s] = numbers[s] + 1
                    room.sent[_message_id(s, number)] = clock()
                    data = _seal(room.protocols[s], s, number)
                elif room.kind == "ngircd":
                    data = irc.stamped(time.perf_counter())
                else:
                    data = _plain_frame(s)
                member.inflight += 1
                member.send(data)
        loop.run_once(max(0.0, min(due) - time.perf_counter()))
        room.check_members()
    if first is None:  # cannot happen: the window opens (warm_end) no later than it closes
        raise BenchError("the measured window never opened")
    samples = counters.latencies[:]
    counters.latencies.clear()
    _settle(room)
    if room.check is not None:
        room.check.verify_every_message = False
    return _measured(first, last, samples)


def _snapshot(room: Room, now: float) -> tuple[float, ...]:
    relay_cpu, relay_wait = room.relay.times()  # from /proc: never waits for a busy relay
    counters = room.counters
    return (
        now,
        counters.deliveries,
        relay_cpu,
        cpu_seconds(),
        counters.frames,
        relay_wait,
        run_queue_seconds(),
        counters.shares,
    )


def _measured(first: tuple[float, ...], last: tuple[float, ...], samples: list[float]) -> Measured:
    d = [b - a for a, b in zip(first, last, strict=True)]
    measured = Measured(d[0], int(d[1]), d[2], d[3], samples, int(d[4]), d[5], d[6])
    measured.shares = int(d[7])
    return measured


def _settle(room: Room) -> None:
    """Let every message in flight arrive, so the next run starts from a quiet room."""
    deadline = time.perf_counter() + 60
    while any(m.inflight > 0 for m in room.senders):
        if time.perf_counter() > deadline:  # the next run would measure this backlog
            raise BenchError("messages still in flight 60 s after the window closed")
        room.loop.run_once(0.02)
        room.check_members()
    drain(room.loop, 0.05, time.perf_counter() + 2)
    if room.check is not None:
        room.check.finish()  # every sampled message opened, its key having come


def percentile(samples: list[float], q: float) -> float:
    """The ``q``-quantile (0..1) by nearest rank; 0.0 for no samples."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def temp_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="socketchat-bench-")
