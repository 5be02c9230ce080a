"""A fake relay for tests: it speaks version 2 well enough to be taken for a relay, and counts
the password guesses clients hand it.

It stands where an attacker would: on the room's address (or in front of it), without the room
password. It answers CLIENT_HELLO + CLIENT_OPEN with a RELAY_HELLO that *verifies* (signed by
its own relay key, over the client's own hello: built with the product's
:class:`net.proto.RelayProtocol`), so the only thing that can stop a client there is a key it
pinned earlier. Every CLIENT_PAKE that carries a key confirmation is one password guess: with
it, whoever made the relay's share can check the one password it made that share with. What
the fake relay does next is its :class:`Script`.

Given an ``upstream``, it is a man in the middle instead: it forwards the client's hello to the
genuine relay and the genuine RELAY_HELLO back (the relay key and signature check out, so even
a pinned key lets the client go on), and plays its script once the confirmation arrives.
"""

from __future__ import annotations

import contextlib
import enum
import socket
import threading

from Crypto.Random import get_random_bytes

from crypto.identity import Identity
from crypto.spake2 import CONFIRMATION_SIZE, SHARE_SIZE, Spake2Secret
from net import proto
from net.proto import FrameType, Reason, RelayCredentials, RelayProtocol, RelayState
from net.proto._frames import MAX_HANDSHAKE_FRAME, FrameReader, encode_frame
from net.proto._messages import Refusal


class Script(enum.Enum):
    """What the fake relay does once a client's CLIENT_PAKE (share + confirmation) arrives."""

    #: Check the confirmation against a guessed password (wrong) and say AUTH_FAILED, as a
    #: real relay would; then close.
    AUTH_FAILED = "answers AUTH_FAILED"
    #: Close the connection at once, as if the network failed at that moment.
    CUT = "cuts the connection after the confirmation"
    #: Answer REFUSED(BUSY, retry in 1 s) — a "transient" refusal that invites a retry.
    BUSY = "answers REFUSED(BUSY) after the confirmation"
    #: Never answer; the client's handshake deadline ends it.
    SILENT = "never answers the confirmation"


#: Where RELAY_HELLO's relay_key starts in the frame: length (4), type (1), version (2),
#: room_id (16) — docs/PROTOCOL.md 3.1.
_HELLO_KEY_AT = 4 + 1 + 2 + 16


class FakeRelay:
    """Listens on ``127.0.0.1:port``; every accepted connection is served on its own thread.

    ``room_id`` is the room it claims to host (a room's id is public: every RELAY_HELLO
    announces it). ``relay_identity`` is its relay key (a new one by default: it cannot sign
    with the genuine relay's). Counters, under one lock: :attr:`connections`,
    :attr:`guesses`, and :meth:`received`, the frame types each connection sent.
    """

    def __init__(
        self,
        script: Script,
        *,
        room_id: bytes,
        relay_identity: Identity | None = None,
        upstream: tuple[str, int] | None = None,
    ) -> None:
        self.script = script
        self.upstream = upstream
        self.relay_identity = relay_identity or Identity.generate()
        # Its SPAKE2 secret stands for one guessed password (any access key is one).
        self._credentials = RelayCredentials(
            room_id=room_id,
            secret=Spake2Secret.from_access_key(get_random_bytes(32)),
            relay_identity=self.relay_identity,
        )
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._connections: list[list[int]] = []
        self._guesses = 0
        self._sockets: list[socket.socket] = []
        self._closed = False
        self._presented_key: bytes | None = None
        threading.Thread(target=self._accept, name="fake-relay", daemon=True).start()

    @property
    def relay_key(self) -> bytes:
        return self.relay_identity.signing_public

    @property
    def guesses(self) -> int:
        """CLIENT_PAKE frames that carried a key confirmation, over all connections."""
        with self._lock:
            return self._guesses

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._connections)

    def received(self) -> list[list[int]]:
        """The frame types each connection sent, in order (ints: unknown types included)."""
        with self._lock:
            return [list(types) for types in self._connections]

    def forge_relay_key(self, key: bytes) -> None:
        """Put ``key`` (say, the genuine relay's public key) in every RELAY_HELLO from now on,
        in place of its own; the signature stays its own, which is all an impostor can make."""
        self._presented_key = bytes(key)

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _close(sock)

    def __enter__(self) -> FakeRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- serving ---------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            types: list[int] = []
            with self._lock:
                self._connections.append(types)
                self._sockets.append(conn)
            threading.Thread(target=self._serve, args=(conn, types), daemon=True).start()

    def _serve(self, conn: socket.socket, types: list[int]) -> None:
        relay = RelayProtocol()
        reader = FrameReader(MAX_HANDSHAKE_FRAME)
        upstream = None
        if self.upstream is not None:
            upstream = socket.create_connection(self.upstream, timeout=10)
            with self._lock:
                self._sockets.append(upstream)
            threading.Thread(target=_forward, args=(upstream, conn), daemon=True).start()
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                for body in reader.feed(data):
                    with self._lock:
                        types.append(body[0])
                    if body[0] == FrameType.CLIENT_PAKE:
                        if len(body) == 1 + SHARE_SIZE + CONFIRMATION_SIZE:
                            with self._lock:
                                self._guesses += 1
                        if upstream is not None:
                            _close(upstream)  # the genuine relay never sees the confirmation
                        if not self._after_confirmation(conn, relay, bytes(body)):
                            return
                        continue
                    if upstream is not None:
                        upstream.sendall(encode_frame(bytes(body)))
                        continue
                    relay.receive_data(encode_frame(bytes(body)))
                    for event in relay.events_received():
                        if isinstance(event, proto.RoomRequested):
                            relay.select_room(self._credentials)
                    conn.sendall(self._presented(relay.data_to_send()))
                    if relay.state in (RelayState.CLOSED, RelayState.FAILED):
                        return
        except OSError:
            return
        finally:
            _close(conn)

    def _presented(self, data: bytes) -> bytes:
        key = self._presented_key
        if key is None or len(data) < _HELLO_KEY_AT + len(key) or data[4] != FrameType.RELAY_HELLO:
            return data
        return data[:_HELLO_KEY_AT] + key + data[_HELLO_KEY_AT + len(key) :]

    def _after_confirmation(self, conn: socket.socket, relay: RelayProtocol, body: bytes) -> bool:
        """Play the script; True to keep the connection open."""
        match self.script:
            case Script.AUTH_FAILED:
                if self.upstream is not None:  # AUTH_FAILED is plaintext and empty: forgeable
                    conn.sendall(encode_frame(bytes((FrameType.AUTH_FAILED,))))
                    return False
                relay.receive_data(encode_frame(body))
                relay.events_received()
                conn.sendall(relay.data_to_send())  # AUTH_FAILED: the guessed password was wrong
                return False
            case Script.CUT:
                return False
            case Script.BUSY:
                refusal = Refusal(code=Reason.BUSY, retry_after_ms=1000, text="busy, try again")
                conn.sendall(encode_frame(bytes((FrameType.REFUSED,)) + refusal.encode()))
                return False
            case Script.SILENT:
                return True


def _forward(source: socket.socket, sink: socket.socket) -> None:
    """The genuine relay's bytes to the client, until either side closes."""
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
