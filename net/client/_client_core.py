"""The state every part of :class:`~net.client.ChatClient` shares, and the plumbing they use.

:class:`_ClientCore` sets up one client (its ``__init__``: what the room is, who is in it, the
outbox and the archive's keeper, the lock, the socket pair that wakes the worker) and holds what
every part needs: wake the worker, emit an event, refuse new work once stopped. The parts build
on it, each in a module of its own (``_client_connection``, ``_client_messages``,
``_client_outbox``, ``_client_members``, ``_client_files``), and
:class:`net.client.client.ChatClient` joins them; nothing else subclasses it.
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from crypto.identity import Identity
from crypto.kdf import RoomKeys
from crypto.password import normalize_password
from net import proto
from net.client import events as ce
from net.client.archive import Archive
from net.client.errors import CLIENT_CLOSED, ClientStopped
from net.client.keeper import ArchiveKeeper
from net.client.transfers import Transfers
from net.client.trust import TrustStore
from net.proto import DEFAULT_ROOM, MAX_MESSAGE_BYTES, Outbox, RecentIds, validate_username

if TYPE_CHECKING:
    from net.client import content
    from net.client.client import ChatClient
    from net.client.trust import Trust

log = logging.getLogger("socketchat.client")

HANDSHAKE_TIMEOUT = 15.0  # excludes key derivation, which happens before we answer the relay
PING_AFTER = 25.0  # seconds of silence from the relay before we ping it
DEAD_AFTER = 60.0  # seconds of silence before the connection counts as lost


class _ClientCore:
    """The state and plumbing every part of a :class:`~net.client.ChatClient` shares (the
    arguments are described there)."""

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
        self.transfers = Transfers(cast("ChatClient", self))  # only a ChatClient is a _ClientCore

    if TYPE_CHECKING:
        # What the parts call of one another, declared here so that each type-checks on its
        # own: load_room and record are in _client_outbox, observe in _client_members,
        # _sealing_room and _private_peer in _client_messages.
        def load_room(self, room_id: bytes) -> None: ...
        def record(
            self,
            event: proto.ChatOpened,
            readable: content.Readable,
            *,
            own: bool,
            private_name: str,
        ) -> None: ...
        def observe(self, name: str, key: bytes, dh_key: bytes | None = None) -> Trust: ...
        def _sealing_room(self, *, required: bool = True) -> bytes: ...
        def _private_peer(self, room: bytes, peer: bytes) -> tuple[str, bytes]: ...

    # -- for the application and every part (any thread) ---------------------------------------

    def wake(self) -> None:
        """Make the worker look at its queue and timers now (after a send, or after a test
        moved the injected clock). Safe from any thread."""
        # BlockingIOError: already awake (buffer full); OSError: shutting down.
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

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

    def _archive_failed(self, reason: str) -> None:
        self.emit(ce.ArchiveFailed(reason=reason))
