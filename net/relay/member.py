"""One relay connection: the asyncio.Protocol that drives a RelayProtocol core for the Relay.

:class:`MemberConnection` turns asyncio's callbacks into protocol-core calls, asks the relay's
:class:`~net.relay.admission.Admission` before any password work, and turns core events into
calls on its :class:`RelayHost` (join, submit, hand_out, want, act, left); it owns the connection's
timers (pre-hello and handshake deadlines, idle ping and reaping, rate-limit pacing), its rate
limits (messages, sender key shares) and the polite ways to end it. A connection from a trusted
proxy (``RelayConfig.trust_proxy``) first gives its PROXY v2 header (``net.relay.proxyheader``):
the client's address it names becomes the connection's peer before admission sees it.

A joined member's frames are served at its message rate, in the order sent: each message is
charged before it is stored, and what the bucket does not cover waits in a
:class:`~net.relay.backlog.Backlog` until it refills. A member over its rate is still read, up
to a small bound of what waits, so that its GOODBYE or EOF is seen at once: it leaves now, and
what waited is dropped unacknowledged (its client hands those messages back as not sent). Past
the bound, reading pauses (TCP backpressure).

Slotted and task-free: at thousands of idle members, what one connection costs is what the
relay costs.

It knows the relay only through :class:`RelayHost` (a ``typing.Protocol`` that
:class:`net.relay.server.Relay` satisfies), so the two modules import in one direction only.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Callable, Sequence
from typing import Protocol

from net import proto
from net.proto import (
    LocalProtocolError,
    Reason,
    RelayProtocol,
    RelayState,
    ShareBudget,
    TokenBucket,
    source_key,
)
from net.relay.admission import Admission, Hold, PakeOutcome, Queue, Refuse, Wake
from net.relay.backlog import Backlog, Entry, Envelopes
from net.relay.config import RelayConfig
from net.relay.fileserve import FileEvent, FileSender
from net.relay.proxyheader import BadHeader, NeedMore, is_trusted, parse_proxy_header
from net.relay.roomfile import RoomSecret

logger = logging.getLogger("socketchat.relay")

_PLAINTEXT = (
    RelayState.AWAIT_CLIENT_HELLO,
    RelayState.AWAIT_CLIENT_OPEN,
    RelayState.ROOM_PENDING,
    RelayState.AWAIT_CLIENT_PAKE,
)
_ENCRYPTED = (RelayState.AWAIT_JOIN, RelayState.JOIN_PENDING, RelayState.JOINED)
# Bytes in these states may lead to PAKE work (our share is computed on CLIENT_OPEN): ask the
# admission policy first.
_BEFORE_PAKE = (RelayState.AWAIT_CLIENT_HELLO, RelayState.AWAIT_CLIENT_OPEN)
# Events that end a member's turn whatever waits before them: what waits is dropped.
_ENDINGS = (proto.GoodbyeReceived, proto.ConnectionClosed, proto.ProtocolViolation)
# Events charged one message each before they are served (a decrypt, a seal or a broadcast
# item each). PINGs are answered by the core itself; charging them still paces the reading.
_ONE_MESSAGE = (
    proto.KeysWanted,
    proto.VerifierSubmitted,
    proto.ActionSubmitted,
    proto.HistoryRequested,
    proto.FileOpenRequested,
    proto.FileDropRequested,
    proto.PingReceived,
)
# FILE_GETs have a budget of their own: a download asks again every few MB, and charging that
# to the message rate had a downloading member told to slow down. What a FILE_GET can make the
# relay send is bounded anyway (64 chunks asked for and not sent: more is a protocol error);
# the budget bounds only the lookups of ones that find nothing.
_FILE_GET_RATE = 64.0
_FILE_GET_BURST = 128.0


class RelayHost(Protocol):
    """What a :class:`MemberConnection` needs from the relay that accepted it."""

    secret: RoomSecret
    config: RelayConfig
    admission: Admission[MemberConnection]

    def now(self) -> float:
        """Monotonic seconds (the loop's clock, or the config's)."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        """Run ``callback`` on the loop after ``delay`` seconds."""

    def register(self, member: MemberConnection) -> bool:
        """A new connection; False if the room is closing."""

    def forget(self, member: MemberConnection) -> None:
        """The connection is closed."""

    def select_room(self, member: MemberConnection, room_id: bytes) -> None:
        """RoomRequested: ``member.protocol.select_room`` or refuse (NO_SUCH_ROOM)."""

    def join(self, member: MemberConnection, request: proto.JoinRequested) -> None:
        """JoinRequested: accept or reject through ``member.protocol``."""

    def submit(self, member: MemberConnection, envelopes: Sequence[memoryview]) -> None:
        """A joined member's envelopes, to attest and broadcast (already charged)."""

    def hand_out(self, member: MemberConnection, shares: Sequence[tuple[bytes, bytes]]) -> None:
        """A joined member's sender key shares, each to hand to the member it names."""

    def hand_out_secrets(
        self, member: MemberConnection, secrets: Sequence[tuple[bytes, bytes]]
    ) -> None:
        """SecretsSubmitted: each to the member it names."""

    def history_page(self, member: MemberConnection, before: int, limit: int) -> None:
        """HistoryRequested: send the member a page of stored messages."""
        ...

    def file_request(self, member: MemberConnection, event: FileEvent) -> None:
        """A joined member's file request (PROTOCOL.md 3.6): answer it, or send chunks."""

    def want(self, member: MemberConnection, payload: bytes) -> None:
        """A joined member asks the others for sender keys (a WANT payload), to broadcast."""

    def act(self, member: MemberConnection, encoded: bytes) -> None:
        """A joined member submitted a room action (its encoding, unchecked): take it or tell
        the member why not (NOTICE ACTION_REFUSED)."""

    def member_count(self) -> int:
        """How many members the room has now (the share budget follows it)."""

    def left(self, member: MemberConnection, code: Reason, *, announce: bool = True) -> None:
        """The member is gone (or going)."""

    def not_accepted(self, member: MemberConnection) -> None:
        """``config.accept_peer`` turned the connection away (log it, once per source)."""


def peer_host(peer: object) -> str:
    """The address part of a socket's peer address, an IPv4-mapped IPv6 address (what a
    dual-stack socket reports for an IPv4 peer) unwrapped to plain IPv4; "" if there is none."""
    if not (isinstance(peer, tuple) and len(peer) >= 2):
        return ""
    host = str(peer[0])
    if host.startswith("::ffff:") and "." in host:
        with contextlib.suppress(ValueError):
            mapped = ipaddress.IPv6Address(host).ipv4_mapped
            if mapped is not None:
                return str(mapped)
    return host


def format_peer(peer: object) -> str:
    """``127.0.0.1:60528`` or ``[::1]:60528`` from a socket's peer address."""
    host = peer_host(peer)
    if host and isinstance(peer, tuple):
        port = peer[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(peer or "unknown peer")


class MemberConnection(asyncio.Protocol):
    """One accepted connection, from handshake to goodbye. Driven by asyncio's callbacks."""

    __slots__ = (
        "bucket",
        "downloads",
        "dropping",
        "file_gets",
        "held",
        "last_seen",
        "name",
        "peer",
        "pending_verifier",
        "pinged",
        "protocol",
        "proxy_header",
        "queued",
        "relay",
        "shares",
        "source",
        "timer",
        "transport",
        "waiting",
    )

    def __init__(self, relay: RelayHost) -> None:
        self.relay = relay
        self.transport: asyncio.Transport | None = None
        self.protocol = RelayProtocol()
        self.peer = "unknown peer"
        self.source = ""
        self.name: str | None = None
        #: (action seq, access key) of a password change this member announced (VERIFIER).
        self.pending_verifier: tuple[int, bytes] | None = None
        self.dropping = False  # a slow-reader drop is scheduled
        self.held: bytearray | None = None  # bytes waiting for a turn (reading paused)
        #: From a trusted proxy: what came of its PROXY header so far (None: read, or none due).
        self.proxy_header: bytearray | None = None
        self.queued = False  # waiting for a handshake slot (its timer is the queue deadline)
        # Over its rate: what it sent since, not served yet, in order (None: not throttled).
        self.waiting: Backlog | None = None
        self.pinged = False
        self.last_seen = 0.0
        self.bucket: TokenBucket | None = None
        self.file_gets: TokenBucket | None = None
        self.shares: ShareBudget | None = None  # made with the first SHARES frame
        self.timer: asyncio.TimerHandle | None = None
        #: The chunks this member asked for, written as its socket drains (made on its first
        #: FILE_GET; net.relay.fileserve).
        self.downloads: FileSender | None = None

    # -- asyncio callbacks -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream server always hands a protocol a full Transport; the base signature is wider.
        if not isinstance(transport, asyncio.Transport):
            raise TypeError(f"a stream transport is needed, not {type(transport).__name__}")
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        host = peer_host(peer)
        self.peer = format_peer(peer)
        self.source = source_key(host) if host else self.peer
        relay = self.relay
        self.last_seen = relay.now()
        self.transport.set_write_buffer_limits(high=relay.config.write_buffer_limit)
        if not relay.register(self):
            self.refuse(Reason.ROOM_CLOSING, "The room is closing.")
            return
        if is_trusted(host, relay.config.trust_proxy):
            # A trusted proxy: who the client is comes first, in a PROXY header, and nothing
            # (admission, accept_peer) looks at the connection before it (_read_proxy_header).
            self.proxy_header = bytearray()
            self.timer = relay.call_later(relay.config.pre_hello_timeout, self._header_late)
            return
        self._admit(host)

    def _admit(self, host: str, elapsed: float = 0.0) -> bool:
        """Ask ``accept_peer`` and admission about the peer ``host`` (``self.peer`` and
        ``self.source`` name it), ``elapsed`` seconds after accept; False if it was closed."""
        relay = self.relay
        accept_peer = relay.config.accept_peer
        if accept_peer is not None and not accept_peer(host):
            # Not one of the peers this room serves ("this network only"): closed unheard,
            # before a byte is read or sent. No protocol reason fits, and an unauthenticated
            # refusal text is never shown anyway.
            relay.not_accepted(self)
            self.close()
            return False
        decision = relay.admission.connect(self, source=self.source, peer=self.peer)
        if isinstance(decision, Refuse):
            self._refuse_as(decision)
            return False
        if decision.drop is not None:  # an older connection that never spoke makes room
            victim, refusal = decision.drop
            victim._refuse_as(refusal)
        config = relay.config
        first = min(config.pre_hello_timeout, config.handshake_timeout)
        self.timer = relay.call_later(first - elapsed, self._hello_late)
        return True

    def _read_proxy_header(self, data: bytes) -> None:
        """Bytes from a trusted proxy before its PROXY header is complete: once it is, the
        client's address replaces the proxy's, admission sees the connection for the first
        time, and what followed the header is the client's first bytes. Anything else is
        closed unheard: no header means a misconfigured proxy (or someone else on its
        address), and letting it in would lump clients together or let one claim any address."""
        if self.proxy_header is None or self.transport is None or self.transport.is_closing():
            return  # refused already: what was in flight is not looked at again
        buffer = self.proxy_header
        buffer += data
        result = parse_proxy_header(buffer)
        if isinstance(result, NeedMore):
            return
        if isinstance(result, BadHeader):
            logger.info("closing %s: %s", self.peer, result.fault.value)
            self.close()
            return
        rest = bytes(buffer[result.length :])
        self.proxy_header = None
        self._cancel_timer()
        host = peer_host(self.transport.get_extra_info("peername") if self.transport else None)
        if result.source is not None:
            host, port = result.source
            self.peer = format_peer((host, port))
            self.source = source_key(host)
        # The pre-hello deadline still counts from accept: the header is part of the silence.
        if self._admit(host, elapsed=self.relay.now() - self.last_seen) and rest:
            self.data_received(rest)

    def _header_late(self) -> None:
        self.timer = None
        if self.transport is None or self.transport.is_closing():
            return
        logger.info("closing %s: no complete PROXY protocol header in time", self.peer)
        self.close()

    def data_received(self, data: bytes) -> None:
        relay = self.relay
        if self.proxy_header is not None:
            self._read_proxy_header(data)  # last_seen stays the accept time meanwhile
            return
        self.last_seen = relay.now()
        self.pinged = False
        if self.held is not None:  # still waiting for a turn
            self.held += data
            return
        if self.protocol.state in _BEFORE_PAKE and not relay.admission.has_pake_slot(self):
            # Asked here, not only on accept: the address may have failed since, and
            # connections opened together must take turns.
            decision = relay.admission.ready_for_pake(self)
            if isinstance(decision, Refuse):
                self._refuse_as(decision)
                return
            if isinstance(decision, Hold | Queue):
                self.held = bytearray(data)
                if self.transport is not None:
                    self.transport.pause_reading()
                if isinstance(decision, Queue):
                    self._queue(decision)
                return
        self.protocol.receive_data(data)
        self._process()

    def _queue(self, decision: Queue) -> None:
        """Wait in line for a handshake slot: say so, and replace the handshake deadline with
        the queue's."""
        self.queued = True
        self.protocol.send_queued(decision.position, decision.wait_ms)
        self.flush()
        self._cancel_timer()
        self.timer = self.relay.call_later(decision.wait_ms / 1000, self._queue_late)

    def _wake(self, decision: Wake[MemberConnection]) -> None:
        """Our turn came (see :func:`_carry_out`): out of the queue the handshake deadline
        starts afresh; then run the PAKE on what was held, keep holding, or refuse."""
        if isinstance(decision, Refuse):
            self._refuse_as(decision)
            return
        if self.queued:
            self.queued = False
            self._cancel_timer()
            self.timer = self.relay.call_later(
                self.relay.config.handshake_timeout, self._handshake_late
            )
        if isinstance(decision, Hold):
            return
        data, self.held = bytes(self.held or b""), None
        if self.transport is not None:
            self.transport.resume_reading()
        self.protocol.receive_data(data)
        self._process()

    def _pake_done(self, outcome: PakeOutcome, why: str = "") -> None:
        lines, wakes = self.relay.admission.pake_done(self, outcome, why=why)
        _carry_out(lines, wakes)

    def _refuse_as(self, decision: Refuse) -> None:
        if decision.log is not None:
            logger.info("%s", decision.log)
        self.refuse(decision.code, decision.text, decision.retry_after_ms)

    def eof_received(self) -> bool:
        if self.proxy_header is not None:  # nothing of the client's was read: nothing to say
            return False
        self.protocol.receive_eof()
        self._process()
        return False  # let asyncio close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.held = None
        self.proxy_header = None
        self.waiting = None  # whatever waited was never acknowledged: its sender resends it
        self._leave_admission()
        self.relay.left(self, Reason.CONNECTION_LOST)
        self._cancel_timer()
        self.name = None
        self.transport = None
        self.relay.forget(self)

    def pause_writing(self) -> None:
        # The member's unread bytes passed write_buffer_limit, whatever wrote them (broadcasts,
        # but also PONGs and notices a member can provoke without reading): drop it rather than
        # buffer without end. Scheduled, not done here: we are inside transport.write(). While
        # it downloads a file the mark is lower: then a pause means "wait for the drain".
        if self.downloads is not None and self.downloads.hold():
            return
        if not self.dropping:
            self.dropping = True
            self.relay.call_later(0, self._drop_slow_reader)

    def resume_writing(self) -> None:
        if self.downloads is not None:
            self.downloads.resume()

    def _drop_slow_reader(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        logger.info(
            "closing %s: not reading (%d bytes waiting)",
            self.peer,
            self.transport.get_write_buffer_size(),
        )
        self.end(Reason.SLOW_READER, "You were not reading fast enough.")

    # -- driving the protocol core ---------------------------------------------------------

    def _process(self) -> None:
        """Serve what the core made of the bytes just read: in order, each event when the
        member's rate allows; a member over it has the rest wait (see :meth:`_unthrottle`). Its
        leaving is served at once, ahead of whatever waits."""
        for event in self.protocol.events_received():
            if isinstance(event, _ENDINGS):
                self._drop_waiting()  # never served, never acknowledged: it is not sent
                self._serve(event)
            elif self.waiting is not None:
                self._wait(event)
            else:
                rest = self._serve(event)
                if rest is not None:
                    self._throttle()
                    self._wait(rest)
        self.flush()
        if self.protocol.close_expected():
            self.close()
        elif self.waiting is not None:
            self._pace_reading()

    def _serve(self, event: Entry) -> Entry | None:
        """Serve ``event`` if the member's rate allows it; return what must wait (the event,
        or the messages of a CHAT frame the bucket did not cover), None if all was served."""
        relay = self.relay
        if isinstance(event, _ONE_MESSAGE) and not self._take(1):
            return event
        if isinstance(event, proto.FileRequested) and not self._take_file_get():
            return event
        match event:
            case proto.MessagesSubmitted(envelopes=envelopes):
                taken = self._take(len(envelopes))
                if taken:
                    relay.submit(self, envelopes if taken == len(envelopes) else envelopes[:taken])
                return None if taken == len(envelopes) else Envelopes(envelopes[taken:])
            case Envelopes():
                taken = self._take(len(event))
                if taken:
                    relay.submit(self, event.take(taken))
                return event if len(event) else None
            case proto.SharesSubmitted(shares=shares):
                relay.hand_out(self, shares)
                self._count_shares(len(shares))
            case proto.SecretsSubmitted(secrets=secrets):
                relay.hand_out_secrets(self, secrets)
                self._count_shares(len(secrets))
            case proto.KeysWanted(payload=payload):
                relay.want(self, payload)  # a broadcast item for everyone, as a message is
            case proto.VerifierSubmitted(seq=seq, access=access):
                self.pending_verifier = (seq, access)  # for its CHANGE_PASSWORD action only
            case proto.ActionSubmitted(action=action):
                relay.act(self, action)  # a signature check and a broadcast item, as a message
            case proto.HistoryRequested(before=before, limit=limit):
                relay.history_page(self, before, limit)  # a read and a seal of up to a frame
            case (
                proto.FileOpenRequested()
                | proto.FileChunkSubmitted()  # not charged: storage and read limits bound it
                | proto.FileDropRequested()
                | proto.FileRequested()
            ):
                relay.file_request(self, event)  # net.relay.fileserve
            case proto.RoomRequested(room_id=room_id):
                relay.select_room(self, room_id)
            case proto.JoinRequested():
                relay.join(self, event)
            case proto.Authenticated():
                self._pake_done(PakeOutcome.SUCCESS)
            case proto.AuthenticationFailed(cause=cause):
                self._pake_done(PakeOutcome.FAILURE, cause.value)
            case proto.GoodbyeReceived():
                relay.left(self, Reason.LEAVING)
            case proto.ProtocolViolation(reason=reason):
                who = f" ({self.name})" if self.name else ""
                logger.info("closing %s%s: protocol error: %s", self.peer, who, reason)
                relay.left(self, Reason.PROTOCOL_ERROR)
            case proto.Refused(text=text):
                logger.info("refused %s: %s", self.peer, text)
            case _:
                pass  # pongs and EOF need nothing here: any frame counts as a sign of life
        return None

    def flush(self) -> None:
        """Write what the protocol core queued."""
        data = self.protocol.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)
            if self.downloads is not None and self.downloads.paused:
                # Paused at a download's window, asyncio says nothing more: the limit is ours.
                limit = self.relay.config.write_buffer_limit
                if self.transport.get_write_buffer_size() > limit and not self.dropping:
                    self.dropping = True
                    self.relay.call_later(0, self._drop_slow_reader)

    def joined(self, name: str) -> None:
        relay = self.relay
        self.name = name
        _carry_out([], relay.admission.handshake_done(self))
        self._cancel_timer()
        now = relay.now()
        self.bucket = TokenBucket(
            rate=relay.config.message_rate, burst=relay.config.message_burst, now=now
        )
        self.file_gets = TokenBucket(rate=_FILE_GET_RATE, burst=_FILE_GET_BURST, now=now)
        self.timer = relay.call_later(relay.config.idle_ping, self._idle_check)

    # -- the member's rate -----------------------------------------------------------------
    #
    # Messages (and the WANTs, actions, history requests and PINGs that cost as much) are
    # charged before they are served: a CHAT frame of a thousand messages is served as far as
    # the bucket allows, the rest waiting in order, so one frame can no longer push a room's
    # history out, and every ACK names only what was stored. Sender key shares are served
    # first and charged after (each becomes one SHARE for one member: one in, one out, never
    # amplified); past the share budget what follows waits until it refills. Dropping instead
    # would leave honest members unable to read a sender that re-keyed, with nobody told;
    # waiting loses nothing. What one read can push at one recipient before the wait is
    # bounded as before: a frame (64 KiB) holds 309 shares at most, and asyncio reads 256 KiB
    # at a time, so some 1,240 shares, about 290 KB once sealed, under the write buffer limit;
    # a recipient who does not read what it is handed is dropped (SLOW_READER) as for
    # broadcasts.

    @property
    def throttled(self) -> bool:
        """Over its rate: what it sends waits its turn."""
        return self.waiting is not None

    def _take(self, messages: int) -> int:
        """Charge up to ``messages`` to the member's rate; return how many it covers now (all
        of them before the member has joined: nothing is limited then)."""
        if self.bucket is None:
            return messages
        return self.bucket.take_up_to(messages, self.relay.now())

    def _take_file_get(self) -> bool:
        """Charge one FILE_GET to its own budget; False if it must wait."""
        if self.file_gets is None:
            return True
        return self.file_gets.take_up_to(1, self.relay.now()) == 1

    def _count_shares(self, shares: int) -> None:
        """Charge the share budget (sized by the room now); past it, what follows waits."""
        if self.bucket is None or self.transport is None:  # not joined: nothing was handed out
            return
        relay, config = self.relay, self.relay.config
        if self.shares is None:
            self.shares = ShareBudget(
                minimum=config.share_burst_min,
                per_member=config.share_burst_per_member,
                refill=config.share_refill,
                now=relay.now(),
            )
        if self.shares.take(shares, members=relay.member_count(), now=relay.now()) > 0:
            self._throttle()

    def _share_wait(self) -> float:
        """Seconds until the share budget is out of debt (0.0 if it is)."""
        if self.shares is None:
            return 0.0
        relay = self.relay
        return self.shares.take(0, members=relay.member_count(), now=relay.now())

    def _throttle(self) -> None:
        """The member went over its rate: tell it once, and from now on serve what it sends
        in turn (:meth:`_unthrottle`)."""
        if self.waiting is not None or self.protocol.state is not RelayState.JOINED:
            return
        self.waiting = Backlog()
        self.protocol.send_notice(Reason.RATE_LIMITED, "You are sending too fast; slow down.")
        self.relay.call_later(self._next_turn(), self._unthrottle)

    def _wait(self, entry: Entry) -> None:
        """Queue ``entry`` behind what waits (if the member is still being served)."""
        if self.waiting is not None:
            self.waiting.append(entry)

    def _drop_waiting(self) -> None:
        if self.waiting is not None:
            self.waiting.clear()

    def _next_turn(self) -> float:
        """Seconds until the member's rate allows the next thing (a message, a FILE_GET, or
        the share budget out of debt)."""
        wait = self._share_wait()
        now = self.relay.now()
        if self.bucket is not None:
            wait = max(wait, self.bucket.wait(1, now))
        if self.file_gets is not None:  # at most 1/64 s: what waits may be a FILE_GET
            wait = max(wait, self.file_gets.wait(1, now))
        return wait

    def _unthrottle(self) -> None:
        """The member's turn came again: serve what waited, in order, as far as its rate
        allows; then wait again, or (all served) read it as usual."""
        waiting = self.waiting
        if self.transport is None or self.transport.is_closing() or waiting is None:
            return
        while waiting and self._share_wait() <= 0:
            rest = self._serve(waiting.popleft())
            if rest is not None:
                waiting.appendleft(rest)
                break
        self.flush()
        if self.protocol.close_expected():  # what was served may have ended it
            self.close()
            return
        if waiting or self._share_wait() > 0:
            self.relay.call_later(self._next_turn(), self._unthrottle)
        else:
            self.waiting = None
            self.last_seen = self.relay.now()  # paused time is not silence
        self._pace_reading()

    def _pace_reading(self) -> None:
        """Pause reading while too much waits (TCP backpressure); resume once it does not."""
        transport = self.transport
        if transport is None or transport.is_closing() or self.held is not None:
            return
        full = self.waiting is not None and self.waiting.full
        if full and transport.is_reading():
            transport.pause_reading()
        elif not full and not transport.is_reading():
            transport.resume_reading()

    # -- timers ----------------------------------------------------------------------------

    def _hello_late(self) -> None:
        """The pre-hello deadline: close the connection if it has sent nothing yet; otherwise
        the handshake deadline (from accept) runs on."""
        self.timer = None
        if self.transport is None or self.transport.is_closing():
            return
        decision = self.relay.admission.hello_late(self)
        if decision is not None:
            self._refuse_as(decision)
            return
        config = self.relay.config
        rest = config.handshake_timeout - config.pre_hello_timeout
        self.timer = self.relay.call_later(rest, self._handshake_late)

    def _queue_late(self) -> None:
        self.timer = None
        if self.transport is None or self.transport.is_closing():
            return
        decision = self.relay.admission.queue_late(self)
        if decision is not None:
            self._refuse_as(decision)

    def _handshake_late(self) -> None:
        self.timer = None
        if self.transport is None or self.transport.is_closing():
            return
        logger.info("closing %s: handshake timeout", self.peer)
        self.end(Reason.HANDSHAKE_TIMEOUT, "The handshake took too long.")

    def _idle_check(self) -> None:
        self.timer = None
        if self.transport is None or self.transport.is_closing():
            return
        config = self.relay.config
        silent = self.relay.now() - self.last_seen
        if self.throttled:  # we may have stopped reading, so silence says nothing
            self.timer = self.relay.call_later(config.idle_ping, self._idle_check)
            return
        if silent >= config.idle_timeout:
            self.end(Reason.IDLE_TIMEOUT, "No sign of life for too long.")
            return
        if silent >= config.idle_ping:
            if not self.pinged:
                self.pinged = True
                self.protocol.send_ping(int(self.relay.now() * 1000) & 0xFFFF_FFFF)
                self.flush()
            delay = config.idle_timeout - silent
        else:
            delay = config.idle_ping - silent
        self.timer = self.relay.call_later(delay, self._idle_check)

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _leave_admission(self) -> None:
        lines, wakes = self.relay.admission.gone(self)
        _carry_out(lines, wakes)

    # -- ending ----------------------------------------------------------------------------

    def refuse(self, code: Reason, text: str, retry_after_ms: int = 0) -> None:
        """Refuse before the handshake's encrypted phase (no PAKE work done)."""
        self.protocol.refuse(code, text, retry_after_ms)
        self.flush()
        self.close()

    def end(self, code: Reason, text: str, *, announce: bool = True) -> None:
        """Say why (REFUSED or GOODBYE, whichever the state allows) and close. ``announce``
        False: the room is closing, so the others are not told that this member left."""
        self.relay.left(self, code, announce=announce)
        state = self.protocol.state
        with contextlib.suppress(LocalProtocolError):
            if state in _PLAINTEXT:
                self.protocol.refuse(code, text)
            elif state in _ENCRYPTED:
                self.protocol.send_goodbye(code, text)
        self.flush()
        self.close()

    def close(self) -> None:
        """Close after flushing; abort if the peer does not take the bytes in time."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self._cancel_timer()
        self._leave_admission()  # a closing connection takes no turn and holds no slot
        transport.close()
        self.timer = self.relay.call_later(self.relay.config.close_timeout, self.abort)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


def _carry_out(
    lines: list[str], wakes: list[tuple[MemberConnection, Wake[MemberConnection]]]
) -> None:
    """Log admission's lines and carry out the decisions for held and queued connections
    whose turn came."""
    for line in lines:
        logger.info("%s", line)
    for member, decision in wakes:
        member._wake(decision)
