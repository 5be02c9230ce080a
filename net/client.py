"""The threaded client library shared by the desktop app and the terminal client.

One daemon worker thread owns the socket and drives the sans-I/O :class:`ClientProtocol`: it
connects, stretches the password (once per room), runs the handshake, joins, reads, writes, and
reconnects with backoff after a loss. Callers on other threads only call :meth:`ChatClient.send`
and :meth:`ChatClient.close`, which never block on the network: they queue work under a lock and
wake the worker through a socket pair.

Events (:mod:`net.client_events`) reach ``on_event`` from the worker thread, *outside* the
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
from dataclasses import dataclass

from Crypto.Random import get_random_bytes

from crypto.kdf import RoomKeys, derive_room_keys
from crypto.password import normalize_password
from net import client_events as ce
from net import events as ev
from net.client_events import ErrorKind
from net.frames import Reason
from net.messages import MESSAGE_ID_SIZE, PendingMessage
from net.names import validate_username
from net.outbox import Outbox, reconnect_delay
from net.protocol import ClientProtocol, ClientState
from net.replay import RecentIds

log = logging.getLogger("socketchat.client")

MAX_MESSAGE_BYTES = 4000
HANDSHAKE_TIMEOUT = 15.0  # excludes key derivation, which happens before we answer the relay
PING_AFTER = 25.0  # seconds of silence from the relay before we ping it
DEAD_AFTER = 60.0  # seconds of silence before the connection counts as lost
_RECV_SIZE = 65536
_FIRST_JOIN_TRIES = 5  # attempts before a transient refusal (relay busy) becomes a failure
_TICK = 1.0  # longest select() wait: timers are checked at least this often


@dataclass(frozen=True)
class _Lost:
    """The connection ended; reconnect (if we ever joined). ``wait`` is a floor for the delay."""

    reason: str
    wait: float = 0.0
    kind: ErrorKind = ErrorKind.NETWORK  # what to report if this was the first attempt
    transient: bool = False  # worth retrying even before the first join (relay busy)


@dataclass(frozen=True)
class _Final:
    """Stop for good with this failure."""

    kind: ErrorKind
    message: str


_STOPPED = _Final(ErrorKind.NETWORK, "closed")  # close() was called: nothing to report


class ChatClient:
    """One member's connection to one room, kept alive across network losses.

    Call :meth:`start`, then :meth:`send` as the user writes and :meth:`close` when leaving.
    Give either the room ``password`` (it is stretched once per room and the keys are kept in
    :attr:`keys`) or ``keys`` derived earlier for the same room.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        on_event: Callable[[ce.ClientEvent], None],
        password: str | None = None,
        keys: RoomKeys | None = None,
        connect_timeout: float = 10.0,
        handshake_timeout: float = HANDSHAKE_TIMEOUT,
        ping_after: float = PING_AFTER,
        dead_after: float = DEAD_AFTER,
        rng: random.Random | None = None,
        wall_clock: Callable[[], float] = time.time,
        kdf_cost: int | None = None,
    ) -> None:
        if password is None and keys is None:
            raise ValueError("give the room password or its derived keys")
        self.host = host
        self.port = port
        self.username = validate_username(username)
        #: RoomKeys once derived (or as given); reuse them to connect again without scrypt.
        self.keys = keys
        #: Current member list, own name included (empty until joined).
        self.members: tuple[str, ...] = ()
        self._on_event = on_event
        # Kept (normalised) only to re-derive if the relay's room id changes; never logged.
        self._password = None if password is None else normalize_password(password)
        self._kdf_cost = kdf_cost  # tests only: a cheaper scrypt; never from the network
        self._connect_timeout = connect_timeout
        self._handshake_timeout = handshake_timeout
        self._ping_after = ping_after
        self._dead_after = dead_after
        self._rng = rng or random.Random()  # jitter only; nothing secret
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._outbox = Outbox()
        self._seen = RecentIds()
        self._stopping = False
        self._joined_once = False
        self._joined_recently = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._thread: threading.Thread | None = None

    # -- API for the application (any thread) --------------------------------------------------

    def start(self) -> None:
        """Start the worker thread; events follow through ``on_event``. Call once."""
        if self._thread is not None:
            raise RuntimeError("ChatClient.start() called twice")
        self._thread = threading.Thread(target=self._run, name="socketchat-client", daemon=True)
        self._thread.start()

    def send(self, text: str) -> bytes:
        """Queue ``text`` for the room and return its message id at once.

        If we are offline it waits in the outbox and goes out after reconnecting, exactly once.
        Raises ``ValueError`` with a user-readable message for an empty or too long text.
        """
        if not text.strip():
            raise ValueError("Type a message first.")
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            raise ValueError("The message contains a broken character; retype it.") from None
        if size > MAX_MESSAGE_BYTES:
            raise ValueError(
                f"That message is {size:,} bytes long; the limit is {MAX_MESSAGE_BYTES:,} bytes "
                "(about 4,000 letters, or fewer with accents and emoji)."
            )
        message = PendingMessage(
            text=text,
            message_id=get_random_bytes(MESSAGE_ID_SIZE),
            timestamp_ms=int(self._wall_clock() * 1000),
        )
        with self._lock:
            if self._stopping:
                raise ValueError("This chat has been closed.")
            self._outbox.add(message)
        self._wake()
        return message.message_id

    def pending(self) -> tuple[PendingMessage, ...]:
        """Messages written but not yet confirmed by the relay, oldest first."""
        with self._lock:
            return self._outbox.pending()

    def close(self, timeout: float = 5.0) -> None:
        """Leave the room (saying goodbye if connected) and stop. Safe to call twice."""
        with self._lock:
            self._stopping = True
        self._wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def is_alive(self) -> bool:
        """True while the worker thread runs."""
        return self._thread is not None and self._thread.is_alive()

    # -- worker thread -------------------------------------------------------------------------

    def _wake(self) -> None:
        # BlockingIOError: already awake (buffer full); OSError: shutting down.
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _emit(self, event: ce.ClientEvent) -> None:
        try:
            self._on_event(event)
        except Exception:
            log.exception("on_event callback failed for %s", type(event).__name__)

    def _run(self) -> None:
        attempt = 0
        failures = 0
        try:
            while not self._stopping:
                attempt += 1
                outcome = self._session(attempt)
                if outcome is _STOPPED or self._stopping:
                    return
                if isinstance(outcome, _Final):
                    self._emit(ce.Failed(kind=outcome.kind, message=outcome.message))
                    return
                if not self._joined_once:
                    if outcome.transient and attempt < _FIRST_JOIN_TRIES:
                        self._sleep(max(outcome.wait, reconnect_delay(attempt, rng=self._rng)))
                        continue
                    self._emit(ce.Failed(kind=outcome.kind, message=outcome.reason))
                    return
                # Count failed attempts since the last successful join: backoff restarts small.
                failures = 1 if self._joined_recently else failures + 1
                self._joined_recently = False
                delay = max(outcome.wait, reconnect_delay(failures, rng=self._rng))
                self._emit(ce.Disconnected(reason=outcome.reason, retry_in=delay))
                self._sleep(delay)
        finally:
            self._wake_r.close()
            self._wake_w.close()

    def _sleep(self, seconds: float) -> None:
        """Wait ``seconds`` or until close() wakes us."""
        with selectors.DefaultSelector() as selector:
            selector.register(self._wake_r, selectors.EVENT_READ)
            deadline = time.monotonic() + seconds
            while not self._stopping:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                if selector.select(remaining):
                    self._drain_wake()

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def _session(self, attempt: int) -> _Lost | _Final:
        self._emit(ce.Connecting(attempt=attempt))
        sock_or_failure = self._connect()
        if not isinstance(sock_or_failure, socket.socket):
            return sock_or_failure
        with sock_or_failure as sock:
            return _Session(self, sock).run()

    def _connect(self) -> socket.socket | _Lost:
        where = f"{self.host}:{self.port}"
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self._connect_timeout)
        except socket.gaierror:
            return _Lost(
                f"The host name '{self.host}' was not found. Check the spelling of the address.",
                kind=ErrorKind.HOST_NOT_FOUND,
            )
        except ConnectionRefusedError:
            return _Lost(
                f"Connection to {where} was refused. Is the room running? Is the port right?",
                kind=ErrorKind.REFUSED,
            )
        except TimeoutError:
            return _Lost(
                f"No answer from {where} within {self._connect_timeout:g} s. Check the address, "
                "and that the host's firewall or router lets the port through.",
                kind=ErrorKind.TIMED_OUT,
            )
        except OSError as exc:
            return _Lost(f"Cannot connect to {where}: {exc.strerror or exc}.")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        return sock

    def _derive_keys(self, room_id: bytes) -> RoomKeys | _Final:
        if self._password is None:
            return _Final(
                ErrorKind.ROOM_CLOSED,
                "The room was recreated since you joined; join it again with its password.",
            )
        self._emit(ce.DerivingKeys())
        kwargs = {} if self._kdf_cost is None else {"n": self._kdf_cost}
        keys = derive_room_keys(self._password, room_id=room_id, **kwargs)
        self.keys = keys
        return keys


class _Session:
    """One connection attempt, from connect to close, on the worker thread."""

    def __init__(self, client: ChatClient, sock: socket.socket) -> None:
        self.client = client
        self.sock = sock
        self.proto = ClientProtocol(username=client.username, keys=client.keys,
                                    seen_ids=client._seen)
        self.out = bytearray()
        self.joined = False
        self.ping_token = 0
        self.now = time.monotonic()
        self.last_heard = self.now
        self.handshake_deadline = self.now + client._handshake_timeout

    def run(self) -> _Lost | _Final:
        client = self.client
        with client._lock:
            client._outbox.requeue_all()
        self.proto.initiate()
        with selectors.DefaultSelector() as selector:
            selector.register(self.sock, selectors.EVENT_READ)
            selector.register(client._wake_r, selectors.EVENT_READ)
            while True:
                if client._stopping:
                    self._say_goodbye()
                    return _STOPPED
                self._flush_outbox()
                outcome = self._write()
                if outcome is not None:
                    return outcome
                want = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.out else 0)
                selector.modify(self.sock, want)
                for key, mask in selector.select(_TICK):
                    if key.fileobj is client._wake_r:
                        client._drain_wake()
                    elif mask & selectors.EVENT_READ:
                        outcome = self._read()
                        if outcome is not None:
                            return outcome
                self.now = time.monotonic()
                outcome = self._check_timers()
                if outcome is not None:
                    return outcome

    # -- I/O ------------------------------------------------------------------------------------

    def _read(self) -> _Lost | _Final | None:
        try:
            data = self.sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            return _Lost(f"The connection to the room was lost ({exc.strerror or exc}).")
        self.last_heard = time.monotonic()
        if data:
            self.proto.receive_data(data)
        else:
            self.proto.receive_eof()
        return self._handle(self.proto.events_received())

    def _write(self) -> _Lost | None:
        self.out += self.proto.data_to_send()
        if not self.out:
            return None
        try:
            sent = self.sock.send(self.out)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            return _Lost(f"The connection to the room was lost ({exc.strerror or exc}).")
        del self.out[:sent]
        return None

    def _flush_outbox(self) -> None:
        if not self.joined:
            return
        client = self.client
        with client._lock:
            messages = client._outbox.take_unsent()
        if not messages:
            return
        limit = self.proto.message_limit()
        fits = [m for m in messages if len(m.text.encode("utf-8")) <= limit]
        for message in messages:
            if message not in fits:
                # Only a relay with a smaller limit than ours can get here: say so, never
                # leave the message "sending" for ever.
                with client._lock:
                    client._outbox.discard(message.message_id)
                client._emit(ce.MessageNotSent(
                    message_id=message.message_id,
                    reason=f"this room accepts messages of at most {limit:,} bytes",
                ))
        if fits:
            self.proto.send_messages(fits)

    def _say_goodbye(self) -> None:
        if self.proto.state in (ClientState.JOINED, ClientState.AWAIT_WELCOME):
            self.proto.send_goodbye(Reason.LEAVING, "left the room")
        self.out += self.proto.data_to_send()
        deadline = time.monotonic() + 1.0
        self.sock.settimeout(0.2)
        while self.out and time.monotonic() < deadline:
            try:
                del self.out[: self.sock.send(self.out)]
            except (TimeoutError, BlockingIOError, InterruptedError):
                continue
            except OSError:
                return

    def _check_timers(self) -> _Lost | None:
        client = self.client
        if not self.joined and self.now > self.handshake_deadline:
            return _Lost(
                f"{client.host}:{client.port} did not complete the SocketChat handshake in "
                f"{client._handshake_timeout:g} s. Is it really a SocketChat room?",
                kind=ErrorKind.TIMED_OUT,
            )
        silence = self.now - self.last_heard
        if self.joined and silence > client._dead_after:
            return _Lost(f"The room stopped answering ({silence:.0f} s without a word).")
        if self.joined and silence > client._ping_after and not self.ping_token:
            self.ping_token = int.from_bytes(get_random_bytes(8), "big") or 1
            self.proto.send_ping(self.ping_token)
        return None

    # -- protocol events ------------------------------------------------------------------------

    def _handle(self, events: list[ev.Event]) -> _Lost | _Final | None:
        for event in events:
            outcome = self._on(event)
            if outcome is not None:
                return outcome
        return None

    def _on(self, event: ev.Event) -> _Lost | _Final | None:
        client = self.client
        if isinstance(event, ev.KeysRequired):
            keys = client._derive_keys(event.room_id)
            if isinstance(keys, _Final):
                return keys
            self.proto.provide_keys(keys)
            self.handshake_deadline = time.monotonic() + client._handshake_timeout
        elif isinstance(event, ev.Welcomed):
            self._on_welcomed(event)
        elif isinstance(event, ev.MessageReceived):
            self._on_message(event)
        elif isinstance(event, ev.ForgedMessage):
            client._emit(ce.ForgedMessage(claimed_sender=event.sender, message_id=event.message_id))
        elif isinstance(event, ev.MemberJoined):
            if event.name not in client.members:
                client.members = (*client.members, event.name)
                client._emit(ce.MemberJoined(name=event.name, members=client.members))
        elif isinstance(event, ev.MemberLeft):
            if event.name in client.members and event.name != client.username:
                client.members = tuple(m for m in client.members if m != event.name)
                client._emit(ce.MemberLeft(name=event.name, members=client.members,
                                           reason=_left_reason(event.code)))
                if client.members == (client.username,):
                    client._emit(ce.AloneInRoom())
        elif isinstance(event, ev.Notice):
            if event.code == Reason.RATE_LIMITED:
                client._emit(ce.RateLimited(text=event.text or "Slow down."))
        elif isinstance(event, ev.PongReceived):
            self.ping_token = 0
        elif isinstance(event, ev.AuthenticationFailed):
            return _wrong_password(event.reason)
        elif isinstance(event, ev.Refused):
            return self._on_refused(event)
        elif isinstance(event, ev.Goodbye):
            return self._on_goodbye(event)
        elif isinstance(event, ev.ProtocolViolation):
            log.warning("protocol violation from the relay: %s", event.reason)
            if not self.joined:
                return _Final(
                    ErrorKind.PROTOCOL_ERROR,
                    f"{client.host}:{client.port} does not speak the SocketChat protocol "
                    "(or the connection was tampered with).",
                )
            return _Lost("The connection was corrupted or tampered with; reconnecting.")
        elif isinstance(event, ev.ConnectionClosed):
            if not self.joined:
                return _Lost("The room closed the connection during the handshake.")
            return _Lost("The connection to the room was lost.")
        return None

    def _on_welcomed(self, event: ev.Welcomed) -> None:
        client = self.client
        self.joined = True
        reconnected = client._joined_once
        client._joined_once = True
        client._joined_recently = True
        client.members = tuple(event.members)
        client._emit(ce.Joined(your_name=event.your_name, members=client.members,
                               reconnected=reconnected))
        for item in event.history:
            if isinstance(item, ev.MessageReceived):
                self._on_message(item)
            else:
                client._emit(ce.ForgedMessage(claimed_sender=item.sender,
                                              message_id=item.message_id))
        if client.members == (client.username,):
            client._emit(ce.AloneInRoom())

    def _on_message(self, event: ev.MessageReceived) -> None:
        client = self.client
        own = event.sender == client.username
        if own:
            with client._lock:
                client._outbox.confirm(event.message_id)
        client._emit(ce.MessageReceived(
            sender=event.sender,
            text=event.text,
            message_id=event.message_id,
            timestamp_ms=event.timestamp_ms,
            from_history=event.from_history,
            own=own,
        ))

    def _on_refused(self, event: ev.Refused) -> _Lost | _Final:
        wait = event.retry_after_ms / 1000
        if event.code == Reason.INCOMPATIBLE_VERSION:
            # REFUSED comes before any key exists: anyone on the path could write its text,
            # so none of it is shown.
            return _Final(ErrorKind.INCOMPATIBLE_VERSION,
                          "This room runs a different SocketChat version. Update the app that "
                          "is older.")
        if event.code == Reason.TOO_MANY_ATTEMPTS:
            return _Lost(f"Too many wrong passwords from your address; try again in "
                         f"{max(1, round(wait))} s.", wait=wait, kind=ErrorKind.TOO_MANY_ATTEMPTS)
        if event.code == Reason.ROOM_FULL:
            return _Lost("The room is full. Try again later.", wait=wait, kind=ErrorKind.ROOM_FULL)
        if event.code == Reason.BUSY:
            return _Lost("The room is busy with other people joining; try again in a moment.",
                         wait=wait, kind=ErrorKind.BUSY, transient=True)
        if event.code == Reason.ROOM_CLOSING:
            return _Final(ErrorKind.ROOM_CLOSED, "The host is closing the room.")
        if event.code == Reason.HANDSHAKE_TIMEOUT:
            return _Lost("The connection was too slow to finish joining.", wait=wait,
                         kind=ErrorKind.TIMED_OUT)
        return _Lost(f"The relay refused the connection (code {int(event.code)}).", wait=wait,
                     kind=ErrorKind.PROTOCOL_ERROR)

    def _on_goodbye(self, event: ev.Goodbye) -> _Lost | _Final:
        client = self.client
        if event.code == Reason.ROOM_CLOSING:
            return _Final(ErrorKind.ROOM_CLOSED, "The host closed the room.")
        if event.code == Reason.NAME_INVALID:
            return _Final(ErrorKind.NAME_INVALID, f"The relay refused the name: {event.text}")
        if event.code == Reason.NAME_TAKEN:
            # On a reconnect our own old connection may still be registered until the relay
            # reaps it: keep trying. On a first join someone else has the name.
            return _Lost(
                f"Someone in this room is already called {client.username!r}; "
                "choose another name.",
                wait=2.0,
                kind=ErrorKind.NAME_TAKEN,
            )
        if event.code == Reason.ROOM_FULL:
            return _Lost("The room is full. Try again later.", kind=ErrorKind.ROOM_FULL)
        return _Lost(f"The relay closed the connection: {event.text or _left_reason(event.code)}.")


def _wrong_password(reason: str) -> _Final:
    if reason == "wrong room password":
        return _Final(ErrorKind.WRONG_PASSWORD,
                      "Wrong room password. Check it with the host and try again.")
    return _Final(
        ErrorKind.WRONG_PASSWORD,
        "The relay could not prove it knows the room password: either the password is wrong "
        "or someone is intercepting the connection.",
    )


_LEFT_REASONS = {
    Reason.LEAVING: "left the room",
    Reason.CONNECTION_LOST: "lost the connection",
    Reason.IDLE_TIMEOUT: "stopped answering",
    Reason.SLOW_READER: "could not keep up",
    Reason.PROTOCOL_ERROR: "was disconnected (protocol error)",
    Reason.ROOM_CLOSING: "the room is closing",
    Reason.RATE_LIMITED: "sent too fast",
    Reason.MESSAGE_TOO_LARGE: "sent a message that was too large",
}


def _left_reason(code: Reason | int) -> str:
    return _LEFT_REASONS.get(code, "left")  # type: ignore[call-overload]
