"""The asyncio relay: one room, many members, driven by the sans-I/O protocol core.

Each accepted socket gets a :class:`net.relay.member.MemberConnection` (an
``asyncio.Protocol``, not streams: an idle connection then costs a transport, one protocol core
and a few slots, no task, no stream buffers). The room's state lives in
:class:`net.proto.Room`, who may log in and when in :class:`net.relay.admission.Admission`;
this module does the I/O, timers and limits:

* TCP_NODELAY on every socket (chat is small messages; Nagle would add tens of ms);
* login rate limits per source address and relay-wide *before* any PAKE work; a peer that
  drops after receiving our PAKE share but before confirming counts as a failed guess, so
  disconnecting cannot be used to learn a guess's result for free;
* a pre-hello deadline and bounds on connections that have sent nothing (they hold no
  handshake slot), a handshake deadline, an idle ping and reaping, a bound on concurrent
  handshakes;
* broadcasts coalesced per loop iteration: one seal, the same bytes to every member; a member
  whose write buffer passes the limit is disconnected (SLOW_READER), never buffered without end;
* a per-member message rate: past it the member gets a NOTICE and its socket stops being read
  until the bucket refills (nothing is dropped; TCP backpressure slows the sender); a WANT
  counts as a message;
* sender key shares handed on one for one, never amplified, each sealed to its recipient
  alone; a share budget per member, sized by the room, limits them as the message rate does
  (see member.py), and a joiner's shares wait for the broadcast that announces it;
* room actions (a room with an owner: net.proto._authority) checked by the Room before they
  are passed on, counted as messages; a refused one gets its actor a NOTICE, a removal closes
  the removed member's connection (GOODBYE REMOVED), and the room file is rewritten with the
  new action log.

Use :class:`Relay` inside a running event loop, or :class:`net.relay.RelayThread` to run one in
a background thread (the app's "Host a room", tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from net import proto
from net.proto import (
    DEFAULT_ROOM,
    Action,
    ActionKind,
    ActionRefused,
    Authority,
    JoinRejected,
    LocalProtocolError,
    MemberInfo,
    Reason,
    Room,
)
from net.relay.admission import Admission
from net.relay.bindings import load_bindings, save_bindings
from net.relay.config import RelayConfig
from net.relay.listen import describe_hosts, open_listeners
from net.relay.member import MemberConnection
from net.relay.roomfile import RoomSecret

logger = logging.getLogger("socketchat.relay")

# How a departure reads in the log ("user alice (…) disconnected (left the room)").
_LEFT_WORDS = {
    Reason.LEAVING: "left the room",
    Reason.CONNECTION_LOST: "connection lost",
    Reason.IDLE_TIMEOUT: "no sign of life, reaped",
    Reason.SLOW_READER: "too slow reading, dropped",
    Reason.PROTOCOL_ERROR: "protocol error",
    Reason.ROOM_CLOSING: "room closing",
    Reason.REMOVED: "removed from the room",
}
_NOT_ACCEPTED_LOG_LIMIT = 1024  # sources remembered for de-duplicating "refused" lines
_MIN_TIMER = 0.01  # never re-arm a timer sooner than this (a frozen test clock must not spin)
#: How long presence waits per member in big rooms (0.5 s at 5,000); the minimum is the
#: config's presence_delay. A write costs about 10 µs, so 100 µs of waiting per member keeps
#: the presence writes near a tenth of the relay's time.
_PRESENCE_WAIT_PER_MEMBER = 100e-6


@dataclass(frozen=True)
class RelayStats:
    """A snapshot for tests and status lines."""

    port: int
    members: tuple[str, ...]
    connections: int
    silent: int  # accepted, nothing received yet
    handshakes: int
    queued: int  # sent a hello, waiting for a handshake slot
    history: int
    broadcasts: int
    throttled: int


def _authority(secret: RoomSecret, room_file: Path | None) -> Authority | None:
    """The room's owner, admins and removed members, from its genesis and saved actions;
    ``ValueError`` naming the room file if an action does not apply."""
    try:
        return secret.authority()
    except ValueError as exc:
        where = f"The room file {room_file}" if room_file is not None else "The room"
        raise ValueError(
            f"{where} is damaged: {exc}. Restore it from a backup; the relay does not serve a "
            "room whose owner's and admins' actions it cannot check."
        ) from None


class Relay:
    """Serves one room. ``await start()``, later ``await stop()``; or ``await serve_forever()``.

    All methods run on the event loop's thread (use RelayThread from other threads).
    """

    def __init__(
        self,
        secret: RoomSecret,
        config: RelayConfig | None = None,
        *,
        names_file: Path | None = None,
        room_file: Path | None = None,
    ) -> None:
        """``names_file``: where the name bindings are kept (read now, rewritten when a name
        is bound). ``room_file``: where ``secret`` came from, rewritten with the room's actions
        after each one (a room with an owner); without it the actions live in memory only.

        ``ValueError`` in plain words if the names file is damaged or a saved action does not
        apply (a damaged or tampered room file): the relay must not serve the room so.
        """
        self.secret = secret
        self.config = config = config or RelayConfig()
        self._names_file = names_file
        self._room_file = room_file
        self.room: Room[MemberConnection] = Room(
            max_members=config.max_members,
            history_limit=config.history,
            max_message_bytes=config.max_message_bytes,
            bindings=load_bindings(names_file) if names_file is not None else None,
            authority=_authority(secret, room_file),
        )
        self.admission: Admission[MemberConnection] = Admission(
            clock=self.now,
            max_handshakes=config.max_handshakes,
            max_handshakes_per_source=config.max_handshakes_per_source,
            max_silent=config.max_silent,
            max_silent_per_source=config.max_silent_per_source,
            max_queued=config.max_queued,
            max_queued_per_source=config.max_queued_per_source,
            queue_timeout=config.queue_timeout,
            free_failures=config.login_free_failures,
            base_delay=config.login_base_delay,
            max_delay=config.login_max_delay,
            global_burst=config.login_global_burst,
            global_refill=config.login_global_refill,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._servers: list[asyncio.base_events.Server] = []
        self._connections: set[MemberConnection] = set()
        self._flush_handle: asyncio.Handle | None = None
        self._flush_soon = False  # the scheduled flush is for chat: at the end of this iteration
        # Members whose JOINED item has not been broadcast yet, with the shares they handed out
        # meanwhile: (distributor's signing key, shares). The next flush writes them after the
        # broadcast, so that nobody is handed a share by a member it has not heard of.
        self._unannounced: dict[
            MemberConnection, list[tuple[bytes, Sequence[tuple[bytes, bytes]]]]
        ] = {}
        self._all_gone: asyncio.Event | None = None
        self._not_accepted_logged: dict[str, None] = {}  # sources logged, oldest first
        self._closed: asyncio.Event | None = None
        self.port = 0
        # Where the relay listens once started: (address, port) of each socket.
        self.addresses: tuple[tuple[str, int], ...] = ()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> int:
        """Listen; return the port (useful with ``port=0``). OSError if the port is taken.

        Every socket of :func:`net.relay.listen.open_listeners` (one dual-stack socket by
        default) gets its own asyncio server, all feeding this one room.
        """
        loop = self._loop = asyncio.get_running_loop()
        self._all_gone, self._closed = asyncio.Event(), asyncio.Event()
        sockets = open_listeners(self.config.host, self.config.port, self.config.backlog)
        try:
            for sock in sockets:
                server = await loop.create_server(
                    lambda: MemberConnection(self), sock=sock, backlog=self.config.backlog
                )
                self._servers.append(server)
        except BaseException:
            for server in self._servers:
                server.close()
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.close()
            self._servers = []
            raise
        self.addresses = tuple(
            (str(sock.getsockname()[0]), int(sock.getsockname()[1])) for sock in sockets
        )
        self.port = self.addresses[0][1]
        logger.info(
            "room %s open on port %d (%s)",
            self.secret.room_id.hex()[:8],
            self.port,
            describe_hosts(self.config.host),
        )
        return self.port

    async def serve_forever(self) -> None:
        """Start if needed and serve until :meth:`stop` is called (from another task)."""
        if not self._servers:
            await self.start()
        if self._closed is not None:
            await self._closed.wait()

    async def stop(self) -> None:
        """Close the room: GOODBYE ROOM_CLOSING to every member, close every connection and
        wait (at most ``close_timeout``) until all are gone. Idempotent."""
        if not self._servers or self._closed is None or self._closed.is_set():
            return
        for server in self._servers:
            server.close()
        for member in list(self._connections):
            member.end(Reason.ROOM_CLOSING, "The room was closed by its host.", announce=False)
        if self._connections and self._all_gone is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._all_gone.wait(), self.config.close_timeout)
        for member in list(self._connections):
            member.abort()
        for server in self._servers:
            await server.wait_closed()
        logger.info("room %s closed", self.secret.room_id.hex()[:8])
        self._closed.set()

    def stats(self) -> RelayStats:
        """Counts for tests and status lines (call on the loop's thread)."""
        return RelayStats(
            port=self.port,
            members=self.room.members,
            connections=len(self._connections),
            silent=self.admission.silent,
            handshakes=self.admission.handshakes,
            queued=self.admission.queued,
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

    def register(self, member: MemberConnection) -> bool:
        """A new connection; False if the room is closing (refuse it). Admission is next."""
        self._connections.add(member)
        if self._all_gone is not None:
            self._all_gone.clear()  # stop() must wait for this one too
        return not (self._closed is not None and self._closed.is_set())

    def forget(self, member: MemberConnection) -> None:
        """``member``'s connection is closed."""
        self._connections.discard(member)
        if not self._connections and self._all_gone is not None:
            self._all_gone.set()

    def select_room(self, member: MemberConnection, room_id: bytes) -> None:
        """RoomRequested: this relay serves one room, asked for by its id or as the default."""
        if room_id in (DEFAULT_ROOM, self.secret.room_id):
            member.protocol.select_room(self.secret.credentials)
        else:
            logger.info(
                "refused %s: asked for room %s, not served here", member.peer, room_id.hex()[:8]
            )
            member.protocol.refuse(Reason.NO_SUCH_ROOM, "This relay does not host that room.")

    def join(self, member: MemberConnection, request: proto.JoinRequested) -> None:
        """JoinRequested: admit the member to the room or reject the name."""
        try:
            name = self.room.check_join(request.username, request.signing_key)
        except JoinRejected as rejected:
            logger.info("refused %s: %s", member.peer, rejected.text)
            member.protocol.reject_join(rejected.code, rejected.text)
            return
        old = self.room.handle_of_identity(request.signing_key)  # under any name
        if old is not None and old is not member:
            # The same identity again (a reconnect the relay has not noticed yet): the proof
            # in its JOIN shows it is the same member, so the new connection wins at once.
            old.end(Reason.REPLACED, "You joined this room again from another connection.")
        info = MemberInfo(
            name=name, signing_key=request.signing_key, dh_key=request.dh_key, tag=request.tag
        )
        self.room.join(info, member)  # its JOINED item goes out with the next flush
        self._unannounced[member] = []
        self.schedule_flush(presence_only=True)
        welcome = self.room.welcome(name, resume_after=request.resume_after)
        try:
            member.protocol.accept_join(welcome)
        except LocalProtocolError:  # defensive: Room already sized the history to fit
            try:
                member.protocol.accept_join(dataclasses.replace(welcome, history=()))
            except LocalProtocolError:
                # The member list and the room's action log alone pass the frame cap: no
                # welcome can be sent, so the member cannot be let in.
                self._unannounced.pop(member, None)
                self.room.leave(name, Reason.ROOM_FULL, handle=member)
                logger.warning(
                    "refused %s: the room's member list and action log no longer fit in a welcome",
                    member.peer,
                )
                member.protocol.reject_join(
                    Reason.ROOM_FULL,
                    "The room cannot take another member: its member list and action log are "
                    "too large.",
                )
                return
        member.joined(name)
        logger.info("user %s (%s) connected", name, member.peer)
        self._save_bindings()

    def _save_bindings(self) -> None:
        if self.room.bindings_changed:
            self.room.bindings_changed = False
            if self._names_file is not None:
                save_bindings(self._names_file, self.room.bindings)

    def act(self, member: MemberConnection, encoded: bytes) -> None:
        """ActionSubmitted: check the action and take it (the Room applies the rules), pass
        it on to everyone with the next broadcast, and keep it with the room.

        A refused action changes nothing: its actor gets NOTICE(ACTION_REFUSED) with the
        reason and stays. A removal closes the removed member's connection, if it is here,
        with GOODBYE(REMOVED), and everyone gets LEFT(REMOVED) after the action itself.
        """
        name = member.name
        if name is None:
            return
        try:
            action = Action.decode(encoded)
            if action.actor != self.room.signing_key_of(name):
                raise ActionRefused("an action signed by another member than its sender")
            verifier = None
            if action.kind is ActionKind.CHANGE_PASSWORD:
                verifier = member.pending_verifier
                if verifier is None or verifier[0] != action.seq:
                    raise ActionRefused("a password change without the new verifier")
            removed = self.room.act(action)
        except ActionRefused as refused:
            logger.info("refused an action from %s (%s): %s", name, member.peer, refused)
            with contextlib.suppress(LocalProtocolError):
                member.protocol.send_notice(
                    Reason.ACTION_REFUSED, f"Your action was refused: {refused}."
                )
            return
        logger.info(
            "user %s (%s) took room action %d: %s %s%s",
            name,
            member.peer,
            action.seq,
            action.kind.name.lower().replace("_", " "),
            action.target.hex()[:8],
            f" {action.detail!r}" if action.detail else "",
        )
        if removed is not None and removed is not member:
            removed.end(Reason.REMOVED, "You were removed from the room.")
        if verifier is not None:
            self._change_password(verifier[1])
            return
        self.schedule_flush()
        self._save_actions()
        self._save_bindings()

    def _change_password(self, access: bytes) -> None:
        """CHANGE_PASSWORD was taken: from now on handshakes prove the new password. The action
        goes out to everyone now, then every connection is closed (GOODBYE PASSWORD_CHANGED):
        members come back with the new password, and their new membership tags."""
        self.secret = self.secret.with_access(access)
        self.room.actions_changed = True
        self._save_actions()
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._flush()
        logger.info("the room password changed: every member joins again")
        for connection in list(self._connections):
            connection.end(
                Reason.PASSWORD_CHANGED,
                "The room password changed: join again with the new one.",
                announce=False,
            )

    def hand_out_secrets(
        self, member: MemberConnection, secrets: Sequence[tuple[bytes, bytes]]
    ) -> None:
        """SecretsSubmitted: each sealed secret to the member it names, as a SECRET attested to
        come from ``member``'s signing key (as :meth:`hand_out` does for shares)."""
        if member.name is None:
            return
        distributor = self.room.signing_key_of(member.name)
        if distributor is None:
            return
        for recipient, blob in secrets:
            target = self.room.handle_of_identity(recipient)
            if target is None or target is member:
                continue
            if target.protocol.send_secret(distributor, blob):
                target.flush()

    def _save_actions(self) -> None:
        """Keep the room's action log with its secret, and in its room file if it has one
        (rewritten in one step; a failure is logged, and the next action tries again)."""
        authority = self.room.authority
        if not self.room.actions_changed or authority is None:
            return
        self.room.actions_changed = False
        self.secret = self.secret.with_actions(action.encode() for action in authority.actions)
        if self._room_file is None:
            return
        try:
            self.secret.save(self._room_file, overwrite=True)
        except OSError as exc:
            logger.warning(
                "cannot save the room's actions to %s: %s", self._room_file, exc.strerror or exc
            )

    def left(self, member: MemberConnection, code: Reason, *, announce: bool = True) -> None:
        """A member is gone (or going): tell the others with the next broadcast (unless
        ``announce`` is False: the room is closing and nobody is left to tell)."""
        name, member.name = member.name, None
        if name is None or not self.room.leave(name, code, handle=member):
            return
        if announce:
            logger.info(
                "user %s (%s) disconnected (%s)",
                name,
                member.peer,
                _LEFT_WORDS.get(code, code.name.lower()),
            )
            self.schedule_flush(presence_only=True)

    def not_accepted(self, member: MemberConnection) -> None:
        """``accept_peer`` turned ``member`` away: one log line per source address (or IPv6
        /64), so a scan of the port cannot flood the log."""
        logged = self._not_accepted_logged
        if member.source in logged:
            return
        if len(logged) >= _NOT_ACCEPTED_LOG_LIMIT:
            del logged[next(iter(logged))]
        logged[member.source] = None
        logger.info("refused %s: not from a network this room accepts", member.peer)

    def submit(self, member: MemberConnection, envelopes: Sequence[memoryview]) -> None:
        if member.name is None:
            return
        self.room.submit(member.name, envelopes)
        self.schedule_flush()

    def hand_out(self, member: MemberConnection, shares: Sequence[tuple[bytes, bytes]]) -> None:
        """SharesSubmitted: hand each share to the member whose signing key it names, as a
        SHARE attested to come from ``member``'s signing key; one share in, one out.

        A recipient not in the room (it left meanwhile, or never was) is skipped, and so is a
        share addressed to its sender. Shares from a member whose JOINED item is still waiting
        for its broadcast wait for it too (see :meth:`_flush`).
        """
        if member.name is None:
            return
        distributor = self.room.signing_key_of(member.name)
        if distributor is None:
            return
        held = self._unannounced.get(member)
        if held is not None:
            held.append((distributor, shares))
        else:
            self._deliver(distributor, shares)

    def _deliver(self, distributor: bytes, shares: Sequence[tuple[bytes, bytes]]) -> None:
        """Seal each share for its recipient (per-connection keys: one seal per share), then
        one write per recipient. A recipient whose unread bytes pass the write buffer limit is
        dropped by its pause_writing (SLOW_READER), as for any write."""
        reached: dict[MemberConnection, None] = {}
        for recipient, share in shares:
            if recipient == distributor:
                continue  # nothing to hand oneself
            target = self.room.handle_of_identity(recipient)
            if target is not None and target.protocol.send_share(distributor, share):
                reached[target] = None
        for target in reached:
            target.flush()

    def history_page(self, member: MemberConnection, before: int, limit: int) -> None:
        """HistoryRequested: answer with the stored messages older than ``before``."""
        first, items = self.room.page(before, limit)
        member.protocol.send_history_page(first, items)

    def want(self, member: MemberConnection, payload: bytes) -> None:
        """KeysWanted: broadcast a WANTED item, attested with ``member``'s signing key. It
        is presence-like: coalesced with joins and leaves, never kept in the history."""
        if member.name is None:
            return
        self.room.want(member.name, payload)
        self.schedule_flush(presence_only=True)

    def member_count(self) -> int:
        return len(self.room)

    def schedule_flush(self, *, presence_only: bool = False) -> None:
        """Seal what is pending at the end of this loop iteration, so that whatever else
        arrives in the same iteration shares the one seal; or, for joins and leaves only
        (``presence_only``), ``presence_delay`` seconds later. In a join storm every member
        gets one presence broadcast per delay instead of one per join, which keeps the
        relay's work linear in the joiners rather than quadratic; chat never waits for it."""
        loop = self._loop
        if loop is None:
            return
        if self._flush_handle is not None:
            if presence_only or self._flush_soon:
                return
            self._flush_handle.cancel()  # chat arrived: what was waiting goes with it, now
        self._flush_soon = not presence_only
        if presence_only and self.config.presence_delay > 0:
            # A presence broadcast costs a write per member, so in a big room it waits longer:
            # its writes then take about a tenth of the relay's time at most, whatever the size.
            delay = max(self.config.presence_delay, len(self.room) * _PRESENCE_WAIT_PER_MEMBER)
            self._flush_handle = loop.call_later(delay, self._flush)
        else:
            self._flush_handle = loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Seal what is pending and write it, one write per member: the same bytes for all,
        those who joined since the last flush included (their WELCOME's next_seq is this
        broadcast's). Then the shares that waited for this broadcast to announce their
        distributors."""
        self._flush_handle = None
        held, self._unannounced = self._unannounced, {}
        data = self.room.flush()
        if data:
            limit = self.config.write_buffer_limit
            slow = []
            for member in self.room.handles():
                transport = member.transport
                if transport is None or transport.is_closing():
                    continue
                transport.write(data)  # the same bytes object for everyone: sealed once
                if transport.get_write_buffer_size() > limit:
                    slow.append(member)
            for member in slow:
                member.end(Reason.SLOW_READER, "You were not reading fast enough.")
        for sender, message_ids in self.room.take_acks():
            if sender.protocol.send_ack(message_ids):
                sender.flush()
        for batches in held.values():
            for distributor, shares in batches:
                self._deliver(distributor, shares)
