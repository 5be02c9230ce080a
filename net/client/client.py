"""The threaded client library shared by the desktop app and the terminal client.

One daemon worker thread owns the socket and drives the sans-I/O :class:`net.proto.ClientProtocol`
(one :class:`~net.client.session.Session` per connection attempt): it connects, stretches the
password (once per room), runs the handshake, joins, reads, writes, and reconnects with backoff
after a loss. Callers on other threads only call :meth:`ChatClient.send` (and
:meth:`ChatClient.send_private`, which seals its box on the caller's thread first),
:meth:`ChatClient.retry_now` and :meth:`ChatClient.close`, which never block on the network:
they queue work under a lock and wake the worker through a socket pair. With an archive,
``send`` waits for one local write (:mod:`net.client.keeper`), never for the network.

Events (:mod:`net.client.events`) reach ``on_event`` from the worker thread, *outside* the
lock, so a callback may call :meth:`ChatClient.send`. A GUI's callback must only ``queue.put``.
"""

from __future__ import annotations

import contextlib
import logging
import random
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from Crypto.Random import get_random_bytes

from crypto.errors import AuthenticationError
from crypto.identity import Identity
from crypto.kdf import RoomKeys, derive_room_keys
from crypto.passphrase import generate_passphrase
from crypto.password import normalize_password
from crypto.private import seal_private
from net import proto
from net.client import content, texts
from net.client import events as ce
from net.client.archive import Archive, StoredMessage
from net.client.errors import CLIENT_CLOSED, LEFT_BEFORE_SENT, ClientStopped
from net.client.events import ErrorKind
from net.client.keeper import ArchiveKeeper
from net.client.session import STOPPED, Final, Lost, Session
from net.client.transfers import Transfers
from net.client.trust import Trust, TrustStore, relay_address
from net.proto import (
    DEFAULT_ROOM,
    MAX_MESSAGE_BYTES,
    MESSAGE_ID_SIZE,
    ContentType,
    MemberInfo,
    Outbox,
    PendingMessage,
    RecentIds,
    reconnect_delay,
    username_key,
    validate_username,
)

log = logging.getLogger("socketchat.client")

HANDSHAKE_TIMEOUT = 15.0  # excludes key derivation, which happens before we answer the relay
PING_AFTER = 25.0  # seconds of silence from the relay before we ping it
DEAD_AFTER = 60.0  # seconds of silence before the connection counts as lost
_FIRST_JOIN_TRIES = 5  # attempts before a transient refusal (relay busy) becomes a failure
_KEYRING_STORE_EVERY = 2.0  # seconds between stores of accepted counters (epochs: at once)


def _text_size(text: str) -> int:
    """``text``'s UTF-8 size; ``ValueError`` for an empty text or one with no UTF-8 form."""
    if not text.strip():
        raise ValueError(texts.EMPTY_MESSAGE)
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError(texts.BROKEN_CHARACTER) from None


class ChatClient:
    """One member's connection to one room, kept alive across network losses.

    Call :meth:`start`, then :meth:`send` as the user writes and :meth:`close` when leaving.
    Give either the room ``password`` (it is stretched once per room and the keys are kept in
    :attr:`keys`) or ``keys`` derived earlier for the same room.

    What happens to a message (PROTOCOL.md 3.5). :meth:`send` gives it an id and puts it in
    the outbox; it stays there until the relay confirms it stored it (its ACK, or the
    message's echo: :class:`~net.client.MessageStored`). After every reconnect, everything
    unconfirmed is sent again with the same ids, in the order written; the relay stores an id
    once and receivers drop ids they have seen, so each message arrives once. Losses after
    joining are retried by themselves with backoff (:class:`~net.client.Disconnected` with
    ``retry_in``; :meth:`retry_now` skips the wait), and so is a relay stopping for a restart.

    Failures are said. When the client stops for good (:class:`~net.client.Failed`, or
    :meth:`close`), whatever is still unconfirmed is handed back once as
    :class:`~net.client.NotSent` (before Failed), and from then on :meth:`send` raises
    :class:`~net.client.ClientStopped` (``kind`` = the failure's, None after close): it never
    takes a message it will not send. A stopped client cannot be restarted: make a new one.

    ``archive`` opens this device's :class:`~net.client.archive.Archive` (for instance
    ``functools.partial(Archive.open, path, Keychain.open().local_key())``); the client opens
    its own connection to it on a thread of its own. With it, each message is written to the
    archive's outbox before :meth:`send` returns and dropped there once confirmed; every
    message opened in the room is recorded with its position; and the room is resumed after
    the resume point recorded when the last connection to it ended. So a new client for the
    same room (the next run, or a Rejoin) sends what an earlier one left unconfirmed
    (:class:`~net.client.OutboxRestored`) and fetches only what it missed. Messages are
    keyed by the room asked for (``room_id``) when one is given; otherwise they wait in
    memory until the relay's welcome names the room, and are written then. Without an
    archive (no keyring, or local history off), everything stays in memory: what is
    unconfirmed at the end is only in NotSent.

    ``identity`` is this device's identity (``net.client.storage.load_identity``); every
    message is signed with it. ``trust`` holds the relay pins and what this device remembers
    about members (memory only if not given). ``room_id`` is the room to ask for: the relay's
    default unless an invite named one.

    ``clock`` (monotonic seconds) and ``wall_clock`` (epoch seconds, for message timestamps)
    are injectable: tests move them instead of waiting.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        on_event: Callable[[ce.ClientEvent], None],
        identity: Identity,
        password: str | None = None,
        keys: RoomKeys | None = None,
        trust: TrustStore | None = None,
        room_id: bytes = DEFAULT_ROOM,
        connect_timeout: float = 10.0,
        handshake_timeout: float = HANDSHAKE_TIMEOUT,
        ping_after: float = PING_AFTER,
        dead_after: float = DEAD_AFTER,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        kdf_cost: int | None = None,
        archive: Callable[[], Archive] | None = None,
    ) -> None:
        if password is None and keys is None:
            raise ValueError("give the room password or its derived keys")
        self.host = host
        self.port = port
        self.username = validate_username(username)
        #: RoomKeys once derived (or as given); reuse them to connect again without scrypt.
        self.keys = keys
        self.identity = identity
        self.trust = trust if trust is not None else TrustStore()
        #: The room to ask for on the next connection: the one asked for first, then, once
        #: joined, the room the relay answered with (a reconnect must find the same room).
        self.ask_room = bytes(room_id)
        self._first_ask = bytes(room_id)
        #: The room joined (``b""`` until then).
        self.room_id = b""
        #: Current member list, own entry included (empty until joined).
        self.members: tuple[ce.Member, ...] = ()
        self._warned: set[tuple[str, bytes]] = set()
        #: The largest message text (UTF-8 bytes) the room accepts; the room's own limit once
        #: joined (it arrives in the welcome), the protocol's default before.
        self.max_message_bytes = MAX_MESSAGE_BYTES
        self.clock = clock
        self.handshake_timeout = handshake_timeout
        self.ping_after = ping_after
        self.dead_after = dead_after
        self.seen_ids = RecentIds()
        #: The newest stored position seen in this room (0: none yet): every connection
        #: resumes after it, so a reconnect gets what was stored meanwhile, with no gap.
        self.resume_after = 0
        #: True once this device has been in the room (this client joined it, or the archive
        #: says an earlier run did): a resume point of 0 then means "everything up to its
        #: first message", and gaps are filled, not skipped as a newcomer would.
        self.returning = False
        #: The room's owner and admins (signing keys) as its checked actions give them; None
        #: and empty in a room without an owner (or before joining).
        self.owner: bytes | None = None
        self.admins: frozenset[bytes] = frozenset()
        self._actions: list[tuple[proto.ActionKind, bytes, str]] = []
        # A password change asked for and not yet handed to the session: (new password, the
        # key of a member to remove first, or None).
        self._password_change: tuple[str, bytes | None] | None = None
        self._keyring: proto.Keyring | None = None
        self._keyring_room = b""
        self._keyring_stored = 0.0
        self.log = log
        self._on_event = on_event
        # Kept (normalised) only to re-derive if the relay's room id changes; never logged.
        self._password = None if password is None else normalize_password(password)
        self._kdf_cost = kdf_cost  # tests only: a cheaper scrypt; never from the network
        self._connect_timeout = connect_timeout
        self._rng = rng or random.Random()  # jitter only; nothing secret
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # the outbox emptied, or we stopped
        self._outbox = Outbox()
        self._stopping = False
        self._stopped: ClientStopped | None = None  # set once, when the worker ends
        self._retry_now = False
        self._keeper = (
            None if archive is None else ArchiveKeeper(archive, on_failure=self._archive_failed)
        )
        # The room the archive keys this client's messages by: the one asked for, or (asked
        # by address only) the one the relay's welcome names. None until known.
        self._archive_room: bytes | None = None if room_id == DEFAULT_ROOM else bytes(room_id)
        self._loaded_rooms: set[bytes] = set()
        #: Ids of the newest messages the archive held when the room was loaded: already on
        #: this device, so the relay's copies are not reported again.
        self.archived_ids: frozenset[bytes] = frozenset()
        self._joined_once = False
        self._joined_recently = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._thread: threading.Thread | None = None
        #: Files sent and saved (net.client.transfers): see send_file and download.
        self.transfers = Transfers(self)

    # -- API for the application (any thread) --------------------------------------------------

    def start(self) -> None:
        """Start the worker thread; events follow through ``on_event``. Call once."""
        if self._thread is not None:
            raise RuntimeError("ChatClient.start() called twice")
        if self._keeper is not None:
            self._keeper.start()
        self._thread = threading.Thread(target=self._run, name="socketchat-client", daemon=True)
        self._thread.start()

    def send(self, text: str, *, reply_to: ce.ReplyTo | None = None) -> PendingMessage:
        """Queue ``text`` for the room and return it as a :class:`PendingMessage` at once.

        The returned message carries the id and timestamp every member will see: show it with
        those, as sending until :class:`~net.client.MessageStored` (or its echo) comes. If we
        are offline it waits in the outbox and goes out after reconnecting, exactly once. With
        an archive whose room is known, it is on disk when this returns.

        With ``reply_to`` it is a reply to that message (content type
        ``application/vnd.socketchat.reply``): its id, sender and excerpt (cut to 300 UTF-8
        bytes) go with the text and count against the room's limit, so a reply's text may be
        that much shorter. The returned message's ``text`` is still ``text``; its ``body`` is
        what is sealed.

        Raises ``ValueError`` with a user-readable message for an empty or too long text (see
        :attr:`max_message_bytes`) or a full outbox, and :class:`~net.client.ClientStopped`
        once the client stopped for good or is closing: then nothing was queued.
        """
        size = _text_size(text)
        if reply_to is None:
            limit = self.max_message_bytes
            if size > limit:
                raise ValueError(texts.message_too_long(size, limit))
            return self._queue(self._pending(text))
        quote = content.quoted(reply_to)
        limit = self.max_message_bytes - content.reply_overhead(quote)
        if size > limit:
            raise ValueError(texts.reply_too_long(size, limit))
        body = content.reply_body(quote, text)
        return self._queue(self._pending(text, ContentType.REPLY, body))

    def send_private(
        self, peer: bytes, text: str, *, reply_to: ce.ReplyTo | None = None
    ) -> PendingMessage:
        """Queue ``text`` for one member only, the one whose signing key is ``peer``, and
        return it as :meth:`send` does (``reply_to``: a private reply).

        ``peer`` is a member in the list now, or one this device remembers from the room (it
        saw them in a member list: a member who is away gets it when back). The message is
        sealed here, once, in a private box (``crypto.private``) that only ``peer`` and this
        identity can open, and then travels like any room message: outbox, acknowledgement,
        resends (the same box, the same id), the room's history. Every member receives the
        box; the others cannot open it and never see it. Its content type is
        ``application/vnd.socketchat.private``, ``text`` is ``text``, ``body`` the box, which
        counts against the room's limit: a private text may be about 300 bytes shorter.

        Raises ``ValueError`` with a user-readable message if ``peer`` is nobody this device
        knows in the room (or is ourselves), before joining, for a text that is empty or too
        long; :class:`~net.client.ClientStopped` as :meth:`send` does.
        """
        size = _text_size(text)
        room = self._sealing_room()
        name, dh_key = self._private_peer(room, bytes(peer))
        if reply_to is None:
            inner_type, inner = ContentType.TEXT, text.encode("utf-8")
        else:
            inner_type = ContentType.REPLY
            inner = content.reply_body(content.quoted(reply_to), text)
        boxed = content.private_size(name, inner_type.value, len(inner))
        limit = self.max_message_bytes - (boxed - size)
        if size > limit:
            raise ValueError(texts.private_too_long(size, limit))
        message_id = get_random_bytes(MESSAGE_ID_SIZE)
        try:
            box = seal_private(
                sender=self.identity,
                recipient_signing=bytes(peer),
                recipient_dh=dh_key,
                recipient_name=name,
                room_id=room,
                message_id=message_id,
                content_type=inner_type.value,
                body=inner,
            )
        except AuthenticationError:
            raise ValueError(texts.BAD_PEER_KEY) from None
        return self._queue(self._pending(text, ContentType.PRIVATE, box, message_id=message_id))

    def peer_named(self, name: str) -> bytes | None:
        """The signing key of whoever :meth:`send_private` reaches as ``name`` (compared
        ignoring case): a member in the list now, else the identity this device remembers
        under that name in the room. None if neither."""
        wanted = username_key(name)
        for member in self.members:
            if username_key(member.name) == wanted:
                return member.signing_key
        room = self._sealing_room(required=False)
        record = self.trust.record(room, name) if room else None
        if record is None or self.trust.identity(room, record.key) is None:
            return None
        return record.key

    def content_of(self, message: PendingMessage) -> ce.SentContent:
        """What a message written on this device says (one :meth:`send` or
        :meth:`send_private` returned, or :class:`~net.client.OutboxRestored`,
        :class:`~net.client.NotSent` hand back): a reply, and for a private message who it
        goes to (read back from its box). A body that does not read is said as its text."""
        room = self._sealing_room(required=False)
        try:
            readable = content.read_written(message, identity=self.identity, room_id=room)
        except proto.ContentError:
            readable = content.NOT_FOR_US
        if readable is content.NOT_FOR_US:
            return ce.SentContent(content=ce.TextContent(text=message.text))
        peer = readable.private_with
        return ce.SentContent(
            content=readable.content,
            private_with=peer,
            private_name="" if peer is None else self._name_for(peer, readable.private_name),
        )

    def _pending(
        self,
        text: str,
        content_type: ContentType = ContentType.TEXT,
        body: bytes = b"",
        *,
        message_id: bytes | None = None,
    ) -> PendingMessage:
        return PendingMessage(
            text=text,
            message_id=message_id or get_random_bytes(MESSAGE_ID_SIZE),
            timestamp_ms=int(self._wall_clock() * 1000),
            content_type=content_type.value,
            body=body,
        )

    def _queue(self, message: PendingMessage) -> PendingMessage:
        """Into the outbox (and the archive's, when its room is known); wake the worker."""
        kept = None
        with self._lock:
            self._raise_if_stopped()
            self._outbox.add(message)
            # Queued under the lock, so before any drop of it the worker can queue.
            if self._keeper is not None and self._archive_room is not None:
                kept = self._keeper.keep(self._archive_room, [message])
        self.wake()
        if kept is not None:
            self._keeper_settled(kept)
        return message

    def _sealing_room(self, *, required: bool = True) -> bytes:
        """The room a private box is sealed for: the one joined, else the one asked for."""
        room = self.room_id or (self.ask_room if self.ask_room != DEFAULT_ROOM else b"")
        if not room and required:
            raise ValueError(texts.NOT_IN_ROOM_YET)
        return room

    def _private_peer(self, room: bytes, peer: bytes) -> tuple[str, bytes]:
        """The name and X25519 key of the member ``peer`` (listed now, or remembered)."""
        if peer == self.identity.signing_public:
            raise ValueError(texts.PRIVATE_TO_SELF)
        for member in self.members:
            if member.signing_key == peer:
                return member.name, member.dh_key
        remembered = self.trust.identity(room, peer)
        if remembered is None:
            raise ValueError(texts.UNKNOWN_PEER)
        return remembered

    def _name_for(self, key: bytes, fallback: str) -> str:
        """The name this device knows for the identity ``key`` in the room, else ``fallback``."""
        for member in self.members:
            if member.signing_key == key:
                return member.name
        room = self._sealing_room(required=False)
        remembered = self.trust.identity(room, key) if room else None
        return remembered[0] if remembered is not None else fallback

    def _raise_if_stopped(self) -> None:
        """Under the lock: refuse new work once close() was called or the worker ended."""
        if self._stopped is not None:
            raise self._stopped
        if self._stopping:
            raise ClientStopped(CLIENT_CLOSED, kind=None)

    def _keeper_settled(self, kept: object) -> None:
        keeper = self._keeper
        if keeper is not None and not keeper.settled(kept):  # type: ignore[arg-type]
            log.warning("a message could not be kept on disk; it waits in memory")

    # -- owners and admins ------------------------------------------------------------------

    def role_of(self, key: bytes) -> proto.Role:
        if key == self.owner:
            return proto.Role.OWNER
        return proto.Role.ADMIN if key in self.admins else proto.Role.MEMBER

    @property
    def my_role(self) -> proto.Role:
        return self.role_of(self.identity.signing_public)

    def make_admin(self, name: str) -> None:
        """The owner appoints member ``name`` admin (any thread). ``ValueError`` with words
        for the person if that is not possible; else the outcome arrives as RoleChange (or
        ActionNotTaken)."""
        self._act(proto.ActionKind.MAKE_ADMIN, name)

    def unmake_admin(self, name: str) -> None:
        """The owner takes admin rights back from ``name``."""
        self._act(proto.ActionKind.UNMAKE_ADMIN, name)

    def remove_member(self, name: str) -> None:
        """Remove member ``name``: the relay disconnects it and refuses its identity from now
        on; everyone moves to new sender keys without it."""
        self._act(proto.ActionKind.REMOVE, name)

    def change_password(self, *, remove: str | None = None) -> str:
        """Change the room password to a new generated passphrase, removing member ``remove``
        first if given ("Remove and change password"), and return the passphrase (any
        thread). The other members' apps switch to it by themselves (it reaches them sealed
        to their identity keys); everyone joins again with it. ``ValueError`` with words for
        the person if not possible; the outcome arrives as PasswordChanged (or ActionNotTaken).
        """
        if self.owner is None:
            raise ValueError(texts.NO_OWNER)
        me = self.identity.signing_public
        target = None
        if remove is not None:
            member = next((m for m in self.members if m.name == remove), None)
            if member is None:
                raise ValueError(texts.not_a_member(remove))
            target = member.signing_key
            if not proto.may_act(
                me, proto.ActionKind.REMOVE, target, owner=self.owner, admins=self.admins
            ):
                raise ValueError(texts.NOT_ALLOWED)
        if not proto.may_act(
            me, proto.ActionKind.CHANGE_PASSWORD, bytes(32), owner=self.owner, admins=self.admins
        ):
            raise ValueError(texts.NOT_ALLOWED)
        password = generate_passphrase()
        with self._lock:
            self._raise_if_stopped()
            self._password_change = (password, target)
        self.wake()
        return password

    def password_change_take(self) -> tuple[str, bytes | None] | None:
        """For the session: the password change asked for, if any."""
        with self._lock:
            change, self._password_change = self._password_change, None
        return change

    def new_keys(self, password: str) -> RoomKeys:
        """The keys of ``password`` for the joined room (scrypt: on the worker thread)."""
        kwargs = {} if self._kdf_cost is None else {"n": self._kdf_cost}
        return derive_room_keys(password, room_id=self.room_id, **kwargs)

    def password_changed(self, event: proto.PasswordChanged) -> None:
        """The room's password changed (the session saw the action): switch to the new one
        if it reached us, and tell the application."""
        names = {m.signing_key: m.name for m in self.members}
        if event.password is not None:
            self._password = normalize_password(event.password)
            self.keys = None  # derived again when the relay asks, for the same room
        self.emit(
            ce.PasswordChanged(
                by=names.get(event.actor, "an admin"),
                password=event.password,
                own=event.actor == self.identity.signing_public,
            )
        )

    def release_name(self, name: str) -> None:
        """Let another identity take ``name`` (held by one that no longer comes)."""
        try:
            checked = validate_username(name)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        self._queue_action(proto.ActionKind.RELEASE_NAME, bytes(32), checked)

    def _act(self, kind: proto.ActionKind, name: str) -> None:
        member = next((m for m in self.members if m.name == name), None)
        if member is None:
            raise ValueError(texts.not_a_member(name))
        self._queue_action(kind, member.signing_key, "")

    def _queue_action(self, kind: proto.ActionKind, target: bytes, detail: str) -> None:
        if self.owner is None:
            raise ValueError(texts.NO_OWNER)
        me = self.identity.signing_public
        if not proto.may_act(me, kind, target, owner=self.owner, admins=self.admins):
            raise ValueError(texts.NOT_ALLOWED)
        with self._lock:
            self._raise_if_stopped()
            self._actions.append((kind, target, detail))
        self.wake()

    def actions_take(self) -> list[tuple[proto.ActionKind, bytes, str]]:
        """For the session: the actions asked for since the last call."""
        with self._lock:
            actions, self._actions = self._actions, []
        return actions

    def roles_changed(self, event: proto.RolesChanged) -> None:
        """The session saw the room's roles (after joining) or an action: tell the app."""
        names = {m.signing_key: m.name for m in self.members}
        self.owner, self.admins = event.owner, event.admins
        self.members = tuple(replace(m, role=self.role_of(m.signing_key)) for m in self.members)
        action = event.action
        if action is None:
            self.emit(
                ce.RoleChange(kind=None, actor="", target="", detail="", members=self.members)
            )
            return

        def who(key: bytes) -> str:
            return names.get(key) or f"a member ({key[:4].hex()})"

        self.emit(
            ce.RoleChange(
                kind=action.kind,
                actor=who(action.actor),
                target=who(action.target)
                if action.kind is not proto.ActionKind.RELEASE_NAME
                else "",
                detail=action.detail,
                members=self.members,
            )
        )

    def pending(self) -> tuple[PendingMessage, ...]:
        """Messages written but not yet confirmed by the relay, oldest first (what a "quit
        anyway?" question counts). Those kept from an earlier run are among them once
        restored."""
        with self._lock:
            return self._outbox.pending()

    def wait_sent(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds until the relay confirmed every message written so
        far: True if it did, False on timeout or if the client stopped first (then NotSent
        holds the rest). For a caller about to leave; never on a GUI's thread."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._outbox):
                remaining = deadline - time.monotonic()
                if self._stopped is not None or remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True

    def retry_now(self) -> None:
        """End the wait before the next reconnect attempt at once (the app's "Retry now").
        Does nothing while connected or connecting, or once stopped. Any thread."""
        with self._lock:
            self._retry_now = True
        self.wake()

    @property
    def stopped(self) -> ClientStopped | None:
        """Why the client stopped for good (what :meth:`send` raises now), or None."""
        return self._stopped

    def close(self, timeout: float = 5.0) -> None:
        """Leave the room (saying goodbye if connected) and stop. Safe to call twice.

        Messages still unconfirmed come back as :class:`~net.client.NotSent` (from the worker,
        before it ends); with an archive they stay kept on disk for the next client."""
        with self._lock:
            self._stopping = True
            never_started = self._thread is None and self._stopped is None
            if never_started:  # no worker to hand anything back: what was kept stays kept
                self._stopped = ClientStopped(CLIENT_CLOSED, kind=None)
        if never_started and self._keeper is not None:
            self._keeper.close()
        self.wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def is_alive(self) -> bool:
        """True while the worker thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """Make the worker look at its queue and timers now (after a send, or after a test
        moved the injected clock). Safe from any thread."""
        # BlockingIOError: already awake (buffer full); OSError: shutting down.
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    # -- for the session (worker thread) -------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def wake_socket(self) -> socket.socket:
        return self._wake_r

    def drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def emit(self, event: ce.ClientEvent) -> None:
        if isinstance(event, ce.MessageReceived) and isinstance(event.content, ce.FileContent):
            self.transfers.note_offer(event.message_id, event.content.offer)  # for download()
        try:
            self._on_event(event)
        except Exception:
            log.exception("on_event callback failed for %s", type(event).__name__)

    def outbox_requeue(self) -> None:
        with self._lock:
            self._outbox.requeue_all()

    def outbox_take_unsent(self) -> list[PendingMessage]:
        with self._lock:
            return self._outbox.take_unsent()

    def outbox_discard(self, message_id: bytes) -> None:
        with self._lock:
            self._outbox.discard(message_id)
            self._forget_kept(message_id)
            self._changed.notify_all()

    def outbox_confirm(self, message_id: bytes) -> None:
        """The relay stored ``message_id`` (ACK or echo): if it was ours and waiting, it
        leaves the outbox (and the archive's), and the app hears MessageStored, once."""
        with self._lock:
            confirmed = self._outbox.confirm(message_id)
            if confirmed:
                self._forget_kept(message_id)
                self._changed.notify_all()
        if confirmed:
            self.emit(ce.MessageStored(message_id=message_id))

    def _forget_kept(self, message_id: bytes) -> None:
        """Under the lock (so after the keep of the same message, in the keeper's order)."""
        if self._keeper is not None and self._archive_room is not None:
            self._keeper.drop(self._archive_room, message_id)

    # -- the archive (worker thread) --------------------------------------------------------

    def _archive_failed(self, reason: str) -> None:
        self.emit(ce.ArchiveFailed(reason=reason))

    def load_room(self, room_id: bytes) -> None:
        """The room is known (asked for, or just welcomed): write what waited in memory to
        its outbox, put what earlier runs left there first, and resume after its recorded
        resume point (as a returning member). Once per room."""
        keeper = self._keeper
        if keeper is None or room_id in self._loaded_rooms or room_id == DEFAULT_ROOM:
            return
        self._loaded_rooms.add(room_id)
        with self._lock:
            fresh = self._archive_room is None
            self._archive_room = room_id
            waiting = self._outbox.pending() if fresh else ()
            kept = keeper.keep(room_id, waiting) if waiting else None
        if kept is not None:
            self._keeper_settled(kept)
        room = keeper.load(room_id)
        if room is None:
            return
        with self._lock:
            restored = self._outbox.restore(list(room.outgoing))
            if room.resume_point is not None and not self.returning:
                self.resume_after = room.resume_point
                self.returning = True
        for message_id in room.known_ids:
            self.seen_ids.add(message_id)
        self.archived_ids = room.known_ids
        if restored:
            self.emit(ce.OutboxRestored(messages=tuple(restored)))

    def resumed(self, room_id: bytes, position: int) -> None:
        """A connection to the room ends with this resume point (the core's
        ``last_position``): the next connection, or the next run with an archive, resumes
        after it."""
        self.resume_after = position
        self.returning = True
        if self._keeper is not None and room_id:
            self._keeper.resume_at(room_id, position)

    def deliver(self, event: proto.ChatOpened, *, own: bool) -> None:
        """The session opened a message (live or history; ``own``: our echo): read what it
        says, record it in the archive and tell the application. A private message between
        two others is neither (it counted as seen in the core); one whose content does not
        parse is reported as :class:`~net.client.ForgedMessage`, never shown."""
        trust = self.observe(event.sender, event.signing_key)
        try:
            readable = content.read_opened(event, identity=self.identity, room_id=self.room_id)
        except proto.ContentError:
            self.emit(
                ce.ForgedMessage(
                    claimed_sender=event.sender,
                    message_id=event.message_id,
                    why=texts.CONTENT_UNREADABLE,
                )
            )
            return
        if readable is content.NOT_FOR_US:
            # A placeholder may stand for it (it was locked until its key came): let it go.
            self.emit(ce.MessageHidden(message_id=event.message_id))
            return
        peer = readable.private_with
        name = ""
        if peer is not None:
            mine = event.signing_key == self.identity.signing_public
            name = self._name_for(peer, readable.private_name) if mine else event.sender
        self.record(event, readable, own=own, private_name=name)
        self.emit(
            ce.MessageReceived(
                sender=event.sender,
                text=readable.text,
                message_id=event.message_id,
                timestamp_ms=event.timestamp_ms,
                from_history=event.from_history,
                own=own,
                sender_key=event.signing_key,
                trust=trust,
                position=event.position,
                content=readable.content,
                private_with=peer,
                private_name=name,
            )
        )

    def record(
        self, event: proto.ChatOpened, readable: content.Readable, *, own: bool, private_name: str
    ) -> None:
        """Record a message opened in the room (own echoes included) in the archive, as
        :meth:`deliver` read it."""
        keeper, room = self._keeper, self._archive_room
        if keeper is None or room is None:
            return
        keeper.record(
            StoredMessage(
                room_id=room,
                message_id=event.message_id,
                position=event.position or None,
                sender=event.sender,
                signing_key=event.signing_key,
                timestamp_ms=event.timestamp_ms,
                text=readable.text,
                own=own,
                content_type=readable.content_type,
                body=readable.body,
                private_with=readable.private_with,
                private_name=private_name,
            )
        )

    def keyring_for(self, room_id: bytes) -> proto.Keyring:
        """The sender keys of ``room_id`` on this device, kept across reconnects (a new one,
        with what the trust file stored, when the room changes)."""
        if self._keyring is None or room_id != self._keyring_room:
            state = None if room_id == proto.DEFAULT_ROOM else self.trust.keyring_state(room_id)
            self._keyring = proto.Keyring(self.identity, state=state)
            self._keyring_room = bytes(room_id)
        return self._keyring

    def store_keyring(self, keyring: proto.Keyring, *, now: bool = False) -> None:
        """Store the keyring's state: at once when it took a new epoch (or ``now``), else at
        most every few seconds (accepted counters)."""
        room = self._keyring_room
        if keyring is not self._keyring or room == proto.DEFAULT_ROOM or not keyring.changed:
            return
        due = self.clock() - self._keyring_stored >= _KEYRING_STORE_EVERY
        if keyring.must_store or now or due:
            self.trust.save_keyring_state(room, keyring.state())
            self._keyring_stored = self.clock()

    def expected_relay_key(self) -> bytes | None:
        """The relay key pinned for where the next connection goes, or None."""
        return self.trust.relay_key(relay_address(self.host, self.port, self.ask_room))

    def joined(self, event: proto.Welcomed, *, room_id: bytes, relay_key: bytes) -> None:
        """The session was welcomed: pin the relay, weigh the members, tell the application."""
        reconnected = self._joined_once
        self._joined_once = True
        self._joined_recently = True
        self.room_id = room_id
        for ask in {self._first_ask, room_id}:
            self.trust.pin_relay(relay_address(self.host, self.port, ask), relay_key)
        self.ask_room = room_id
        self.load_room(room_id)  # asked by address: the archive learns the room only now
        self.members = tuple(self.weigh(info) for info in event.members)
        self.max_message_bytes = event.max_message_bytes
        self.emit(
            ce.Joined(
                your_name=event.your_name,
                members=self.members,
                reconnected=reconnected,
                max_message_bytes=event.max_message_bytes,
                room_id=room_id,
                history_for_newcomers=event.history_for_newcomers,
            )
        )

    def weigh(self, info: MemberInfo) -> ce.Member:
        """How far ``info``'s key is trusted here (remembering it if it is new)."""
        return ce.Member(
            name=info.name,
            signing_key=info.signing_key,
            trust=self.observe(info.name, info.signing_key, info.dh_key),
            dh_key=info.dh_key,
            role=self.role_of(info.signing_key),
        )

    def observe(self, name: str, key: bytes, dh_key: bytes | None = None) -> Trust:
        """Record ``name``'s key (and, from a member list, its X25519 ``dh_key``) for this
        room; warn once per session if it changed."""
        if name == self.username and key == self.identity.signing_public:
            return Trust.VERIFIED  # ourselves
        trust = self.trust.observe(self.room_id, name, key, dh_key)
        if trust is Trust.CHANGED and (name, key) not in self._warned:
            self._warned.add((name, key))
            record = self.trust.record(self.room_id, name)
            self.emit(
                ce.IdentityChanged(
                    name=name,
                    old_key=record.key if record is not None else b"",
                    new_key=key,
                    was_verified=record.was_verified if record is not None else False,
                )
            )
        return trust

    def accept_key(self, name: str, key: bytes) -> None:
        """The person accepts ``key`` as ``name``'s identity in this room (any thread)."""
        self.trust.accept_key(self.room_id, name, key)
        self._warned.discard((name, key))

    def mark_verified(self, name: str, key: bytes) -> None:
        """The person compared ``name``'s safety code and it matched (any thread)."""
        self.trust.mark_verified(self.room_id, name, key)

    def member_arrived(self, info: MemberInfo) -> None:
        member = self.weigh(info)
        self.members = (*(m for m in self.members if m.name != info.name), member)
        self.emit(ce.MemberJoined(member=member, members=self.members))

    def member_departed(self, name: str, reason: str) -> None:
        if name != self.username and any(m.name == name for m in self.members):
            self.members = tuple(m for m in self.members if m.name != name)
            self.emit(ce.MemberLeft(name=name, members=self.members, reason=reason))
            self.check_alone()

    def check_alone(self) -> None:
        if tuple(m.name for m in self.members) == (self.username,):
            self.emit(ce.AloneInRoom())

    def derive_keys(self, room_id: bytes) -> RoomKeys | Final:
        """The relay hosts ``room_id`` and we have no keys for it: stretch the password."""
        if self._password is None:
            return Final(ErrorKind.ROOM_CLOSED, texts.ROOM_RECREATED)
        self.emit(ce.DerivingKeys())
        kwargs = {} if self._kdf_cost is None else {"n": self._kdf_cost}
        keys = derive_room_keys(self._password, room_id=room_id, **kwargs)
        self.keys = keys
        return keys

    # -- worker thread -------------------------------------------------------------------------

    def _run(self) -> None:
        failure: Final | None = None
        try:
            if self._archive_room is not None:
                self.load_room(self._archive_room)
            failure = self._keep_connected()
        finally:
            self._finish(failure)
            self._wake_r.close()
            self._wake_w.close()

    def _finish(self, failure: Final | None) -> None:
        """The worker ends: refuse new messages, hand back what waits, say why, once."""
        with self._lock:
            kind = None if failure is None else failure.kind
            message = CLIENT_CLOSED if failure is None else failure.message
            self._stopped = ClientStopped(message, kind=kind)
            waiting = self._outbox.pending()
            keeper = self._keeper
            kept = keeper is not None and keeper.healthy and self._archive_room is not None
            self._changed.notify_all()
        self.transfers.stop()  # each transfer under way: TransferFailed(STOPPED)
        if waiting:
            reason = LEFT_BEFORE_SENT if failure is None else failure.message
            self.emit(ce.NotSent(messages=waiting, reason=reason, kept=kept))
        if failure is not None:
            self.emit(ce.Failed(kind=failure.kind, message=failure.message))
        if keeper is not None:
            keeper.close()

    def _keep_connected(self) -> Final | None:
        """Connect, and reconnect after losses, until a final failure (returned) or close()
        (None)."""
        attempt = 0
        failures = 0
        while not self._stopping:
            attempt += 1
            outcome = self._attempt(attempt)
            if outcome is STOPPED or self._stopping:
                return None
            if isinstance(outcome, Final):
                return outcome
            if not self._joined_once:
                if outcome.transient and attempt < _FIRST_JOIN_TRIES:
                    delay = max(outcome.wait, reconnect_delay(attempt, rng=self._rng))
                    self._sleep_until(self.clock() + delay)
                    continue
                return Final(outcome.kind, outcome.reason)
            # Count failed attempts since the last successful join: backoff restarts small.
            failures = 1 if self._joined_recently else failures + 1
            self._joined_recently = False
            delay = max(outcome.wait, reconnect_delay(failures, rng=self._rng))
            # The deadline is fixed before the event goes out: whoever sees Disconnected
            # (a test that then moves the injected clock by retry_in) sees the wait started.
            deadline = self.clock() + delay
            self.emit(ce.Disconnected(reason=outcome.reason, retry_in=delay))
            self._sleep_until(deadline)
        return None

    def _sleep_until(self, deadline: float) -> None:
        """Wait until :attr:`clock` reaches ``deadline``, or until close() or retry_now()
        wakes us."""
        with selectors.DefaultSelector() as selector:
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping:
                with self._lock:
                    if self._retry_now:
                        self._retry_now = False
                        return
                remaining = deadline - self.clock()
                if remaining <= 0:
                    return
                # At most a second at a time: an injected clock may be moved meanwhile.
                if selector.select(min(remaining, 1.0)):
                    self.drain_wake()

    def _attempt(self, attempt: int) -> Lost | Final:
        try:
            return self._connect_and_run(attempt)
        finally:
            with self._lock:
                # A press while connected or connecting does not skip the wait that follows:
                # only one after Disconnected does.
                self._retry_now = False

    def _connect_and_run(self, attempt: int) -> Lost | Final:
        self.emit(ce.Connecting(attempt=attempt))
        sock_or_failure = self._connect()
        if not isinstance(sock_or_failure, socket.socket):
            return sock_or_failure
        with sock_or_failure as sock:
            return Session(self, sock).run()

    def _connect(self) -> socket.socket | Lost:
        where = f"{self.host}:{self.port}"
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self._connect_timeout)
        except socket.gaierror:
            return Lost(texts.host_not_found(self.host), kind=ErrorKind.HOST_NOT_FOUND)
        except ConnectionRefusedError:
            return Lost(texts.connection_refused(where), kind=ErrorKind.REFUSED)
        except TimeoutError:
            return Lost(
                texts.connect_timed_out(where, self._connect_timeout), kind=ErrorKind.TIMED_OUT
            )
        except OSError as exc:
            return Lost(texts.cannot_connect(where, exc.strerror or str(exc)))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        return sock

    # -- files (net.client.transfers) ---------------------------------------------------------

    @property
    def max_file_bytes(self) -> int | None:
        """The room's file limit from its welcome: the most a file may take on the relay,
        sealed (a file of ``n`` bytes takes ``net.proto.sealed_size(n)``, 40 bytes more per
        64,000). 0: the room keeps no files; None until the room is first joined."""
        return self.transfers.max_file_bytes

    def send_file(self, path: Path, *, private_to: bytes | None = None) -> bytes:
        """Send the file at ``path`` to the room (or, with ``private_to``, to that member only,
        as :meth:`send_private` does a text) and return the transfer's id (16 bytes) at once.

        The file is read a chunk at a time on the worker thread (never whole into memory),
        hashed and sealed under a fresh key, and stored on the relay; a reconnect resumes it
        where the relay got to. Then its offer (name, size, type, hash and key) goes out as a
        message, through the outbox like any other. Events: TransferProgress, then
        TransferFinished (its ``message_id`` is the offer's: MessageStored and the echo
        follow as for a text) or TransferFailed. The file must not change meanwhile.

        Raises ``ValueError`` with a user-readable message for a file that is missing,
        unreadable, a folder or not a regular file, larger than the room keeps
        (:attr:`max_file_bytes`), in a room that keeps no files or before the first join, or
        for a ``private_to`` this device does not know (see :meth:`send_private`);
        :class:`~net.client.ClientStopped` once the client stopped or is closing.
        """
        with self._lock:
            self._raise_if_stopped()
        if private_to is not None:
            self._private_peer(self._sealing_room(), bytes(private_to))  # ValueError if unknown
        return self.transfers.start_upload(Path(path), private_to=private_to)

    def download(
        self, message_id: bytes, dest: Path, *, offer: proto.FileOffer | None = None
    ) -> bytes:
        """Save the file offered in message ``message_id`` to ``dest`` and return the
        transfer's id (16 bytes) at once.

        The offer is the one this client reported in that MessageReceived
        (``FileContent``); pass ``offer`` for one it did not (read from the archive after a
        restart). ``dest`` is never overwritten and nothing is written through a link: it
        must not exist (pick a free name: ``net.client.filenames.unique_path``), and its
        folder must. The file is written to ``dest.name + ".part"`` beside it, each chunk
        checked as it arrives, and renamed to ``dest`` only once the whole file's SHA-256
        matches the offer's; any failure deletes the ``.part``. A reconnect resumes it. Events
        as for :meth:`send_file` (``path`` is ``dest``).

        Raises ``ValueError`` with a user-readable message for an unknown message, a file
        already being saved, or a ``dest`` (or ``.part``) that exists or cannot be created;
        :class:`~net.client.ClientStopped` once the client stopped or is closing.
        """
        with self._lock:
            self._raise_if_stopped()
        return self.transfers.start_download(bytes(message_id), Path(dest), offer)

    def cancel_transfer(self, transfer_id: bytes) -> None:
        """Stop a transfer (any thread): its TransferFailed(CANCELLED) is emitted before this
        returns, and nothing more about it after. An upload's offer is never sent and the
        relay drops what it holds of it; a download's ``.part`` is deleted. Nothing happens for
        a transfer that already ended."""
        self.transfers.cancel(bytes(transfer_id))

    def now_ms(self) -> int:
        """The wall clock in milliseconds, as message timestamps take it."""
        return int(self._wall_clock() * 1000)

    def queue_offer(self, message: PendingMessage, *, private_to: bytes | None) -> None:
        """For the transfers (worker thread): an uploaded file's offer into the outbox, in a
        private box for ``private_to`` if given. ``ValueError`` if the outbox is full or the
        member is no longer known, :class:`~net.client.ClientStopped` when stopping."""
        if private_to is not None:
            room = self._sealing_room()
            name, dh_key = self._private_peer(room, bytes(private_to))
            try:
                box = seal_private(
                    sender=self.identity,
                    recipient_signing=bytes(private_to),
                    recipient_dh=dh_key,
                    recipient_name=name,
                    room_id=room,
                    message_id=message.message_id,
                    content_type=message.content_type,
                    body=message.body,
                )
            except AuthenticationError:
                raise ValueError(texts.BAD_PEER_KEY) from None
            message = replace(message, content_type=ContentType.PRIVATE.value, body=box)
        self._queue(message)
