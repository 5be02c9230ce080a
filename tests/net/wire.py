"""A tiny blocking-socket client for relay integration tests: ClientProtocol over a real socket.

Every wait is on the socket with a deadline (no sleeps): :meth:`WireClient.wait_for` reads and
feeds the core until an event matching the predicate arrives, or fails the test after
``timeout`` seconds. Each client has an identity (a new one unless the test passes one: the
same identity is the same member to the relay) and runs the version 2 handshake.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
import weakref
from collections.abc import Callable
from typing import ClassVar, TypeVar

from crypto.epoch import membership_tag
from crypto.identity import Identity
from crypto.kdf import RoomKeys
from net import proto
from net.proto import DEFAULT_ROOM, ClientProtocol, Keyring
from net.proto._frames import FrameType, Reason
from net.proto._messages import PendingMessage, encode_chat

TIMEOUT = 10.0
_E = TypeVar("_E", bound=proto.Event)


class WireClient:
    """One member (or would-be member) connected to a relay on 127.0.0.1.

    A real client reads all the time and answers what needs an answer (a PING, a request for
    its sender key). So while a test waits on one client, every other live client that
    ``serves`` reads what has come for it and answers too; a client that must not read (a slow
    reader) is made with ``serves=False``.
    """

    _live: ClassVar[weakref.WeakSet[WireClient]] = weakref.WeakSet()

    def __init__(
        self,
        port: int,
        name: str,
        keys: RoomKeys | None,
        *,
        identity: Identity | None = None,
        room_id: bytes = DEFAULT_ROOM,
        expected_relay_key: bytes | None = None,
        start: bool = True,
        host: str = "127.0.0.1",
        source: str | None = None,
        rcvbuf: int | None = None,
        keyring: Keyring | None = None,
        serves: bool | None = None,
        resume_after: int = 0,
    ) -> None:
        # ``source``: the local address to connect from (127.0.0.2, 127.0.0.3 … are loopback
        # too on Linux), to look like another machine to the relay's per-address limits.
        # ``rcvbuf``: a small receive buffer, set before connecting: the window offered in the
        # TCP handshake follows it, so the relay soon has to hold what this client leaves unread.
        # ``keyring``: the device's sender keys and replay state (net.proto.Keyring), to carry
        # one device across connections or to restore it from ``Keyring.state()``; a new one
        # by default. ``resume_after``: the newest stored position the device holds (JOIN).
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if source is not None:
            self.sock.bind((source, 0))
        self.sock.settimeout(TIMEOUT)
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.identity = identity if identity is not None else Identity.generate()
        self.keys = keys
        self.proto = ClientProtocol(
            username=name,
            identity=self.identity,
            keys=keys,
            room_id=room_id,
            expected_relay_key=expected_relay_key,
            keyring=keyring,
            resume_after=resume_after,
        )
        self.serves = rcvbuf is None if serves is None else serves
        self.events: list[proto.Event] = []
        self._returned: set[int] = set()  # indexes of events wait_for already returned
        self.closed = False
        self._clock = 0
        if start:
            self.proto.initiate()
            self.flush()
        WireClient._live.add(self)

    # -- plumbing --------------------------------------------------------------------------

    def flush(self) -> None:
        data = self.proto.data_to_send()
        if data:
            self.sock.sendall(data)

    def _read_once(self, deadline: float) -> None:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            others = {c.sock: c for c in list(WireClient._live) if c is not self and c._can_serve()}
            ready, _, _ = select.select([self.sock, *others], [], [], remaining)
            for sock in ready:
                if sock is not self.sock:
                    others[sock]._serve()
            if self.sock in ready:
                break
        self._receive()

    def _can_serve(self) -> bool:
        return self.serves and not self.closed and self.sock.fileno() >= 0

    def _serve(self) -> None:
        """Read what came for this client while a test waits on another, and answer it."""
        with contextlib.suppress(OSError):
            self._receive()

    def _receive(self) -> None:
        self.sock.settimeout(TIMEOUT)
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if data:
            self.proto.receive_data(data)
        else:
            self.closed = True
            self.proto.receive_eof()
        self.events += self.proto.events_received()
        self.flush_quietly()

    def flush_quietly(self) -> None:
        with contextlib.suppress(OSError):  # the relay may have closed; the events say why
            self.flush()

    def wait_for(
        self, predicate: Callable[[proto.Event], bool], timeout: float = TIMEOUT
    ) -> proto.Event:
        """Return the first not-yet-returned event matching ``predicate``, reading as needed."""
        deadline = time.monotonic() + timeout
        while True:
            for index, event in enumerate(self.events):
                if index not in self._returned and predicate(event):
                    self._returned.add(index)
                    return event
            if self.closed:
                raise AssertionError(f"connection closed; events: {self.events}")
            try:
                self._read_once(deadline)
            except TimeoutError:
                raise AssertionError(f"timed out; events so far: {self.events}") from None

    def wait_type(self, kind: type[_E], timeout: float = TIMEOUT) -> _E:
        event = self.wait_for(lambda event: isinstance(event, kind), timeout)
        if not isinstance(event, kind):  # cannot happen: the predicate checked; narrows the type
            raise AssertionError(f"not a {kind.__name__}: {event}")
        return event

    def wait_closed(self, timeout: float = TIMEOUT) -> list[proto.Event]:
        """Read until the relay closes the connection; return every event."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            try:
                self._read_once(deadline)
            except TimeoutError:
                raise AssertionError(f"still open; events: {self.events}") from None
        return self.events

    # -- conveniences ----------------------------------------------------------------------

    @property
    def signing_key(self) -> bytes:
        """This member's public signing key, as the relay lists it."""
        return self.identity.signing_public

    @property
    def tag(self) -> bytes:
        """The membership tag this client's JOIN carries (crypto.epoch), for the room of its
        keys: the relay lists it, unable to check it."""
        if self.keys is None:
            raise AssertionError("a client without room keys sends no JOIN")
        return membership_tag(
            self.keys.member,
            room_id=self.keys.room_id,
            signing_key=self.identity.signing_public,
            dh_key=self.identity.dh_public,
        )

    def join(self) -> proto.Welcomed:
        welcomed = self.wait_for(
            lambda e: isinstance(
                e,
                proto.Welcomed
                | proto.Refused
                | proto.AuthenticationFailed
                | proto.GoodbyeReceived
                | proto.RelayKeyMismatch
                | proto.ProtocolViolation,
            )
        )
        if not isinstance(welcomed, proto.Welcomed):
            raise AssertionError(f"not welcomed: {welcomed}")
        return welcomed

    def say(self, *texts: str) -> list[bytes]:
        """Send ``texts`` in one CHAT frame; return their message ids."""
        batch = []
        for text in texts:
            self._clock += 1
            batch.append(PendingMessage(text, self.proto.new_message_id(), self._clock))
        self.proto.send_messages(batch)
        self.flush()
        return [message.message_id for message in batch]

    def send_envelopes(self, *envelopes: bytes) -> None:
        """Send ``envelopes`` exactly as given, in one CHAT frame: bytes no honest client would
        seal, which the relay must forward unread (or refuse by their size alone)."""
        self.proto._send_sealed(FrameType.CHAT, encode_chat(list(envelopes)))
        self.flush()

    def hear(self, text: str, timeout: float = TIMEOUT) -> proto.ChatOpened:
        heard = self.wait_for(lambda e: isinstance(e, proto.ChatOpened) and e.text == text, timeout)
        if not isinstance(heard, proto.ChatOpened):  # cannot happen: the predicate checked
            raise AssertionError(f"not a message: {heard}")
        return heard

    def leave(self) -> None:
        self.proto.send_goodbye(Reason.LEAVING, "bye")
        self.flush_quietly()
        self.close()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> WireClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
