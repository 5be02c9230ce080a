"""Scenario 8: a room moving to a new epoch after a departure.

With sender keys, a member who leaves holds every key it was given; each member whose key
reached it moves to a fresh random key (a new epoch) before its next message and seals that
key to every member still present (``ClientProtocol.send_messages``: a SHARES frame before the
CHAT frame). This measures how long that takes in a room of N members, on loopback, with the
real relay process (:mod:`bench.relay_server`, as in the fan-out rows) and N real
:class:`net.proto.ClientProtocol` members, each fed every byte it receives (:class:`Peer`).

Setup (untimed): the N members join, and once each knows all the others, every member speaks
once, so every member holds every other member's key (N × (N − 1) shares). Then each trial:

1. a member leaves: its client sends GOODBYE (LEAVING) and closes — the clock starts when the
   GOODBYE is written;
2. the relay broadcasts LEFT (joins and leaves wait up to 50 ms to be sealed together);
3. as soon as the trial's sender (another member, a different one each trial, which has not
   spoken since its key reached the leaver) sees the departure (``MemberDeparted``), it sends
   the next message: its client makes a fresh key, seals it to the N − 2 members left, and
   seals the message under it;
4. the clock stops when every remaining member, the sender's own echo included, has opened
   that message (``ChatOpened``, under the new epoch). A member that got the message before
   its key (``ChatLocked``) would ask for it and open it later; the trial counts those.

Reported per trial: the wall time (1 to 4), the part until the sender saw the LEFT, the
sender's CPU time in ``send_messages`` (the re-keying: N − 2 HPKE seals and Ed25519
signatures, then the message), a receiver's CPU time from the send to its ``ChatOpened``
(the share's HPKE open and signature check, the message's open and check), and the relay's
CPU. One load-generator process plays every member on one core, so the wall time includes
every receiver's work one after another: on separate devices the receivers work in parallel.
"""

from __future__ import annotations

import selectors
import socket
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.loadgen import (
    BenchError,
    Joiner,
    Loop,
    RelayProcess,
    drain,
    join_many,
    prepare_identities,
)
from crypto.kdf import RoomKeys
from net import proto
from net.proto import PendingMessage, Reason
from net.relay.roomfile import RoomSecret

_RECV = 1 << 18
_SETUP_TIMEOUT = 300.0  # joins and N × (N − 1) shares: some 40 s of client work at 200
_TRIAL_TIMEOUT = 60.0
_SPEAK_GROUP = 8  # members who speak at once during setup (bounds what waits in buffers)


class Peer:
    """One member over a real socket, with its real client fed every byte it receives.

    ``on_event(peer, event)`` runs for each event, after the client's answer is written.
    ``cpu`` sums the CPU time spent in the client (receiving, and what :meth:`send_now` seals).
    """

    def __init__(
        self, loop: Loop, joiner: Joiner, on_event: Callable[[Peer, proto.Event], None]
    ) -> None:
        self.loop, self.name, self.proto = loop, joiner.name, joiner.proto
        self.on_event = on_event
        self.sock: socket.socket = joiner.take_socket()
        self.out = bytearray()
        self.closed = False
        self.error = ""
        self.cpu = 0.0
        loop.register(self.sock, self._on_event)
        if joiner.leftover:  # the start of a frame read along with the WELCOME
            self._receive(joiner.leftover)

    def _on_event(self, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self._flush()
        if mask & selectors.EVENT_READ and not self.closed:
            try:
                data = self.sock.recv(_RECV)
            except BlockingIOError:
                return
            except OSError as exc:
                self._fail(f"connection error: {exc}")
                return
            if not data:
                self._fail("the relay closed the connection")
                return
            self._receive(data)

    def _receive(self, data: bytes) -> None:
        started = time.thread_time()
        self.proto.receive_data(data)
        events = self.proto.events_received()
        answer = self.proto.data_to_send()
        self.cpu += time.thread_time() - started
        if answer:
            self.send(answer)
        for event in events:
            if isinstance(event, (proto.ProtocolViolation, proto.GoodbyeReceived)):
                self._fail(str(event))
                return
            self.on_event(self, event)

    def send_now(self, messages: list[PendingMessage]) -> float:
        """Seal ``messages`` with the client and write them; the client's CPU seconds."""
        started = time.thread_time()
        self.proto.send_messages(messages)
        data = self.proto.data_to_send()
        spent = time.thread_time() - started
        self.cpu += spent
        self.send(data)
        return spent

    def send(self, data: bytes) -> None:
        self.out += data
        self._flush()

    def _flush(self) -> None:
        if self.closed:
            return
        if self.out:
            try:
                sent = self.sock.send(self.out)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                self._fail(f"connection error: {exc}")
                return
            del self.out[:sent]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.out else 0)
        self.loop.modify(self.sock, self._on_event, events)

    def leave(self) -> None:
        """GOODBYE (LEAVING), written at once, then close (the client closes after it)."""
        self.proto.send_goodbye(Reason.LEAVING, "leaving")
        self.sock.setblocking(True)
        self.sock.sendall(bytes(self.out) + self.proto.data_to_send())
        self.out.clear()
        self.close()

    def _fail(self, why: str) -> None:
        self.error = f"{self.name}: {why}"
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.loop.unregister(self.sock)
            self.sock.close()


@dataclass
class Trial:
    """One departure and the next message (seconds)."""

    seconds: float  # GOODBYE written -> every remaining member opened the next message
    left_seen: float  # GOODBYE written -> the sender's client reported the departure
    rekey_cpu: float  # the sender's CPU in send_messages (fresh key sealed to N - 2, message)
    shares: int  # members the fresh key was sealed to
    receiver_cpu: float  # median over receivers: CPU from the send to their ChatOpened
    relay_cpu: float  # the relay's CPU during the trial
    locked: int  # receivers that got the message before its key (ChatLocked)
    old_epoch: int
    new_epoch: int


@dataclass
class EpochResult:
    members: int
    trials: list[Trial] = field(default_factory=list)
    setup_seconds: float = 0.0  # joins, then every member speaking once (its key shared)

    @property
    def median(self) -> float:
        return statistics.median(t.seconds for t in self.trials)

    @property
    def worst(self) -> float:
        return max(t.seconds for t in self.trials)


@dataclass
class _Watch:
    """What the current trial waits for."""

    leaver: str = ""
    sender: Peer | None = None
    message_id: bytes = b""
    sent_at: float = 0.0
    left_seen_at: float = 0.0
    rekey_cpu: float = 0.0
    cpu_at_send: dict[str, float] = field(default_factory=dict)
    opened: dict[str, tuple[float, float]] = field(default_factory=dict)  # name: (time, cpu)
    locked: set[str] = field(default_factory=set)
    epoch: int = 0


def run(members: int, trials: int, keys: RoomKeys, tmp: str) -> EpochResult:
    """Time ``trials`` departures from a room of ``members`` (see the module docstring)."""
    if members < 3 or 2 * trials > members - 1:
        raise BenchError("an epoch change needs 3 members and a sender and a leaver per trial")
    room_file = str(Path(tmp) / "room.json")
    if not Path(room_file).exists():
        RoomSecret.from_room_keys(keys).save(room_file)
    names = [f"e{i}" for i in range(members)]
    prepare_identities(names)
    result = EpochResult(members)
    loop = Loop()
    peers: list[Peer] = []
    seen: dict[str, set[bytes]] = {name: set() for name in names}
    watches = [_Watch()]  # the current trial's is the last

    def on_event(peer: Peer, event: proto.Event) -> None:
        watch = watches[-1]
        if isinstance(event, proto.ChatOpened):
            seen[peer.name].add(event.message_id)
            if event.message_id == watch.message_id:
                watch.opened[peer.name] = (time.perf_counter(), peer.cpu)
                watch.epoch = event.epoch
        elif isinstance(event, proto.ChatLocked) and event.message_id == watch.message_id:
            watch.locked.add(peer.name)
        elif (
            isinstance(event, proto.MemberDeparted)
            and peer is watch.sender
            and event.name == watch.leaver
            and not watch.sent_at
        ):
            watch.left_seen_at = time.perf_counter()
            watch.cpu_at_send = {p.name: p.cpu for p in peers if not p.closed}
            watch.sent_at = time.perf_counter()
            now_ms = int(time.time() * 1000)
            watch.rekey_cpu = peer.send_now([PendingMessage("next", watch.message_id, now_ms)])

    relay = RelayProcess("socketchat", room_file)
    started = time.perf_counter()
    deadline = started + _SETUP_TIMEOUT
    try:
        join_many(
            loop,
            relay.port,
            names,
            keys,
            concurrency=16,
            deadline=deadline,
            on_joined=lambda joiner: peers.append(Peer(loop, joiner, on_event)),
        )

        def healthy() -> None:
            for peer in peers:
                if peer.error:
                    why = relay.why_closed()
                    raise BenchError(peer.error + (f"; relay log: {why}" if why else ""))

        def everyone_known() -> bool:
            healthy()
            return all(len(p.proto.members) == members for p in peers)

        loop.run_until(everyone_known, deadline, "every member hearing of every other")
        _speak_once(loop, peers, seen, healthy, deadline)
        result.setup_seconds = time.perf_counter() - started
        for trial in range(trials):
            result.trials.append(
                _trial(loop, relay, peers, watches, trial, healthy, _epoch_of(peers[trial]))
            )
    finally:
        for peer in peers:
            peer.close()
        loop.close()
        relay.close()
    return result


def _epoch_of(peer: Peer) -> int:
    return peer.proto.keyring.own_epoch


def _speak_once(
    loop: Loop,
    peers: list[Peer],
    seen: dict[str, set[bytes]],
    healthy: Callable[[], None],
    deadline: float,
) -> None:
    """Every member sends one message (its key sealed to every other member first), a few
    at a time; returns once every member has opened every one of them."""
    now_ms = int(time.time() * 1000)
    ids: list[bytes] = []
    for start in range(0, len(peers), _SPEAK_GROUP):
        group = peers[start : start + _SPEAK_GROUP]
        for peer in group:
            message_id = b"first" + peer.name.encode().ljust(11, b"\0")
            ids.append(message_id)
            peer.send_now([PendingMessage("hello", message_id, now_ms)])
        wanted = set(ids)

        def group_read(wanted: set[bytes] = wanted) -> bool:
            healthy()
            return all(wanted <= seen[p.name] for p in peers)

        loop.run_until(group_read, deadline, "every member's first message read by all")


def _trial(
    loop: Loop,
    relay: RelayProcess,
    peers: list[Peer],
    watches: list[_Watch],
    trial: int,
    healthy: Callable[[], None],
    old_epoch: int,
) -> Trial:
    leaver = peers[-1 - trial]
    sender = peers[trial]
    watch = _Watch(
        leaver=leaver.name, sender=sender, message_id=b"next" + bytes([trial]) + bytes(11)
    )
    watches.append(watch)
    relay_before = relay.times()[0]
    started = time.perf_counter()
    leaver.leave()
    remaining = [p for p in peers if not p.closed]

    def all_opened() -> bool:
        healthy()
        return len(watch.opened) == len(remaining)

    loop.run_until(all_opened, started + _TRIAL_TIMEOUT, f"trial {trial}: the next message")
    finished = max(at for at, _cpu in watch.opened.values())
    relay_cpu = relay.times()[0] - relay_before
    receivers = [
        cpu - watch.cpu_at_send[name]
        for name, (_at, cpu) in watch.opened.items()
        if name != sender.name
    ]
    if watch.epoch <= old_epoch:
        raise BenchError(f"trial {trial}: the sender kept epoch {old_epoch} after a departure")
    drain(loop, 0.1, time.perf_counter() + 5)  # the room quiet again before the next trial
    return Trial(
        seconds=finished - started,
        left_seen=watch.left_seen_at - started,
        rekey_cpu=watch.rekey_cpu,
        shares=len(remaining) - 1,
        receiver_cpu=statistics.median(receivers),
        relay_cpu=relay_cpu,
        locked=len(watch.locked),
        old_epoch=old_epoch,
        new_epoch=watch.epoch,
    )
