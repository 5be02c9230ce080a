"""The asyncio relay: one room, many members, driven by the sans-I/O protocol core.

Each accepted socket gets a :class:`net.relay_member.MemberConnection` (an
``asyncio.Protocol``, not streams: an idle connection then costs a transport, one protocol core
and a few slots, no task, no stream buffers). The room's state lives in
:class:`net.room.Room`; this module does the I/O, timers and limits:

* TCP_NODELAY on every socket (chat is small messages; Nagle would add tens of ms);
* login rate limit per source address *before* any PAKE work (:class:`LoginLimiter`); a peer
  that drops after receiving our PAKE share but before confirming counts as a failed guess,
  so disconnecting cannot be used to learn a guess's result for free;
* a handshake deadline, an idle ping and reaping, a bound on concurrent handshakes;
* broadcasts coalesced per loop iteration: one seal, the same bytes to every member; a member
  whose write buffer passes the limit is disconnected (SLOW_READER), never buffered without end;
* a per-member message rate: past it the member gets a NOTICE and its socket stops being read
  until the bucket refills (nothing is dropped; TCP backpressure slows the sender).

Use :class:`Relay` inside a running event loop, or :class:`net.relay_thread.RelayThread` to run
one in a background thread (the app's "Host a room", tests).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from net.frames import Reason
from net.ratelimit import LoginLimiter
from net.relay_member import MemberConnection
from net.room import JoinRejected, Room
from net.roomfile import RoomSecret

logger = logging.getLogger("socketchat.relay")

# How a departure reads in the log ("user alice (…) disconnected (left the room)").
_LEFT_WORDS = {
    Reason.LEAVING: "left the room",
    Reason.CONNECTION_LOST: "connection lost",
    Reason.IDLE_TIMEOUT: "no sign of life, reaped",
    Reason.SLOW_READER: "too slow reading, dropped",
    Reason.PROTOCOL_ERROR: "protocol error",
    Reason.ROOM_CLOSING: "room closing",
}
_MIN_TIMER = 0.01  # never re-arm a timer sooner than this (a frozen test clock must not spin)
_REFUSAL_LOG_EVERY = 10.0  # log at most one "too many attempts" line per source this often


@dataclass(frozen=True)
class RelayConfig:
    """Everything tunable about a relay. The defaults are the product's; tests shrink them."""

    host: str = "0.0.0.0"  # noqa: S104 - a relay is meant to be reached from other machines
    port: int = 7777  # 0 picks a free port (see Relay.start's result)
    backlog: int = 512
    handshake_timeout: float = 10.0  # from accept to WELCOME
    idle_ping: float = 30.0  # ping a member silent this long
    idle_timeout: float = 90.0  # drop a member silent this long (no frame at all)
    close_timeout: float = 5.0  # a closing connection may flush this long, then it is aborted
    max_members: int = 200
    max_handshakes: int = 64  # concurrent connections not yet in the room; more get BUSY
    # ...and per source address (/64 for IPv6): one address cannot take every handshake slot.
    max_handshakes_per_source: int = 16
    write_buffer_limit: int = 1024 * 1024  # bytes queued for one member before SLOW_READER
    message_rate: float = 5.0  # messages per second per member, on average
    message_burst: float = 20.0
    max_message_bytes: int = 4000
    history: int = 100
    login_free_failures: int = 5  # wrong passwords per source before backoff starts
    login_base_delay: float = 1.0
    login_max_delay: float = 300.0
    clock: Callable[[], float] | None = None  # monotonic seconds; None: the loop's clock


@dataclass(frozen=True)
class RelayStats:
    """A snapshot for tests and status lines."""

    port: int
    members: tuple[str, ...]
    connections: int
    handshakes: int
    history: int
    broadcasts: int
    throttled: int


class Relay:
    """Serves one room. ``await start()``, later ``await stop()``; or ``await serve_forever()``.

    All methods run on the event loop's thread (use RelayThread from other threads).
    """

    def __init__(self, secret: RoomSecret, config: RelayConfig | None = None) -> None:
        self.secret = secret
        self.config = config = config or RelayConfig()
        self.room: Room[MemberConnection] = Room(
            max_members=config.max_members,
            history_limit=config.history,
            max_message_bytes=config.max_message_bytes,
        )
        self.logins = LoginLimiter(
            free_failures=config.login_free_failures,
            base_delay=config.login_base_delay,
            max_delay=config.login_max_delay,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[MemberConnection] = set()
        self._handshakes = 0
        self._handshakes_by_source: Counter[str] = Counter()
        self._pakes_in_flight: Counter[str] = Counter()
        self._pake_waiters: dict[str, collections.deque[MemberConnection]] = {}
        self._flush_handle: asyncio.Handle | None = None
        # Broadcasts sealed during this loop iteration, written at its end (see _flush), and
        # the members who joined meanwhile with the index of the first frame each must get.
        self._frames: list[bytes] = []
        self._joined_at: dict[MemberConnection, int] = {}
        self._all_gone: asyncio.Event | None = None
        self._closed: asyncio.Event | None = None
        self._refusals_logged: dict[str, list[float]] = {}
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> int:
        """Listen; return the port (useful with ``port=0``). OSError if the port is taken."""
        loop = self._loop = asyncio.get_running_loop()
        self._all_gone, self._closed = asyncio.Event(), asyncio.Event()
        self._server = await loop.create_server(
            lambda: MemberConnection(self),
            self.config.host,
            self.config.port,
            backlog=self.config.backlog,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        logger.info("room %s open on port %d", self.secret.room_id.hex()[:8], self.port)
        return self.port

    async def serve_forever(self) -> None:
        """Start if needed and serve until :meth:`stop` is called (from another task)."""
        if self._server is None:
            await self.start()
        if self._closed is not None:
            await self._closed.wait()

    async def stop(self) -> None:
        """Close the room: GOODBYE ROOM_CLOSING to every member, close every connection and
        wait (at most ``close_timeout``) until all are gone. Idempotent."""
        if self._server is None or self._closed is None or self._closed.is_set():
            return
        self._server.close()
        for member in list(self._connections):
            member.end(Reason.ROOM_CLOSING, "The room was closed by its host.", left=False)
        if self._connections and self._all_gone is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._all_gone.wait(), self.config.close_timeout)
        for member in list(self._connections):
            member.abort()
        await self._server.wait_closed()
        logger.info("room %s closed", self.secret.room_id.hex()[:8])
        self._closed.set()

    def stats(self) -> RelayStats:
        """Counts for tests and status lines (call on the loop's thread)."""
        return RelayStats(
            port=self.port,
            members=self.room.members,
            connections=len(self._connections),
            handshakes=self._handshakes,
            history=len(self.room.history),
            broadcasts=self.room.broadcasts_sealed,
            throttled=sum(1 for member in self._connections if member.throttled),
        )

    # -- called by MemberConnection ------------------------------------------------------

    def now(self) -> float:
        clock = self.config.clock
        if clock is not None:
            return clock()
        if self._loop is None:
            raise RuntimeError("the relay is not running")
        return self._loop.time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        if self._loop is None:
            raise RuntimeError("the relay is not running")
        return self._loop.call_later(max(delay, _MIN_TIMER), callback)

    def admit(self, member: MemberConnection) -> bool:
        """A new connection: refuse it at once (before any PAKE work) if a limit says so."""
        self._connections.add(member)
        if self._all_gone is not None:
            self._all_gone.clear()  # stop() must wait for this one too
        if self._closed is not None and self._closed.is_set():
            member.refuse(Reason.ROOM_CLOSING, "The room is closing.")
            return False
        if self.refuse_if_throttled(member):
            return False
        if self._handshakes >= self.config.max_handshakes:
            logger.info("refused %s: busy (%d handshakes in progress)", member.peer,
                        self._handshakes)
            member.refuse(Reason.BUSY, "The relay is busy; try again in a moment.", 1000)
            return False
        if self._handshakes_by_source[member.source] >= self.config.max_handshakes_per_source:
            logger.info("refused %s: busy (%d handshakes in progress from %s)", member.peer,
                        self._handshakes_by_source[member.source], member.source)
            member.refuse(Reason.BUSY, "Too many connections from your address are still "
                          "logging in; try again in a moment.", 1000)
            return False
        self._handshakes += 1
        self._handshakes_by_source[member.source] += 1
        return True

    def handshake_over(self, member: MemberConnection) -> None:
        """``member`` left the handshake (joined, failed or gone): free its slots."""
        self._handshakes -= 1
        remaining = self._handshakes_by_source[member.source] - 1
        if remaining > 0:
            self._handshakes_by_source[member.source] = remaining
        else:
            del self._handshakes_by_source[member.source]  # the counter must not grow forever

    def forget(self, member: MemberConnection) -> None:
        self._connections.discard(member)
        if not self._connections and self._all_gone is not None:
            self._all_gone.set()

    def refuse_if_throttled(self, member: MemberConnection) -> bool:
        """Refuse ``member`` (True) if its address must wait before another password attempt.

        Called on accept, again whenever bytes arrive before the PAKE has run, and when a held
        PAKE gets its turn: an address may have failed since the connection was accepted.
        """
        wait = self.logins.retry_after(member.source, self.now())
        if wait <= 0:
            return False
        seconds = math.ceil(wait)
        self._log_refusal(member, f"too many attempts, retry in {seconds} s")
        member.refuse(
            Reason.TOO_MANY_ATTEMPTS,
            f"Too many wrong passwords from your address; try again in {seconds} s.",
            retry_after_ms=math.ceil(wait * 1000),
        )
        return True

    def may_start_pake(self, member: MemberConnection) -> bool:
        """True if ``member`` may run a PAKE now; else it waits its turn (:meth:`pake_over`).

        An address gets as many PAKEs at once as it has free failures left (one once they are
        spent), so parallel connections gain no guesses over sequential ones, while honest
        members joining together from one address (an office, a NAT) only wait a moment.
        """
        source = member.source
        free = self.config.login_free_failures - self.logins.failures(source, self.now())
        return self._pakes_in_flight[source] < max(1, free)

    def pake_started(self, member: MemberConnection) -> None:
        """``member`` takes a PAKE slot (from its first bytes until the PAKE is decided)."""
        self._pakes_in_flight[member.source] += 1

    def pake_waits(self, member: MemberConnection) -> None:
        """``member`` holds a PAKE message until :meth:`may_start_pake` says yes."""
        self._pake_waiters.setdefault(member.source, collections.deque()).append(member)

    def pake_over(self, member: MemberConnection, *, outcome: str, why: str = "") -> None:
        """``member``'s PAKE slot is free again. ``outcome`` "success" clears the address's
        failures, "failure" counts one, "none" (gone before any guess) neither; then the next
        held PAKE from that address may run."""
        source = member.source
        remaining = self._pakes_in_flight[source] - 1
        if remaining > 0:
            self._pakes_in_flight[source] = remaining
        else:
            self._pakes_in_flight.pop(source, None)
        if outcome == "success":
            self.logins.record_success(source)
        elif outcome == "failure":
            self.login_failed(member, why)
        self._wake_pake_waiters(source)

    def pake_forget(self, member: MemberConnection) -> None:
        """A member holding a PAKE message went away before its turn."""
        waiters = self._pake_waiters.get(member.source)
        if waiters is not None and member in waiters:
            waiters.remove(member)
            if not waiters:
                del self._pake_waiters[member.source]

    def _wake_pake_waiters(self, source: str) -> None:
        waiters = self._pake_waiters.get(source)
        while waiters:
            member = waiters[0]
            if member.transport is None or member.transport.is_closing():
                waiters.popleft()
            elif self.logins.retry_after(source, self.now()) > 0:
                waiters.popleft()
                self.refuse_if_throttled(member)
            elif self.may_start_pake(member):
                waiters.popleft()
                member.resume_held()
            else:
                break
        if not waiters:
            self._pake_waiters.pop(source, None)

    def login_failed(self, member: MemberConnection, why: str) -> None:
        """Count and log a failed login."""
        now = self.now()
        self.logins.record_failure(member.source, now)
        logger.info(
            "login refused from %s: %s (%d recent failures)",
            member.peer, why, self.logins.failures(member.source, now),
        )

    def _log_refusal(self, member: MemberConnection, what: str) -> None:
        # A throttled guesser may knock hundreds of times a second; one line per source per
        # _REFUSAL_LOG_EVERY seconds says the same, and keeps the log (and disk) small.
        now = self.now()
        entry = self._refusals_logged.get(member.source)
        if entry is not None and now - entry[0] < _REFUSAL_LOG_EVERY:
            entry[1] += 1
            return
        more = f" ({int(entry[1])} more refused since)" if entry is not None and entry[1] else ""
        if len(self._refusals_logged) >= 10_000:
            self._refusals_logged.clear()
        self._refusals_logged[member.source] = [now, 0.0]
        logger.info("refused %s: %s%s", member.peer, what, more)

    def join(self, member: MemberConnection, username: str) -> None:
        """JoinRequested: admit the member to the room or reject the name."""
        try:
            name = self.room.check_join(username)
        except JoinRejected as rejected:
            logger.info("refused %s: %s", member.peer, rejected.text)
            member.protocol.reject_join(rejected.code, rejected.text)
            return
        data = self.room.join(name, member)  # the others learn of the joiner first
        if data:
            self._frames.append(data)
        self._joined_at[member] = len(self._frames)  # the joiner gets only what follows
        self.schedule_flush()
        welcome = self.room.welcome(name)
        try:
            member.protocol.accept_join(**welcome)
        except ValueError:  # defensive: Room already sized the history to fit
            member.protocol.accept_join(**{**welcome, "history_items": ()})
        member.joined(name)
        logger.info("user %s (%s) connected", name, member.peer)

    def left(self, member: MemberConnection, code: Reason) -> None:
        """A member is gone (or going): tell the others with the next broadcast."""
        name, member.name = member.name, None
        if name is not None and self.room.leave(name, code, handle=member):
            logger.info(
                "user %s (%s) disconnected (%s)",
                name, member.peer, _LEFT_WORDS.get(code, code.name.lower()),
            )
            self.schedule_flush()

    def submit(self, member: MemberConnection, messages: tuple) -> None:
        if member.name is None:
            return
        self.room.submit(member.name, messages)
        self.schedule_flush()

    def schedule_flush(self) -> None:
        """Seal what is pending at the end of this loop iteration: whatever else arrives in
        the same iteration shares the one seal."""
        if self._flush_handle is None and self._loop is not None:
            self._flush_handle = self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        """End of a loop iteration: seal what is pending and write this iteration's broadcasts,
        one write per member. A join storm thus costs one write per member per iteration, not
        one per member per join."""
        self._flush_handle = None
        data = self.room.flush()
        if data:
            self._frames.append(data)
        frames, self._frames = self._frames, []
        joined, self._joined_at = self._joined_at, {}
        if frames:
            self._fan_out(self.room.handles(), frames, joined)

    def _fan_out(
        self,
        members: list[MemberConnection],
        frames: list[bytes],
        joined: dict[MemberConnection, int],
    ) -> None:
        """Write ``frames`` to every member; one who joined this iteration gets only the frames
        from its index in ``joined`` on (its WELCOME's next_seq)."""
        limit = self.config.write_buffer_limit
        tails = {0: frames[0] if len(frames) == 1 else b"".join(frames)}
        slow = []
        for member in members:
            transport = member.transport
            if transport is None or transport.is_closing():
                continue
            start = joined.get(member, 0) if joined else 0
            data = tails.get(start)
            if data is None:
                data = tails[start] = b"".join(frames[start:])
            if not data:
                continue
            transport.write(data)  # the same bytes object for everyone: sealed once
            if transport.get_write_buffer_size() > limit:
                slow.append(member)
        for member in slow:
            member.end(Reason.SLOW_READER, "You were not reading fast enough.")


def __getattr__(name: str) -> object:
    # RelayThread lives in its own module (it imports this one); keep `from net.relay import
    # RelayThread` working without a circular import at load time.
    if name == "RelayThread":
        from net.relay_thread import RelayThread

        return RelayThread
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
