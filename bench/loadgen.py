"""The load generator's building blocks: the relay process, a selector loop, and members.

Members are deliberately light so that one load-generator core can drive hundreds or thousands
of them: a non-blocking socket, a receive buffer and a few counters, all in one selector loop
(no thread or task per member). SocketChat members join with the real
:class:`net.proto.ClientProtocol` (protocol v2: keys derived once per run and reused; each name
has its own identity, generated once per run by :func:`identity_for`), then read
broadcasts with :class:`BroadcastCheck`: the first member to receive a broadcast opens it with
the real :class:`crypto.transport.BroadcastOpener` and decodes its items; every other member
compares its copy byte for byte with that verified frame (equal bytes authenticate equally) and
checks its sequence number increases. A sample of the chat envelopes inside (every
``sample_every``-th; every one in the latency rows, see ``BroadcastCheck.verify_every_message``)
is opened end to end with the message key of its sender's sender key and its signature
verified.

Sender keys reach the members as they do in the product: a sender's ``send_messages`` seals
its key to every other member (SHARES, before the CHAT frame) and the relay hands each share to
its recipient (SHARE). A member that keeps its ``ClientProtocol`` (:class:`Member`'s
``proto``: in the fan-out rows one receiver, the *observer*, and the senders until their first
message is out) feeds it every unicast frame, so it opens the shares addressed to it;
:class:`BroadcastCheck` opens the sampled envelopes with the keys the observer's client
received (``BroadcastCheck.keys_from``). The other members count the SHARE frames they get and
skip them, as they skip a verified broadcast's repeated bytes.
The relay does all its real work; only the receivers' repeated opening of identical bytes, and
their opening of their own shares, is skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from crypto import epoch
from crypto.envelope import envelope_header, open_message
from crypto.epoch import message_key
from crypto.identity import Identity
from crypto.kdf import RoomKeys
from crypto.transport import BroadcastOpener
from net import proto
from net.proto import ClientProtocol, FrameType
from net.proto._messages import ChatItem, JoinedItem, decode_items

ROOT = Path(__file__).resolve().parent.parent
_BROADCAST = FrameType.BROADCAST
_SHARE = FrameType.SHARE
_RECV = 1 << 18
#: Baseline frames: length, 0x12, sender u8, send time f64, 100 bytes of text.
PLAIN_FRAME = 4 + 1 + 1 + 8 + 100


class BenchError(RuntimeError):
    """Something went wrong in a benchmark (a crash, a refusal, a deadline)."""


class MemoIdentity(Identity):
    """An identity whose signatures are remembered (Ed25519 is deterministic, RFC 8032: the
    same bytes always get the same signature, so a remembered one is exactly what signing
    again would give). A sender's capacity rows send the same messages (same ids, counters,
    timestamp) row after row; each is signed once per run, so the rows measure the relay,
    not the load generator's signing. The latency rows send new messages: signed for real."""

    __slots__ = ("_memo",)

    _MEMO_LIMIT = 200_000
    _memo: dict[tuple[bytes, str], bytes]

    def __init__(self, base: Identity) -> None:
        super().__init__(signing_key=base._signing_key, dh_key=base._dh_key)
        object.__setattr__(self, "_memo", {})

    def sign(self, message: bytes, *, context: str) -> bytes:
        memo = self._memo
        key = (bytes(message), context)
        signature = memo.get(key)
        if signature is None:
            if len(memo) >= self._MEMO_LIMIT:
                memo.clear()
            signature = memo[key] = super().sign(message, context=context)
        return signature


_IDENTITIES: dict[str, Identity] = {}


def identity_for(name: str, *, memo: bool = False) -> Identity:
    """The identity of the simulated member ``name``: generated on first use, then the same
    for the whole run (one device per name, as the relay binds a name to its first identity).
    ``memo``: a :class:`MemoIdentity` (the senders)."""
    identity = _IDENTITIES.get(name)
    if identity is None or (memo and not isinstance(identity, MemoIdentity)):
        identity = Identity.generate() if identity is None else identity
        if memo:
            identity = MemoIdentity(identity)
        _IDENTITIES[name] = identity
    return identity


def prepare_identities(names: list[str]) -> None:
    """Generate the identities of ``names`` now, before a timed part (a real client loads its
    identity from disk; generating one is not part of joining)."""
    for name in names:
        identity_for(name)


@contextlib.contextmanager
def shared_membership_checks() -> Iterator[None]:
    """While the load generator plays a room filling up: check each member's tag once.

    A joining client checks the membership tag of every member its WELCOME lists (and of each
    JOINED), so N clients joining one room check some N²/2 tags. On their own devices that is
    each one's work, in parallel (about 57 µs a tag here: 0.3 s of CPU for one joiner of a
    5,000-member room); in one load-generator process it is one core's, an hour for a
    5,000-member fill. Equal bytes verify equally: a tag that verified for these keys is taken
    as verified for the other clients the process plays, as a broadcast is opened once
    (:class:`BroadcastCheck`). A tag that fails is checked again each time. The relay's work
    is unchanged. Restores the real check on exit.
    """
    original = epoch.check_membership
    verified: set[tuple[bytes, bytes, bytes, bytes, bytes]] = set()

    def check(
        member_key: bytes, tag: bytes, *, room_id: bytes, signing_key: bytes, dh_key: bytes
    ) -> None:
        key = (bytes(member_key), bytes(tag), bytes(room_id), bytes(signing_key), bytes(dh_key))
        if key not in verified:
            original(member_key, tag, room_id=room_id, signing_key=signing_key, dh_key=dh_key)
            verified.add(key)

    epoch.check_membership = check
    try:
        yield
    finally:
        epoch.check_membership = original


# The CPUs this process may use, read once at import (before pin_loadgen() narrows them): the
# relay under test gets the first, the load generator the last, so neither steals the other's
# core. With one CPU nothing is pinned.
_CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def pin_relay(pid: int) -> None:
    """Pin process ``pid`` (a relay under test, of any kind) to the relay's core."""
    if len(_CPUS) >= 2:
        os.sched_setaffinity(pid, {_CPUS[0]})


def pin_loadgen() -> None:
    """Pin this process (the load generator) to its own core, apart from the relay's."""
    if len(_CPUS) >= 2:
        os.sched_setaffinity(0, {_CPUS[-1]})


class RelayProcess:
    """``python -m bench.relay_server`` in a child process; ask it for its CPU and RSS."""

    def __init__(
        self, kind: str, room: str | None = None, profile: str | None = None, limits: str = ""
    ) -> None:
        args = [sys.executable, "-m", "bench.relay_server", "--kind", kind, "--port", "0"]
        if limits:
            args += ["--limits", limits]
        self.log: Path | None = None
        if room:
            args += ["--room", room]
            self.log = Path(room).with_name(f"relay-{os.getpid()}-{time.monotonic_ns()}.log")
            args += ["--log", str(self.log)]
        if profile:
            args += ["--profile", profile]
        self.kind = kind
        self.proc = subprocess.Popen(
            args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        pin_relay(self.proc.pid)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            self.close()
            raise BenchError(f"{kind} relay did not start (said {line!r})")
        self.port = int(line)

    def stats(self, command: str = "stats") -> dict[str, float]:
        """The relay's own CPU seconds so far, RSS bytes and connection count; and ``wait``,
        its seconds spent runnable but waiting for a CPU (see :func:`run_queue_seconds`).
        ``command="trim"``: RSS once the relay returned its free heap memory to the system."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{command}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise BenchError(f"{self.kind} relay exited (status {self.proc.poll()})")
        return {**json.loads(line), "wait": run_queue_seconds(self.proc.pid)}

    def times(self) -> tuple[float, float]:
        """The relay's CPU seconds and run-queue wait, read from ``/proc`` (no round trip)."""
        cpu, wait = proc_times(self.proc.pid)
        return (cpu, wait) if cpu else (self.stats()["cpu"], 0.0)

    def why_closed(self) -> str:
        """The relay's last log line about closing a connection ("" if none): why it dropped
        a member."""
        if self.log is None:
            return ""
        try:
            lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return ""
        closing = [line for line in lines if "closing" in line or "disconnected" in line]
        return closing[-1] if closing else ""

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> RelayProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Loop:
    """A selector loop: each registered socket's ``data`` is its callback ``(mask) -> None``."""

    def __init__(self) -> None:
        self.sel = selectors.DefaultSelector()

    def register(
        self,
        sock: socket.socket,
        callback: Callable[[int], None],
        events: int = selectors.EVENT_READ,
    ) -> None:
        self.sel.register(sock, events, callback)

    def modify(self, sock: socket.socket, callback: Callable[[int], None], events: int) -> None:
        self.sel.modify(sock, events, callback)

    def unregister(self, sock: socket.socket) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(sock)

    def run_once(self, timeout: float) -> int:
        events = self.sel.select(max(0.0, timeout))
        for key, mask in events:
            key.data(mask)
        return len(events)

    def run_until(self, done: Callable[[], bool], deadline: float, what: str) -> None:
        while not done():
            left = deadline - time.perf_counter()
            if left <= 0:
                raise BenchError(f"timed out: {what}")
            self.run_once(min(left, 0.05))

    def close(self) -> None:
        self.sel.close()


def connect(port: int, *, wait: bool = True, source: str | None = None) -> socket.socket:
    """A TCP_NODELAY connection to the relay on 127.0.0.1, non-blocking once connected.

    Without ``wait`` the connect is only started (a join storm opens every connection at once):
    sends fail with BlockingIOError until it completes, and the socket turns writable then.
    ``source``: the loopback address to connect from (see :func:`storm_source`).
    """
    if wait and source is None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if source is not None:
            sock.bind((source, 0))
        sock.setblocking(not wait)
        if wait:
            sock.settimeout(10)
            sock.connect(("127.0.0.1", port))
        else:
            sock.connect_ex(("127.0.0.1", port))  # EINPROGRESS, or done already on loopback
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    return sock


def storm_source(index: int) -> str:
    """A loopback address of its own for client ``index`` of a storm (127.1.0.1, 127.1.0.2 …):
    the members of a restarted room come from many addresses, and the relay's per-address
    limits must see them so. Linux routes all of 127.0.0.0/8 to the loopback interface."""
    return f"127.1.{index // 250}.{1 + index % 250}"


def split_frames(buf: bytearray) -> list[bytes]:
    """Remove and return the complete frame bodies at the front of ``buf``."""
    bodies = []
    pos, end = 0, len(buf)
    while end - pos >= 4:
        length = int.from_bytes(buf[pos : pos + 4], "big")
        if end - pos - 4 < length:
            break
        bodies.append(bytes(buf[pos + 4 : pos + 4 + length]))
        pos += 4 + length
    if pos:
        del buf[:pos]
    return bodies


@dataclass
class FrameInfo:
    """What one verified broadcast holds, shared by every member who receives it."""

    body: bytes
    chats: int
    per_sender: dict[int, int]
    sent: list[float]


@dataclass
class Counters:
    """Totals the scenarios read; ``measuring`` gates the latency samples."""

    deliveries: int = 0
    frames: int = 0
    shares: int = 0  # SHARE frames received (sender keys handed on by the relay)
    measuring: bool = False
    latencies: list[float] = field(default_factory=list)


class BroadcastCheck:
    """Verifies each distinct broadcast once; see the module docstring."""

    def __init__(
        self,
        keys: RoomKeys,
        broadcast_key: bytes,
        senders: dict[str, int],
        sent: dict[bytes, float],
        sample_every: int = 10,
    ) -> None:
        self._keys = keys
        self._key = broadcast_key
        self._senders = senders
        self._sent = sent
        self._sample_every = sample_every
        self._chats_seen = 0
        self._frames: dict[int, FrameInfo] = {}
        self._order: list[int] = []
        self.opened = 0
        # Latency rows: every message is opened and its signature verified, as every receiver
        # does before it can show it. That happens once here, for all receivers: its cost is
        # added to each delivery's latency (the receiver's own verification, its messages one
        # after another within a frame), and taken off the load generator's clock (clock()),
        # so that a receiver read after the one that verified does not wait for it as well.
        self.verify_every_message = False
        self.verify_seconds = 0.0
        #: The client whose keyring holds the sender keys (the observer's: they reached it in
        #: SHARE frames through the relay). A sampled envelope whose key it does not hold yet
        #: (a new epoch's share still on its way) waits in ``_deferred`` until it does.
        self.keys_from: ClientProtocol | None = None
        self._deferred: list[ChatItem] = []

    def clock(self) -> float:
        """``perf_counter()`` less the time spent verifying for every receiver (see above)."""
        return time.perf_counter() - self.verify_seconds

    def info(self, body: bytes) -> tuple[int, FrameInfo]:
        seq = int.from_bytes(body[1:9], "big")
        info = self._frames.get(seq)
        if info is not None:
            if info.body != body:
                raise BenchError(f"broadcast {seq} differs between members")
            return seq, info
        payload = BroadcastOpener(self._key, next_seq=seq).open(_BROADCAST, body[1:])
        self.opened += 1
        chats = 0
        per_sender: dict[int, int] = {}
        sent: list[float] = []
        waited = 0.0  # a receiver's verifications so far in this frame
        for item in decode_items(payload):
            if isinstance(item, ChatItem):
                chats += 1
                index = self._senders.get(item.sender, -1)
                per_sender[index] = per_sender.get(index, 0) + 1
                t = self._sent.pop(item.message_id, None)
                self._chats_seen += 1
                if self.verify_every_message:
                    started = time.perf_counter()
                    self._open_end_to_end(item)
                    spent = time.perf_counter() - started
                    self.verify_seconds += spent
                    waited += spent
                elif self._chats_seen % self._sample_every == 0:
                    self._open_end_to_end(item)
                if t is not None:
                    sent.append(t - waited)  # as if sent earlier: adds the verifications
            elif not isinstance(item, JoinedItem):
                pass
        info = FrameInfo(body, chats, per_sender, sent)
        self._frames[seq] = info
        self._order.append(seq)
        if len(self._order) > 20_000:
            for old in self._order[:10_000]:
                self._frames.pop(old, None)
            del self._order[:10_000]
        return seq, info

    def _open_end_to_end(self, item: ChatItem) -> None:
        # Decrypts and verifies the sender's signature (AuthenticationError otherwise), with the
        # message key of the sender key the header names, as a receiving client does.
        header = envelope_header(item.envelope)
        client = self.keys_from
        if client is None:
            raise BenchError("no member keeps the sender keys to open sampled messages with")
        found = client.keyring.sender_key(
            header.signing_key, header.epoch, room_id=self._keys.room_id
        )
        if found is None or not found[1]:  # not here yet (a ratchet guess is not the key)
            self._deferred.append(item)
            if len(self._deferred) > 10_000:
                raise BenchError("sampled messages wait for sender keys that never came")
            return
        key = message_key(
            found[0], room_id=self._keys.room_id, signing_key=header.signing_key, epoch=header.epoch
        )
        open_message(key, item.envelope, room_id=self._keys.room_id, sender=item.sender)

    def retry(self) -> None:
        """Open the sampled messages that waited for their sender key (call when one came)."""
        waiting, self._deferred = self._deferred, []
        for item in waiting:
            self._open_end_to_end(item)

    def finish(self) -> None:
        """BenchError if a sampled message is still waiting for its key (a share was lost)."""
        self.retry()
        if self._deferred:
            raise BenchError(
                f"{len(self._deferred)} sampled messages never got their sender key"
                " (a SHARE did not reach the observer)"
            )


class Member:
    """One connected member: reads frames and counts what they carry.

    ``check`` is a :class:`BroadcastCheck` for SocketChat members, None for the baselines
    (whose frames are ``0x12 | sender u8 | send time f64 | text``, one message each).

    ``proto`` (SocketChat only): the member's own client, which keeps its connection's keys.
    Every unicast frame (SHARE above all) is fed to it, framed again, so its keyring gets the
    sender keys; with ``follow`` set, every broadcast too (its member list then follows the
    room: a sender's does while the room fills, so that its first message's shares reach
    everyone). Without ``proto`` a unicast frame is only counted (SHARE) and skipped. The
    client's reader must hold nothing (the joiner's leftover bytes come as ``initial``).
    """

    __slots__ = (
        "buf",
        "check",
        "closed",
        "counters",
        "error",
        "follow",
        "index",
        "inflight",
        "last_seq",
        "loop",
        "out",
        "proto",
        "sock",
    )

    def __init__(
        self,
        loop: Loop,
        sock: socket.socket,
        counters: Counters,
        check: BroadcastCheck | None,
        index: int = -1,
        initial: bytes = b"",
        proto: ClientProtocol | None = None,
    ) -> None:
        self.loop, self.sock, self.counters, self.check = loop, sock, counters, check
        self.index = index  # sender number, -1 for a pure receiver
        self.buf = bytearray(initial)  # what the joiner read of the next frame
        self.out = bytearray()
        self.inflight = 0
        self.last_seq = 0
        self.closed = False
        self.error = ""
        self.proto = proto
        self.follow = False
        loop.register(sock, self.on_event)

    def on_event(self, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self.flush()
        if mask & selectors.EVENT_READ:
            self.on_readable()

    def on_readable(self) -> None:
        try:
            data = self.sock.recv(_RECV)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.closed = True
            self.loop.unregister(self.sock)
            return
        self.buf += data
        if self.check is None and not self.counters.measuring:
            self._count_plain()
            return
        bodies = split_frames(self.buf)
        if bodies:
            self._handle(bodies)

    def _count_plain(self) -> None:
        # Baseline frames all have one size: count them, and our own echoes, without a
        # Python step per frame (the load generator must not be what limits the ceiling).
        buf = self.buf
        count = len(buf) // PLAIN_FRAME
        if count:
            end = count * PLAIN_FRAME
            if self.index >= 0:
                self.inflight -= buf[5:end:PLAIN_FRAME].count(self.index)
            del buf[:end]
            self.counters.deliveries += count
            self.counters.frames += count

    def _handle(self, bodies: list[bytes]) -> None:
        counters = self.counters
        now = time.perf_counter() if self.check is None else self.check.clock()
        latencies = counters.latencies if counters.measuring else None
        if self.check is None:
            mine = 0
            for body in bodies:
                if body[1] == self.index:
                    mine += 1
                if latencies is not None:
                    latencies.append(now - struct.unpack_from(">d", body, 2)[0])
            counters.deliveries += len(bodies)
            counters.frames += len(bodies)
            self.inflight -= mine
            return
        for body in bodies:
            if body[0] != _BROADCAST:
                # Unicast, sealed for this member: a SHARE is counted; the member's own client
                # opens it if it has one (else skipped, like PING and NOTICE).
                if body[0] == _SHARE:
                    counters.shares += 1
                if self.proto is not None:
                    self.feed(body)
                continue
            if self.follow and self.proto is not None:
                self.feed(body)
            seq, info = self.check.info(body)
            if seq <= self.last_seq:
                raise BenchError("broadcast sequence did not increase")
            self.last_seq = seq
            counters.deliveries += info.chats
            counters.frames += 1
            if self.index >= 0:
                self.inflight -= info.per_sender.get(self.index, 0)
            if latencies is not None:
                latencies.extend(now - t for t in info.sent)

    def feed(self, body: bytes) -> list[proto.Event]:
        """Hand one frame body to the member's client; return its events. What the client
        answers is written at once while it ``follow``s the room (nothing is queued ahead of
        it then); otherwise it must answer nothing, or it would pass sealed frames waiting to
        go (the relay would refuse them out of order)."""
        client = self.proto
        if client is None:
            return []
        client.receive_data(len(body).to_bytes(4, "big") + body)
        events = client.events_received()
        for event in events:
            if isinstance(event, (proto.ProtocolViolation, proto.GoodbyeReceived)):
                self.error = f"{client.username}: {event}"
                self.close()
                return events
        answer = client.data_to_send()
        if answer:
            if not self.follow:
                raise BenchError(f"{client.username} had to answer {body[0]:#x} mid-window")
            self.send(answer)
        if body[0] == _SHARE and self.check is not None:
            self.check.retry()
        return events

    def send(self, data: bytes) -> None:
        """Queue ``data`` and write what the socket takes now."""
        self.out += data
        self.flush()

    def flush(self) -> None:
        if self.out:
            try:
                sent = self.sock.send(self.out)
            except BlockingIOError:
                sent = 0
            del self.out[:sent]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.out else 0)
        if not self.closed:
            self.loop.modify(self.sock, self.on_event, events)

    def close(self) -> None:
        self.loop.unregister(self.sock)
        self.sock.close()
        self.closed = True


class Joiner:
    """One SocketChat join in progress in the selector loop: connect, handshake, WELCOME.

    ``on_done(joiner)`` runs once, on WELCOME (``self.welcome`` set) or on failure
    (``self.error`` set). The socket stays registered to this joiner until the caller takes it
    over with :meth:`take_socket` or closes it.
    """

    def __init__(
        self,
        loop: Loop,
        port: int,
        name: str,
        keys: RoomKeys | None,
        on_done: Callable[[Joiner], None],
        derive: Callable[[bytes], RoomKeys] | None = None,
        *,
        wait_connect: bool = True,
        memo_names: frozenset[str] = frozenset(),
        source: str | None = None,
    ) -> None:
        self.loop, self.name, self.on_done, self.derive = loop, name, on_done, derive
        self.queued = 0  # QUEUED frames received: the relay kept our place in line
        self.started = time.perf_counter()
        self.finished = 0.0
        self.welcome: proto.Welcomed | None = None
        self.error = ""
        self.leftover = b""  # the start of a frame read after WELCOME (see _on_event)
        self.proto = ClientProtocol(
            username=name, identity=identity_for(name, memo=name in memo_names), keys=keys
        )
        self.sock = connect(port, wait=wait_connect, source=source)
        self.proto.initiate()
        self._out = bytearray()
        loop.register(self.sock, self._on_event)
        self._write(self.proto.data_to_send())

    def _write(self, data: bytes) -> None:
        self._out += data
        if self._out:
            try:
                sent = self.sock.send(self._out)
            except BlockingIOError:
                sent = 0
            except OSError as exc:  # a refused or reset connect (join storm)
                if not self.finished:
                    self._fail(f"connection error: {exc}")
                return
            del self._out[:sent]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self._out else 0)
        self.loop.modify(self.sock, self._on_event, events)

    def _on_event(self, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self._write(b"")
        if not mask & selectors.EVENT_READ or self.finished:
            return
        try:
            data = self.sock.recv(_RECV)
        except BlockingIOError:
            return
        except OSError as exc:
            return self._fail(f"connection error: {exc}")
        if not data:
            return self._fail("relay closed the connection")
        self.proto.receive_data(data)
        for event in self.proto.events_received():
            if isinstance(event, proto.KeysRequired) and self.derive is not None:
                self.proto.provide_keys(self.derive(event.room_id))
            elif isinstance(event, proto.Welcomed):
                self.welcome = event
            elif isinstance(event, proto.Queued):
                self.queued += 1
            elif isinstance(
                event,
                (
                    proto.Refused,
                    proto.RelayKeyMismatch,
                    proto.AuthenticationFailed,
                    proto.ProtocolViolation,
                    proto.KeysRequired,
                    proto.ConnectionClosed,
                    proto.GoodbyeReceived,
                ),
            ):
                self._fail(f"join failed: {event}")
                return
        self._write(self.proto.data_to_send())
        if self.welcome is not None:
            # A broadcast can follow the WELCOME in the same read, cut by the read's end: the
            # member that takes the socket over must start from those bytes.
            reader = self.proto._reader
            length = reader._length
            self.leftover = bytes(reader._buf)
            if length is not None:
                self.leftover = length.to_bytes(4, "big") + self.leftover
            reader.clear()  # the leftover is the new owner's: a client fed on starts clean
            self.finished = time.perf_counter()
            self.on_done(self)

    def _fail(self, why: str) -> None:
        self.error = why
        self.finished = time.perf_counter()
        self.on_done(self)

    def broadcast_key(self) -> bytes:
        """The room's broadcast key, as the client holds it after WELCOME.

        Read from the core's private state: a benchmark checks every broadcast itself rather
        than running a client protocol per member.
        """
        opener = self.proto._broadcast
        if opener is None:
            raise BenchError(f"{self.name} has no broadcast key: not welcomed")
        return opener._key

    def take_socket(self) -> socket.socket:
        """Unregister and return the joined socket (for a :class:`Member`)."""
        self.loop.unregister(self.sock)
        return self.sock

    def close(self) -> None:
        self.loop.unregister(self.sock)
        self.sock.close()


def join_many(
    loop: Loop,
    port: int,
    names: list[str],
    keys: RoomKeys,
    *,
    concurrency: int,
    deadline: float,
    keep: bool = True,
    on_joined: Callable[[Joiner], None] | None = None,
    wait_connect: bool = True,
    memo_names: frozenset[str] = frozenset(),
) -> list[Joiner]:
    """Join ``names`` with at most ``concurrency`` handshakes in flight; return the joiners.

    With ``keep`` the sockets stay open (``on_joined`` usually turns each into a Member);
    without, each joiner disconnects as soon as it is welcomed (the room stays small).
    ``wait_connect=False`` only starts each connect (see :func:`connect`).
    """
    pending = list(reversed(names))
    done: list[Joiner] = []
    active = [0]

    def finished(joiner: Joiner) -> None:
        active[0] -= 1
        done.append(joiner)
        if joiner.error:
            joiner.close()
            raise BenchError(f"{joiner.name}: {joiner.error}")
        if keep and on_joined is not None:
            on_joined(joiner)
        elif not keep:
            joiner.close()
        start_more()

    def start_more() -> None:
        while pending and active[0] < concurrency:
            active[0] += 1
            Joiner(
                loop,
                port,
                pending.pop(),
                keys,
                finished,
                wait_connect=wait_connect,
                memo_names=memo_names,
            )

    start_more()
    loop.run_until(lambda: len(done) == len(names), deadline, f"joining {len(names)} members")
    return done


def drain(loop: Loop, quiet: float, deadline: float) -> None:
    """Run the loop until nothing arrives for ``quiet`` seconds (or the deadline)."""
    last = time.perf_counter()
    while True:
        now = time.perf_counter()
        if now - last >= quiet or now >= deadline:
            return
        if loop.run_once(min(quiet, deadline - now)):
            last = time.perf_counter()


def proc_times(pid: int | str = "self") -> tuple[float, float]:
    """Process ``pid``'s seconds on a CPU and seconds runnable but waiting for one.

    Summed over its threads from ``/proc/<pid>/task/*/schedstat`` (nanoseconds; the on-CPU
    total is what ``getrusage`` splits into user and system time). Read from outside, so a
    relay busy with a burst need not answer for its figures to be taken, and the reading does
    not stall the load generator. On a shared machine a pinned relay can be starved by other
    work on its core: CPU plus wait is the share of the window in which it *wanted* to run.
    (0.0, 0.0) where the kernel does not keep these.
    """
    cpu = wait = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0, 0.0
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat", encoding="ascii") as stat:
                fields = stat.read().split()
            cpu += int(fields[0])
            wait += int(fields[1])
        except (OSError, ValueError, IndexError):
            continue  # a thread that just ended
    return cpu / 1e9, wait / 1e9


def run_queue_seconds(pid: int | str = "self") -> float:
    """Seconds process ``pid`` has spent runnable but waiting for a CPU (see proc_times)."""
    return proc_times(pid)[1]


def cpu_seconds() -> float:
    """This process's CPU time (user + system)."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime
