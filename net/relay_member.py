"""One relay connection: the asyncio.Protocol that drives a RelayProtocol core for the Relay.

:class:`MemberConnection` turns asyncio's callbacks into protocol-core calls and core events
into calls on its :class:`net.relay.Relay` (join, submit, left, login bookkeeping); it owns
the connection's timers (handshake deadline, idle ping and reaping, rate-limit pause) and the
polite ways to end it. Slotted and task-free: at thousands of idle members, what one
connection costs is what the relay costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import TYPE_CHECKING

from net import events as ev
from net.frames import Reason
from net.protocol import RelayProtocol, RelayState
from net.ratelimit import TokenBucket, source_key

if TYPE_CHECKING:
    from net.relay import Relay

logger = logging.getLogger("socketchat.relay")

_PLAINTEXT = (
    RelayState.AWAIT_CLIENT_HELLO,
    RelayState.AWAIT_CLIENT_PAKE,
    RelayState.AWAIT_CLIENT_CONFIRM,
)
_ENCRYPTED = (RelayState.AWAIT_JOIN, RelayState.JOIN_PENDING, RelayState.JOINED)
_BEFORE_PAKE = (RelayState.AWAIT_CLIENT_HELLO, RelayState.AWAIT_CLIENT_PAKE)


def format_peer(peer: object) -> str:
    """``127.0.0.1:60528`` or ``[::1]:60528`` from a socket's peer address."""
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = str(peer[0]), peer[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(peer or "unknown peer")


class MemberConnection(asyncio.Protocol):
    """One accepted connection, from handshake to goodbye. Driven by asyncio's callbacks."""

    __slots__ = (
        "bucket", "dropping", "held", "in_handshake", "last_seen", "name", "pake_slot", "peer",
        "pinged", "protocol", "relay", "share_sent", "source", "throttled", "timer", "transport",
    )

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.transport: asyncio.Transport | None = None
        self.protocol = RelayProtocol(secret=relay.secret.spake2, room_id=relay.secret.room_id)
        self.peer = "unknown peer"
        self.source = ""
        self.name: str | None = None
        self.in_handshake = False
        self.share_sent = False  # our PAKE share is out, no confirmation back yet
        self.dropping = False  # a slow-reader drop is scheduled
        self.pake_slot = False  # counted in the relay's PAKEs in flight for our address
        self.held: bytearray | None = None  # bytes waiting for a PAKE slot (reading paused)
        self.throttled = False
        self.pinged = False
        self.last_seen = 0.0
        self.bucket: TokenBucket | None = None
        self.timer: asyncio.TimerHandle | None = None

    # -- asyncio callbacks -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        self.peer = format_peer(peer)
        self.source = source_key(str(peer[0])) if isinstance(peer, tuple) else self.peer
        relay = self.relay
        self.last_seen = relay.now()
        self.transport.set_write_buffer_limits(high=relay.config.write_buffer_limit)
        if relay.admit(self):
            self.in_handshake = True
            self.timer = relay.call_later(relay.config.handshake_timeout, self._handshake_late)

    def data_received(self, data: bytes) -> None:
        relay = self.relay
        self.last_seen = relay.now()
        self.pinged = False
        if self.held is not None:  # still waiting for a PAKE slot
            self.held += data
            return
        if not self.pake_slot and self.protocol.state in _BEFORE_PAKE:
            # Checked here, not only on accept: the address may have failed since, and
            # connections opened together must take turns (Relay.may_start_pake).
            if relay.refuse_if_throttled(self):
                return
            if not relay.may_start_pake(self):
                self.held = bytearray(data)
                if self.transport is not None:
                    self.transport.pause_reading()
                relay.pake_waits(self)
                return
            self.pake_slot = True
            relay.pake_started(self)
        self.protocol.receive_data(data)
        self._process()

    def resume_held(self) -> None:
        """Our turn for a PAKE (called by the relay): process what was held."""
        data, self.held = bytes(self.held or b""), None
        self.pake_slot = True
        self.relay.pake_started(self)
        if self.transport is not None:
            self.transport.resume_reading()
        self.protocol.receive_data(data)
        self._process()

    def _release_pake(self, outcome: str, why: str = "") -> None:
        if self.pake_slot:
            self.pake_slot = False
            self.relay.pake_over(self, outcome=outcome, why=why)

    def eof_received(self) -> bool:
        self.protocol.receive_eof()
        self._process()
        return False  # let asyncio close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.held is not None:
            self.held = None
            self.relay.pake_forget(self)
        # Hanging up after the relay's share is a guess like any other (its answer could be
        # inferred); before it, nothing was guessed.
        guessed, self.share_sent = self.share_sent, False
        self._release_pake("failure" if guessed else "none",
                           "disconnected before confirming the password")
        self.relay.left(self, Reason.CONNECTION_LOST)
        self._finish_handshake()
        self._cancel_timer()
        self.name = None
        self.transport = None
        self.relay.forget(self)

    def pause_writing(self) -> None:
        # The member's unread bytes passed write_buffer_limit, whatever wrote them (broadcasts,
        # but also PONGs and notices a member can provoke without reading): drop it rather than
        # buffer without end. Scheduled, not done here: we are inside transport.write().
        if not self.dropping:
            self.dropping = True
            self.relay.call_later(0, self._drop_slow_reader)

    def resume_writing(self) -> None:
        pass

    def _drop_slow_reader(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        logger.info("closing %s: not reading (%d bytes waiting)", self.peer,
                    self.transport.get_write_buffer_size())
        self.end(Reason.SLOW_READER, "You were not reading fast enough.")

    # -- driving the protocol core ---------------------------------------------------------

    def _process(self) -> None:
        relay = self.relay
        for event in self.protocol.events_received():
            if isinstance(event, ev.MessagesSubmitted):
                relay.submit(self, event.messages)
                self._count(len(event.messages))
            elif isinstance(event, ev.JoinRequested):
                relay.join(self, event.username)
            elif isinstance(event, ev.Authenticated):
                self.share_sent = False
                self._release_pake("success")
            elif isinstance(event, ev.AuthenticationFailed):
                self.share_sent = False
                why = "wrong password" if "password" in event.reason else event.reason
                if self.pake_slot:
                    self._release_pake("failure", why)
                else:  # unreachable while every PAKE takes a slot; count it all the same
                    relay.login_failed(self, why)
            elif isinstance(event, ev.PingReceived):
                self._count(1)  # each PING costs us a decrypt and a sealed PONG: rate-limit it
            elif isinstance(event, ev.Goodbye):
                relay.left(self, Reason.LEAVING)
            elif isinstance(event, ev.ProtocolViolation):
                who = f" ({self.name})" if self.name else ""
                logger.info("closing %s%s: protocol error: %s", self.peer, who, event.reason)
                relay.left(self, Reason.PROTOCOL_ERROR)
            elif isinstance(event, ev.Refused):
                logger.info("refused %s: %s", self.peer, event.text)
        if self.protocol.state is RelayState.AWAIT_CLIENT_CONFIRM:
            self.share_sent = True
        self.flush()
        if self.protocol.close_expected():
            self.close()

    def flush(self) -> None:
        """Write what the protocol core queued."""
        data = self.protocol.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def joined(self, name: str) -> None:
        relay = self.relay
        self.name = name
        self._finish_handshake()
        self._cancel_timer()
        now = relay.now()
        self.bucket = TokenBucket(
            rate=relay.config.message_rate, burst=relay.config.message_burst, now=now
        )
        self.timer = relay.call_later(relay.config.idle_ping, self._idle_check)

    def _count(self, messages: int) -> None:
        """Charge the rate limit; past it, warn once and stop reading until it refills."""
        if self.bucket is None or self.transport is None:
            return
        wait = self.bucket.take(messages, self.relay.now())
        if wait > 0 and not self.throttled and self.protocol.state is RelayState.JOINED:
            self.throttled = True
            self.protocol.send_notice(
                Reason.RATE_LIMITED, "You are sending too fast; slow down."
            )
            self.transport.pause_reading()
            self.relay.call_later(wait, self._unthrottle)

    def _unthrottle(self) -> None:
        if self.transport is None or self.transport.is_closing() or self.bucket is None:
            return
        wait = self.bucket.take(0, self.relay.now())
        if wait > 0:  # more arrived in the same read than the first estimate covered
            self.relay.call_later(wait, self._unthrottle)
            return
        self.throttled = False
        self.last_seen = self.relay.now()  # paused time is not silence
        self.transport.resume_reading()

    # -- timers ----------------------------------------------------------------------------

    def _handshake_late(self) -> None:
        self.timer = None
        if self.transport is None or self.transport.is_closing():
            return
        guessed, self.share_sent = self.share_sent, False
        self._release_pake("failure" if guessed else "none",
                           "no password confirmation before the deadline")
        logger.info("closing %s: handshake timeout", self.peer)
        self.end(Reason.HANDSHAKE_TIMEOUT, "The handshake took too long.")

    def _idle_check(self) -> None:
        self.timer = None
        if self.transport is None or self.transport.is_closing():
            return
        config = self.relay.config
        silent = self.relay.now() - self.last_seen
        if self.throttled:  # we stopped reading, so silence says nothing
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

    def _finish_handshake(self) -> None:
        if self.in_handshake:
            self.in_handshake = False
            self.relay.handshake_over(self)

    # -- ending ----------------------------------------------------------------------------

    def refuse(self, code: Reason, text: str, retry_after_ms: int = 0) -> None:
        """Refuse before the handshake's encrypted phase (no PAKE work done)."""
        self.protocol.refuse(code, text, retry_after_ms)
        self.flush()
        self.close()

    def end(self, code: Reason, text: str, *, left: bool = True) -> None:
        """Say why (REFUSED or GOODBYE, whichever the state allows) and close."""
        if left:
            self.relay.left(self, code)
        elif self.name is not None:
            self.relay.room.leave(self.name, code, handle=self)  # closing: nobody to tell
            self.name = None
        state = self.protocol.state
        with contextlib.suppress(ValueError, OverflowError):
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
        transport.close()
        self.timer = self.relay.call_later(self.relay.config.close_timeout, self.abort)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()
