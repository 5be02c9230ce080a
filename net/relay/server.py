"""The asyncio relay: rooms, many members each, driven by the sans-I/O protocol core.

Each accepted socket gets a :class:`net.relay.member.MemberConnection` (an
``asyncio.Protocol``, not streams: an idle connection then costs a transport, one protocol core
and a few slots, no task, no stream buffers). Who may log in and when is decided relay-wide by
:class:`net.relay.admission.Admission`; once a connection names its room (CLIENT_OPEN: the room
id at byte offset 23 of its stream), that room's :class:`net.relay.rooms.ServedRoom` drives it
(the room's state lives in :class:`net.proto.Room`). This module does the listening, timers
and relay-wide limits:

* TCP_NODELAY on every socket (chat is small messages; Nagle would add tens of ms);
* login rate limits per source address and relay-wide *before* any PAKE work, whatever the
  room; a peer that drops after receiving our PAKE share but before confirming counts as a
  failed guess, so disconnecting cannot be used to learn a guess's result for free;
* a pre-hello deadline and bounds on connections that have sent nothing (they hold no
  handshake slot), a handshake deadline, an idle ping and reaping, a bound on concurrent
  handshakes;
* which room a connection gets: the one it names, or for the all-zero id the only room
  served (NO_SUCH_ROOM when there are several, or none: refused before any password work);
* with ``rooms_dir`` (``main.py relay --rooms DIR``), every room file in a folder, looked at
  again every couple of seconds: a new file is served without a restart, a removed one is
  closed (GOODBYE ROOM_CLOSED to its members).

What happens inside a room (broadcasts coalesced per loop iteration and stored before they
are sealed, per-member message rates, sender key shares, room actions, history pages) is in
``rooms.py`` and ``member.py``.

Use :class:`Relay` inside a running event loop, or :class:`net.relay.RelayThread` to run one in
a background thread (the app's "Host a room", tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from net import proto
from net.proto import DEFAULT_ROOM, Reason, Room
from net.proto._files import FileStore
from net.proto._history import HistoryStore
from net.relay import roomdir
from net.relay.admission import Admission
from net.relay.config import RelayConfig
from net.relay.fileserve import FileEvent
from net.relay.history import HistoryOptions
from net.relay.listen import describe_hosts, open_listeners
from net.relay.member import MemberConnection
from net.relay.roomfile import RoomSecret
from net.relay.rooms import ServedRoom

logger = logging.getLogger("socketchat.relay")

_NOT_ACCEPTED_LOG_LIMIT = 1024  # sources remembered for de-duplicating "refused" lines
_DAY_MS = 86_400_000
_MIN_TIMER = 0.01  # never re-arm a timer sooner than this (a frozen test clock must not spin)
#: How often ``--rooms DIR`` is looked at again for added, changed and removed room files.
ROOMS_POLL_INTERVAL = 2.0
#: The GOODBYE text of each way :meth:`Relay.stop` can end (clients word it from the code).
_STOP_WORDS = {
    Reason.RELAY_RESTARTING: "The relay is restarting.",
    Reason.ROOM_CLOSING: "The relay is shutting down.",
    Reason.ROOM_CLOSED: "The host closed the room.",
}


@dataclass(frozen=True)
class RelayStats:
    """A snapshot for tests and status lines (every room's counts added up)."""

    port: int
    members: tuple[str, ...]
    connections: int
    silent: int  # accepted, nothing received yet
    handshakes: int
    queued: int  # sent a hello, waiting for a handshake slot
    history: int
    broadcasts: int
    throttled: int
    rooms: int = 1


class Relay:
    """Serves one room, or every room file in a folder. ``await start()``, later
    ``await stop()``; or ``await serve_forever()``.

    All methods run on the event loop's thread (use RelayThread from other threads).
    """

    def __init__(
        self,
        secret: RoomSecret | None,
        config: RelayConfig | None = None,
        *,
        names_file: Path | None = None,
        room_file: Path | None = None,
        history: HistoryStore | None = None,
        files: FileStore | None = None,
        rooms_dir: Path | None = None,
        history_options: HistoryOptions | None = None,
        poll_interval: float = ROOMS_POLL_INTERVAL,
    ) -> None:
        """One room: ``secret``, with ``names_file`` (where the name bindings are kept: read
        now, rewritten when a name is bound), ``room_file`` (where ``secret`` came from,
        rewritten with the room's actions after each one; without it they live in memory
        only), ``history`` (its message store; in memory unless given) and ``files`` (where
        it keeps files: ``net.relay.files``; a temporary database unless given).

        Or every room file in ``rooms_dir`` (``secret`` None), each with its names file, its
        SQLite history and files as ``history_options`` say, looked at again every
        ``poll_interval`` seconds. Files are kept no longer than ``history_options`` keeps
        messages (``keep_days``).

        ``ValueError`` (or ``OSError``) in plain words if a names file, a history or a room
        file is damaged, or a saved action does not apply: the relay must not serve it so.
        """
        self.config = config = config or RelayConfig()
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
        self._all_gone: asyncio.Event | None = None
        self._not_accepted_logged: dict[str, None] = {}  # sources logged, oldest first
        self._closed: asyncio.Event | None = None
        self.port = 0
        # Where the relay listens once started: (address, port) of each socket.
        self.addresses: tuple[tuple[str, int], ...] = ()
        self._rooms: dict[bytes, ServedRoom] = {}  # by room id
        self._rooms_dir = rooms_dir
        self._history_options = history_options or HistoryOptions()
        self._poll_interval = poll_interval
        self._poll_handle: asyncio.TimerHandle | None = None
        # --rooms: each room file served, its signature and room id; and what was reported
        # about files that could not be served (so each problem is logged once).
        self._files: dict[Path, tuple[roomdir.Signature, bytes]] = {}
        self._reported: dict[Path, roomdir.Signature] = {}
        self._truncated_reported = False
        if rooms_dir is None:
            if secret is None:
                raise ValueError("a relay serves a room (its secret) or a folder of rooms")
            self._add_room(
                ServedRoom(
                    self,
                    secret,
                    config,
                    names_file=names_file,
                    room_file=room_file,
                    history=history,
                    files=files,
                    file_max_age_ms=self._history_options.keep_days * _DAY_MS,
                )
            )
        else:
            if secret is not None:
                raise ValueError("give the relay one room or a folder of rooms, not both")
            self._load_folder()

    # -- the rooms -------------------------------------------------------------------------

    @property
    def rooms(self) -> dict[bytes, ServedRoom]:
        """The rooms served now, by room id (a copy)."""
        return dict(self._rooms)

    def _only(self) -> ServedRoom:
        if len(self._rooms) != 1:
            raise RuntimeError(f"this relay serves {len(self._rooms)} rooms, not one")
        return next(iter(self._rooms.values()))

    @property
    def room(self) -> Room[MemberConnection]:
        """The room's state, for a relay that serves one room."""
        return self._only().room

    @property
    def secret(self) -> RoomSecret:
        """The room's secret as it is now (actions, password changes), for a relay that
        serves one room."""
        return self._only().secret

    @secret.setter
    def secret(self, secret: RoomSecret) -> None:
        self._only().secret = secret

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The running loop once started (the rooms schedule their flushes on it)."""
        return self._loop

    def _add_room(self, room: ServedRoom) -> None:
        self._rooms[room.secret.room_id] = room

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> int:
        """Listen; return the port (useful with ``port=0``). OSError if the port is taken.

        Every socket of :func:`net.relay.listen.open_listeners` (one dual-stack socket by
        default) gets its own asyncio server, all feeding the same rooms.
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
        where = describe_hosts(self.config.host)
        if self._rooms_dir is None:
            logger.info("room %s open on port %d (%s)", self._only().short_id, self.port, where)
        else:
            logger.info(
                "serving %d room(s) from %s on port %d (%s)",
                len(self._rooms),
                self._rooms_dir,
                self.port,
                where,
            )
            self._poll_handle = loop.call_later(self._poll_interval, self._poll)
        return self.port

    async def serve_forever(self) -> None:
        """Start if needed and serve until :meth:`stop` is called (from another task)."""
        if not self._servers:
            await self.start()
        if self._closed is not None:
            await self._closed.wait()

    async def stop(self, reason: Reason = Reason.ROOM_CLOSING) -> None:
        """Stop serving: GOODBYE ``reason`` to every member, close every connection and wait
        (at most ``close_timeout``) until all are gone. Idempotent.

        ``reason`` tells the members' clients what to do: RELAY_RESTARTING (the headless
        relay on a signal: reconnect soon), ROOM_CLOSING (shutting down: retry with backoff,
        the default) or ROOM_CLOSED (the app's hosted room: the host closed it, no retry).
        """
        if not self._servers or self._closed is None or self._closed.is_set():
            return
        for server in self._servers:
            server.close()
        text = _STOP_WORDS.get(reason, "The relay stopped.")
        for member in list(self._connections):
            member.end(reason, text, announce=False)
        if self._connections and self._all_gone is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._all_gone.wait(), self.config.close_timeout)
        for member in list(self._connections):
            member.abort()
        for server in self._servers:
            await server.wait_closed()
        self._rooms_closed()
        self._closed.set()

    def _rooms_closed(self) -> None:
        """The relay stopped: no more looking at the rooms folder; each room's history is
        closed (everything in it was committed already)."""
        if self._poll_handle is not None:
            self._poll_handle.cancel()
            self._poll_handle = None
        for room in self._rooms.values():
            room.close_history()
            logger.info("%sroom %s closed", room.tag, room.short_id)

    def stats(self) -> RelayStats:
        """Counts for tests and status lines (call on the loop's thread)."""
        rooms = self._rooms.values()
        return RelayStats(
            port=self.port,
            members=tuple(name for room in rooms for name in room.room.members),
            connections=len(self._connections),
            silent=self.admission.silent,
            handshakes=self.admission.handshakes,
            queued=self.admission.queued,
            history=sum(len(room.room.history) for room in rooms),
            broadcasts=sum(room.room.broadcasts_sealed for room in rooms),
            throttled=sum(1 for member in self._connections if member.throttled),
            rooms=len(self._rooms),
        )

    # -- called by MemberConnection before it has a room -----------------------------------

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
        """A new connection; False if the relay is closing (refuse it). Admission is next."""
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
        """RoomRequested: hand the connection to the room it names; the all-zero id names
        the only room served. Any other is refused (NO_SUCH_ROOM) before any password work."""
        room = self._rooms.get(bytes(room_id))
        if room is None and room_id == DEFAULT_ROOM and len(self._rooms) == 1:
            room = next(iter(self._rooms.values()))
        if room is None or room.closed:
            logger.info(
                "refused %s: asked for room %s, not served here", member.peer, room_id.hex()[:8]
            )
            member.protocol.refuse(Reason.NO_SUCH_ROOM, "This relay does not host that room.")
            return
        room.attach(member)

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

    def _room_of(self, member: MemberConnection) -> ServedRoom | None:
        """The room ``member`` asked for; for a relay of one room, that room (recording fakes
        in tests call the relay directly, and have no ``relay`` of their own)."""
        room = getattr(member, "relay", None)
        if isinstance(room, ServedRoom):
            return room
        return next(iter(self._rooms.values())) if len(self._rooms) == 1 else None

    def left(self, member: MemberConnection, code: Reason, *, announce: bool = True) -> None:
        room = self._room_of(member)
        if room is not None:
            room.left(member, code, announce=announce)

    def member_count(self) -> int:
        return sum(len(room.room) for room in self._rooms.values())

    # A connection has a room before the core lets it join or send anything, and from then
    # on calls its room directly (member.relay); these pass on a call that comes through the
    # relay anyway (an event handled in the same batch as the room's choice).

    def join(self, member: MemberConnection, request: proto.JoinRequested) -> None:
        room = self._room_of(member)
        if room is not None:
            room.join(member, request)

    def submit(self, member: MemberConnection, envelopes: Sequence[memoryview]) -> None:
        room = self._room_of(member)
        if room is not None:
            room.submit(member, envelopes)

    def hand_out(self, member: MemberConnection, shares: Sequence[tuple[bytes, bytes]]) -> None:
        room = self._room_of(member)
        if room is not None:
            room.hand_out(member, shares)

    def hand_out_secrets(
        self, member: MemberConnection, secrets: Sequence[tuple[bytes, bytes]]
    ) -> None:
        room = self._room_of(member)
        if room is not None:
            room.hand_out_secrets(member, secrets)

    def history_page(self, member: MemberConnection, before: int, limit: int) -> None:
        room = self._room_of(member)
        if room is not None:
            room.history_page(member, before, limit)

    def file_request(self, member: MemberConnection, event: FileEvent) -> None:
        room = self._room_of(member)
        if room is not None:
            room.file_request(member, event)

    def want(self, member: MemberConnection, payload: bytes) -> None:
        room = self._room_of(member)
        if room is not None:
            room.want(member, payload)

    def act(self, member: MemberConnection, encoded: bytes) -> None:
        room = self._room_of(member)
        if room is not None:
            room.act(member, encoded)

    def _flush(self) -> None:
        """Broadcast what the only room has pending now (tests that skip presence_delay)."""
        self._only()._flush()

    # -- --rooms DIR -----------------------------------------------------------------------

    def _load_folder(self) -> None:
        """The first look at the rooms folder: every room file must load, or the relay does
        not start (``OSError``/``ValueError`` naming the file)."""
        assert self._rooms_dir is not None
        found = roomdir.scan(self._rooms_dir)
        if found.truncated:
            raise ValueError(
                f"{self._rooms_dir} holds more than {roomdir.MAX_ENTRIES:,} entries; a relay "
                "looks at no more (split the rooms over several folders and relays)."
            )
        for path, signature in sorted(found.files.items()):
            try:
                loaded = roomdir.load_room(path, self._history_options)
            except OSError as exc:
                raise OSError(exc.errno, f"cannot read {path}: {exc.strerror or exc}") from None
            self._serve_loaded(loaded, signature)

    def _serve_loaded(self, loaded: roomdir.LoadedRoom, signature: roomdir.Signature) -> None:
        """Serve a room read from the folder; ``ValueError`` for a second file of a room
        already served, or a damaged names file or action log (its history is closed)."""
        room_id = loaded.secret.room_id
        if room_id in self._rooms:
            other = self._rooms[room_id].room_file
            _close(loaded.history, loaded.files)
            raise ValueError(f"{loaded.path} is the same room as {other}: serve it once.")
        try:
            room = ServedRoom(
                self,
                loaded.secret,
                self.config,
                names_file=loaded.names_file,
                room_file=loaded.path,
                history=loaded.history,
                files=loaded.files,
                file_max_age_ms=self._history_options.keep_days * _DAY_MS,
                tag=f"room {room_id.hex()[:8]}: ",
            )
        except ValueError:
            _close(loaded.history, loaded.files)
            raise
        self._add_room(room)
        self._files[loaded.path] = (signature, room_id)

    def _poll(self) -> None:
        """Look at the rooms folder again: serve new room files, close removed ones. A file
        that cannot be served is logged once (until it changes) and looked at again later."""
        self._poll_handle = None
        if self._closed is not None and self._closed.is_set():
            return
        try:
            self._rescan()
        finally:
            if self._loop is not None and not (self._closed and self._closed.is_set()):
                self._poll_handle = self._loop.call_later(self._poll_interval, self._poll)

    def _rescan(self) -> None:
        assert self._rooms_dir is not None
        try:
            found = roomdir.scan(self._rooms_dir)
        except OSError as exc:
            if self._rooms_dir not in self._reported:
                self._reported[self._rooms_dir] = (0, 0, 0)
                logger.error("cannot read the rooms folder %s: %s", self._rooms_dir, exc)
            return
        self._reported.pop(self._rooms_dir, None)
        if found.truncated and not self._truncated_reported:
            logger.warning(
                "%s holds more than %d entries: rooms past them are not looked at",
                self._rooms_dir,
                roomdir.MAX_ENTRIES,
            )
        self._truncated_reported = found.truncated
        for path in list(self._files):
            if path not in found.files:
                self._close_file(path, "its room file was removed")
        for path, signature in sorted(found.files.items()):
            served = self._files.get(path)
            if served is not None and served[0] == signature:
                continue
            if self._reported.get(path) == signature:
                continue  # the same problem as last time
            self._look_at(path, signature, served)

    def _look_at(
        self,
        path: Path,
        signature: roomdir.Signature,
        served: tuple[roomdir.Signature, bytes] | None,
    ) -> None:
        """A room file is new or changed: serve it (again, if it is now another room)."""
        if served is not None:
            try:
                same = RoomSecret.load(path).room_id == served[1]
            except (OSError, ValueError):
                same = True  # being rewritten: keep serving what was read before
            if same:  # rewritten by this relay (an action) or touched: the same room
                self._files[path] = (signature, served[1])
                return
            self._close_file(path, "its room file now holds another room")
        try:
            loaded = roomdir.load_room(path, self._history_options)
            self._serve_loaded(loaded, signature)
        except (OSError, ValueError) as exc:
            self._reported[path] = signature
            logger.error("cannot serve %s: %s", path, exc)
            return
        self._reported.pop(path, None)
        room = self._rooms[loaded.secret.room_id]
        logger.info("%sopen (%s)", room.tag, path.name)

    def _close_file(self, path: Path, why: str) -> None:
        _, room_id = self._files.pop(path)
        room = self._rooms.pop(room_id, None)
        if room is None:
            return
        logger.info("%sclosed: %s", room.tag, why)
        room.close(Reason.ROOM_CLOSED, "The room was closed by the relay's operator.")


def _close(*stores: HistoryStore | FileStore) -> None:
    for store in stores:
        closer = getattr(store, "close", None)
        if closer is not None:
            closer()
