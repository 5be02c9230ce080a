"""One room served by a relay: its secret, its members, its history, its broadcasts.

A :class:`net.relay.Relay` listens and admits connections for every room it serves; once a
connection names its room (CLIENT_OPEN, :meth:`Relay.select_room`), its
:class:`~net.relay.member.MemberConnection` is handed to that room's :class:`ServedRoom`, which
from then on is the connection's host (``member.relay``): joins, chat, shares, actions, history
pages and departures go to the room, while the clock, timers and login throttles stay the
relay's (relay-wide, whatever the room). Each room has its own limits (``config``: members,
message rate, history in a WELCOME), its own history store, and its own log lines, which start
with ``room 1af4c48e:`` when the relay serves several rooms.

Broadcasts are coalesced per loop iteration: one seal, the same bytes to every member of the
room. The chat items of a flush are stored before anything is sealed (``Room.flush``); if the
store fails (a full disk), nothing of that flush is sent or acknowledged, the failure is logged,
and the connections that sent its messages are closed (GOODBYE ROOM_CLOSING): their clients
keep the messages and send them again after reconnecting.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from net import proto
from net.proto import (
    Action,
    ActionKind,
    ActionRefused,
    Authority,
    JoinRejected,
    LocalProtocolError,
    MemberInfo,
    Reason,
    Room,
    RoomFiles,
)
from net.proto._files import FileStore
from net.proto._history import HistoryStore
from net.relay.admission import Admission
from net.relay.bindings import load_bindings, save_bindings
from net.relay.config import RelayConfig
from net.relay.files import SqliteFiles
from net.relay.fileserve import FileEvent, FileService
from net.relay.member import MemberConnection
from net.relay.roomfile import RoomSecret

if TYPE_CHECKING:
    from net.relay.server import Relay

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
#: How long presence waits per member in big rooms (0.5 s at 5,000); the minimum is the
#: config's presence_delay. A write costs about 10 µs, so 100 µs of waiting per member keeps
#: the presence writes near a tenth of the relay's time.
_PRESENCE_WAIT_PER_MEMBER = 100e-6

# TEST ONLY: SOCKETCHAT_TEST_CRASH_AT=POINT[:N] makes the relay kill itself (SIGKILL) at POINT
# of its N-th broadcast that carries chat (default 1): "before-store", "after-store" (stored,
# nothing written), "mid-write" (written to the first half of the members). The crash tests
# (tests/e2e/test_kill_fanout.py) use it to show that what was acknowledged survives. Read
# once, at import; unset, it costs one comparison per broadcast.
_CRASH_ENV = "SOCKETCHAT_TEST_CRASH_AT"
_CRASH_POINTS = ("before-store", "after-store", "mid-write")


def _crash_plan() -> tuple[str, int] | None:
    text = os.environ.get(_CRASH_ENV)
    if not text:
        return None
    point, _, count = text.partition(":")
    if point not in _CRASH_POINTS or not (count or "1").isdigit():
        raise SystemExit(f"{_CRASH_ENV}={text!r}: expected one of {_CRASH_POINTS}[:N]")
    return point, int(count or "1")


_CRASH_AT = _crash_plan()


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


class ServedRoom:
    """One room of a relay, and the host of every connection that asked for it.

    Made by :class:`net.relay.Relay` (one per room file, or the one room it was given); all
    methods run on the relay's loop. ``tag``: the log lines' prefix ("" when the relay serves
    one room, ``"room 1af4c48e: "`` when it serves several).
    """

    def __init__(
        self,
        relay: Relay,
        secret: RoomSecret,
        config: RelayConfig,
        *,
        names_file: Path | None = None,
        room_file: Path | None = None,
        history: HistoryStore | None = None,
        files: FileStore | None = None,
        file_max_age_ms: int = 0,
        tag: str = "",
    ) -> None:
        """``files``: where the room keeps files (a temporary database, made when the first
        file comes, unless given; none when ``config.max_file_bytes`` is 0), for at most
        ``file_max_age_ms`` (0: no age limit).

        ``ValueError`` in plain words if the names file is damaged or a saved action does
        not apply (a damaged or tampered room file): the relay must not serve the room so."""
        self.relay = relay
        self.secret = secret
        self.config = config
        self.admission: Admission[MemberConnection] = relay.admission
        self.tag = tag
        self.history = history
        if files is None and config.max_file_bytes:
            files = SqliteFiles(None, room_id=secret.room_id)
        self.file_store = files
        self._names_file = names_file
        self.room_file = room_file
        self.room: Room[MemberConnection] = Room(
            max_members=config.max_members,
            history_limit=config.history,
            max_message_bytes=config.max_message_bytes,
            bindings=load_bindings(names_file) if names_file is not None else None,
            authority=_authority(secret, room_file),
            history=history,
            files=RoomFiles(files, max_bytes=config.max_file_bytes, max_age_ms=file_max_age_ms),
        )
        self.file_service = FileService(self.room, tag=tag)
        self.connections: set[MemberConnection] = set()
        self.closed = False
        self._flush_handle: asyncio.Handle | None = None
        self._flush_soon = False  # the scheduled flush is for chat: at the end of this iteration
        self._senders: set[MemberConnection] = set()  # sent chat since the last flush
        self._chat_flushes = 0  # for the test-only crash hook
        # Members whose JOINED item has not been broadcast yet, with the shares they handed out
        # meanwhile: (distributor's signing key, shares). The next flush writes them after the
        # broadcast, so that nobody is handed a share by a member it has not heard of.
        self._unannounced: dict[
            MemberConnection, list[tuple[bytes, Sequence[tuple[bytes, bytes]]]]
        ] = {}

    @property
    def short_id(self) -> str:
        """The first 8 hex digits of the room id: how log lines name the room."""
        return self.secret.room_id.hex()[:8]

    def _log(self, text: str, *args: object, level: int = logging.INFO) -> None:
        logger.log(level, "%s" + text, self.tag, *args)

    # -- the relay's side ------------------------------------------------------------------

    def attach(self, member: MemberConnection) -> None:
        """``member`` asked for this room: it is this room's from now on."""
        self.connections.add(member)
        member.relay = self
        member.protocol.select_room(self.secret.credentials)

    def close(self, code: Reason, text: str) -> None:
        """Stop serving the room (its file was removed): GOODBYE ``code`` to each of its
        connections, nothing more broadcast, and its history store closed."""
        if self.closed:
            return
        self.closed = True
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        for member in list(self.connections):
            member.end(code, text, announce=False)
        self.close_history()

    def close_history(self) -> None:
        """Close the history and file stores, if they have anything to close (a file; a
        temporary files database is deleted)."""
        for store in (self.history, self.file_store):
            closer = getattr(store, "close", None)
            if closer is not None:
                closer()

    # -- RelayHost: what the room's connections call -----------------------------------------

    def now(self) -> float:
        return self.relay.now()

    def call_later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        return self.relay.call_later(delay, callback)

    def register(self, member: MemberConnection) -> bool:
        return self.relay.register(member)

    def forget(self, member: MemberConnection) -> None:
        self.connections.discard(member)
        self._senders.discard(member)
        self.relay.forget(member)

    def not_accepted(self, member: MemberConnection) -> None:
        self.relay.not_accepted(member)

    def select_room(self, member: MemberConnection, room_id: bytes) -> None:
        self.relay.select_room(member, room_id)  # a second CLIENT_OPEN: the core refuses it

    def member_count(self) -> int:
        return len(self.room)

    def join(self, member: MemberConnection, request: proto.JoinRequested) -> None:
        """JoinRequested: admit the member to the room or reject the name."""
        if self.closed:
            member.end(Reason.ROOM_CLOSED, "The room was closed.")
            return
        try:
            name = self.room.check_join(request.username, request.signing_key)
        except JoinRejected as rejected:
            self._log("refused %s: %s", member.peer, rejected.text)
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
                self._log(
                    "refused %s: the room's member list and action log no longer fit in a welcome",
                    member.peer,
                    level=logging.WARNING,
                )
                member.protocol.reject_join(
                    Reason.ROOM_FULL,
                    "The room cannot take another member: its member list and action log are "
                    "too large.",
                )
                return
        member.joined(name)
        self._log("user %s (%s) connected", name, member.peer)
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
            self._log("refused an action from %s (%s): %s", name, member.peer, refused)
            with contextlib.suppress(LocalProtocolError):
                member.protocol.send_notice(
                    Reason.ACTION_REFUSED, f"Your action was refused: {refused}."
                )
            return
        self._log(
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
        self._log("the room password changed: every member joins again")
        for connection in list(self.connections):
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
        if self.room_file is None:
            return
        try:
            self.secret.save(self.room_file, overwrite=True)
        except OSError as exc:
            self._log(
                "cannot save the room's actions to %s: %s",
                self.room_file,
                exc.strerror or exc,
                level=logging.WARNING,
            )

    def left(self, member: MemberConnection, code: Reason, *, announce: bool = True) -> None:
        """A member is gone (or going): tell the others with the next broadcast (unless
        ``announce`` is False: the room is closing and nobody is left to tell)."""
        name, member.name = member.name, None
        if name is None or not self.room.leave(name, code, handle=member):
            return
        if announce:
            self._log(
                "user %s (%s) disconnected (%s)",
                name,
                member.peer,
                _LEFT_WORDS.get(code, code.name.lower()),
            )
            self.schedule_flush(presence_only=True)

    def submit(self, member: MemberConnection, envelopes: Sequence[memoryview]) -> None:
        if member.name is None:
            return
        self.room.submit(member.name, envelopes)
        self._senders.add(member)
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

    def file_request(self, member: MemberConnection, event: FileEvent) -> None:
        """A file request (PROTOCOL.md 3.6): net.relay.fileserve answers it."""
        if member.name is not None and not self.closed:
            self.file_service.handle(member, event)

    def want(self, member: MemberConnection, payload: bytes) -> None:
        """KeysWanted: broadcast a WANTED item, attested with ``member``'s signing key. It
        is presence-like: coalesced with joins and leaves, never kept in the history."""
        if member.name is None:
            return
        self.room.want(member.name, payload)
        self.schedule_flush(presence_only=True)

    # -- broadcasts ------------------------------------------------------------------------

    def schedule_flush(self, *, presence_only: bool = False) -> None:
        """Seal what is pending at the end of this loop iteration, so that whatever else
        arrives in the same iteration shares the one seal; or, for joins and leaves only
        (``presence_only``), ``presence_delay`` seconds later. In a join storm every member
        gets one presence broadcast per delay instead of one per join, which keeps the
        relay's work linear in the joiners rather than quadratic; chat never waits for it."""
        loop = self.relay.loop
        if loop is None or self.closed:
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
        """Store and seal what is pending and write it, one write per member: the same bytes
        for all, those who joined since the last flush included (their WELCOME's next_seq is
        this broadcast's). Then the ACKs (the messages are stored), and the shares that waited
        for this broadcast to announce their distributors."""
        self._flush_handle = None
        senders, self._senders = self._senders, set()
        crash = self._crash_due() if _CRASH_AT is not None and senders else None
        if crash == "before-store":
            _crash()
        try:
            data = self.room.flush()
        except OSError as exc:
            self._store_failed(exc, senders)
            return
        if crash == "after-store":
            _crash()
        held, self._unannounced = self._unannounced, {}
        if data:
            limit = self.config.write_buffer_limit
            slow = []
            handles = self.room.handles()
            crash_after = max(1, len(handles) // 2) if crash == "mid-write" else -1
            for written, member in enumerate(handles):
                if written == crash_after:
                    _crash()
                transport = member.transport
                if transport is None or transport.is_closing():
                    continue
                transport.write(data)  # the same bytes object for everyone: sealed once
                if transport.get_write_buffer_size() > limit:
                    slow.append(member)
            if crash == "mid-write":
                _crash()  # a room of one member: written to all of it
            for member in slow:
                member.end(Reason.SLOW_READER, "You were not reading fast enough.")
        for sender, message_ids in self.room.take_acks():
            if sender.protocol.send_ack(message_ids):
                sender.flush()
        for batches in held.values():
            for distributor, shares in batches:
                self._deliver(distributor, shares)

    def _store_failed(self, exc: OSError, senders: set[MemberConnection]) -> None:
        """The history store refused a flush's messages: nothing of them was sent or
        acknowledged. Their senders are disconnected so that their clients, which keep every
        message until it is acknowledged, send them again once they are back; the rest of the
        flush (joins, departures, actions) goes out with the next one."""
        self._log(
            "cannot store messages, so %d member(s) who sent some are disconnected to send "
            "them again later: %s",
            len(senders),
            exc.strerror or exc,
            level=logging.ERROR,
        )
        for member in senders:
            member.end(
                Reason.ROOM_CLOSING,
                "The relay cannot store messages right now; yours will be sent again.",
            )
        if self.room.pending:
            self.schedule_flush(presence_only=True)

    def _crash_due(self) -> str | None:
        """TEST ONLY (see _CRASH_AT): the crash point if this is the chat flush to die at."""
        assert _CRASH_AT is not None
        self._chat_flushes += 1
        point, count = _CRASH_AT
        return point if self._chat_flushes == count else None


def _crash() -> None:
    """TEST ONLY: die now, as a power cut or the OOM killer would end the process."""
    os.kill(os.getpid(), signal.SIGKILL)
