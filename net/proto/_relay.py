"""The relay's state machine for one member connection, and the seal-once broadcast encoder.

See :class:`RelayProtocol` and :func:`encode_broadcast`. The table :data:`RELAY_RECEIVE` says
which frames are accepted in which state; anything else from the client is a violation.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence

from crypto.errors import AuthenticationError
from crypto.spake2 import Role, Spake2, Spake2Secret, identities
from crypto.transport import BroadcastSealer, FrameOpener, FrameSealer
from net.proto import _events as ev
from net.proto._connection import Connection, handshake_aad, session_transport_keys
from net.proto._errors import LocalProtocolError, RemoteProtocolError
from net.proto._frames import (
    MAX_CLIENT_FRAME,
    MAX_RELAY_FRAME,
    PROTOCOL_VERSION,
    FrameType,
    Reason,
    encode_frame,
)
from net.proto._messages import (
    CONFIRMATION_SIZE,
    ENVELOPE_OVERHEAD,
    ROOM_ID_SIZE,
    SHARE_SIZE,
    BroadcastItem,
    ClientHello,
    Refusal,
    RelayHello,
    Welcome,
    WelcomeArgs,
    decode_chat,
    decode_fixed,
    decode_join,
    encode_code_text,
    encode_items,
)

_T = FrameType


class RelayState(enum.Enum):
    AWAIT_CLIENT_HELLO = "await client hello"
    AWAIT_CLIENT_PAKE = "await client pake"
    AWAIT_CLIENT_CONFIRM = "await client confirm"
    AWAIT_JOIN = "await join"  # encrypted from here on; Authenticated emitted
    JOIN_PENDING = "join pending"  # JoinRequested emitted; call accept_join() or reject_join()
    JOINED = "joined"
    CLOSED = "closed"
    FAILED = "failed"


RELAY_RECEIVE = {
    RelayState.AWAIT_CLIENT_HELLO: frozenset({_T.CLIENT_HELLO}),
    RelayState.AWAIT_CLIENT_PAKE: frozenset({_T.CLIENT_PAKE}),
    RelayState.AWAIT_CLIENT_CONFIRM: frozenset({_T.CLIENT_CONFIRM}),
    RelayState.AWAIT_JOIN: frozenset({_T.JOIN, _T.PING, _T.PONG, _T.GOODBYE}),
    RelayState.JOIN_PENDING: frozenset({_T.PING, _T.PONG, _T.GOODBYE}),
    RelayState.JOINED: frozenset({_T.CHAT, _T.PING, _T.PONG, _T.GOODBYE}),
}
_PLAINTEXT_STATES = (
    RelayState.AWAIT_CLIENT_HELLO,
    RelayState.AWAIT_CLIENT_PAKE,
    RelayState.AWAIT_CLIENT_CONFIRM,
)


class RelayProtocol(Connection[RelayState]):
    """The relay's side of one connection. Create one per accepted socket.

    Feed bytes; the handshake runs by itself and ends in Authenticated or AuthenticationFailed
    (``refuse`` first if a rate limit says so). On JoinRequested call :meth:`accept_join` or
    :meth:`reject_join`. Room broadcasts are sealed once by :func:`encode_broadcast` and written
    to every joined member (:meth:`send_raw`, or straight to the transport).
    """

    _RECEIVE = RELAY_RECEIVE
    _CLOSED = RelayState.CLOSED
    _FAILED = RelayState.FAILED
    _ENCRYPTED_STATES = frozenset(
        {RelayState.AWAIT_JOIN, RelayState.JOIN_PENDING, RelayState.JOINED}
    )

    def __init__(
        self,
        *,
        secret: Spake2Secret,
        room_id: bytes,
        random_scalar: Callable[[], int] | None = None,
    ) -> None:
        super().__init__(RelayState.AWAIT_CLIENT_HELLO, send_cap=MAX_RELAY_FRAME)
        if len(room_id) != ROOM_ID_SIZE:
            raise LocalProtocolError(f"room_id must be {ROOM_ID_SIZE} bytes")
        self._secret = secret
        self._room_id = bytes(room_id)
        self._random_scalar = random_scalar
        self._aad = b""
        self._pake: Spake2 | None = None
        self._my_confirmation = b""
        self._max_message_bytes = 0
        self._handlers = {
            _T.CLIENT_HELLO: self._on_client_hello,
            _T.CLIENT_PAKE: self._on_client_pake,
            _T.CLIENT_CONFIRM: self._on_client_confirm,
            _T.JOIN: self._on_join,
            _T.CHAT: self._on_chat,
            _T.PING: self._on_ping,
            _T.PONG: self._on_pong,
            _T.GOODBYE: self._on_goodbye,
        }

    # -- local API -------------------------------------------------------------------------

    def refuse(self, code: Reason | int, text: str, retry_after_ms: int = 0) -> None:
        """Queue REFUSED and end the connection; flush, then close. Only before the encrypted
        phase, and best before any PAKE work: rate limit, room full, overload."""
        self._require(*_PLAINTEXT_STATES)
        refusal = Refusal(code=code, retry_after_ms=retry_after_ms, text=text)
        self._send_plain(_T.REFUSED, refusal.encode())
        self._state = RelayState.CLOSED

    def accept_join(self, welcome: WelcomeArgs) -> None:
        """Answer JoinRequested with WELCOME; the member is joined.

        ``welcome`` comes from ``Room.welcome(name)``: ``name`` validated, ``next_seq`` the
        room sealer's *now*, so write this member every broadcast sealed from here on.
        :class:`LocalProtocolError` (nothing sent) if the welcome would exceed the client's
        frame cap: send less history.
        """
        self._require(RelayState.JOIN_PENDING)
        message = Welcome(
            your_name=welcome.name,
            members=tuple(welcome.members),
            broadcast_key=bytes(welcome.broadcast_key),
            next_seq=welcome.next_seq,
            max_message_bytes=welcome.max_message_bytes,
            history=tuple(welcome.history),
        )
        self._send_sealed(_T.WELCOME, message.encode())
        self._max_message_bytes = welcome.max_message_bytes
        self._state = RelayState.JOINED

    def reject_join(self, code: Reason | int, text: str) -> None:
        """Answer JoinRequested with GOODBYE (NAME_TAKEN, NAME_INVALID, ROOM_FULL); then close."""
        self._require(RelayState.JOIN_PENDING)
        self.send_goodbye(code, text)

    def send_notice(self, code: Reason | int, text: str) -> None:
        """Queue a non-fatal NOTICE (e.g. RATE_LIMITED "slow down"). Encrypted phase only."""
        self._require(*self._ENCRYPTED_STATES)
        self._send_sealed(_T.NOTICE, encode_code_text(code, text))

    def send_raw(self, frame: bytes) -> bool:
        """Queue a complete frame from :func:`encode_broadcast` for this member.

        Only a joined member gets it; in any other state this returns False and queues
        nothing, which is routine while a member is joining or leaving.
        """
        if self._state is not RelayState.JOINED:
            return False
        self._outgoing += frame
        return True

    # -- handshake -------------------------------------------------------------------------

    def _queue_error_frame(self, code: Reason, text: str) -> None:
        if self._state in _PLAINTEXT_STATES:
            refusal = Refusal(code=code, retry_after_ms=0, text=text)
            self._send_plain(_T.REFUSED, refusal.encode())
        else:
            super()._queue_error_frame(code, text)

    def _on_client_hello(self, payload: bytes) -> None:
        hello = ClientHello.decode(payload)
        if PROTOCOL_VERSION not in hello.versions:
            text = f"This relay speaks SocketChat protocol version {PROTOCOL_VERSION} only."
            self.refuse(Reason.INCOMPATIBLE_VERSION, text)
            self._emit(ev.Refused(code=Reason.INCOMPATIBLE_VERSION, text=text, retry_after_ms=0))
            return
        relay_hello = RelayHello(version=PROTOCOL_VERSION, room_id=self._room_id).encode()
        self._aad = handshake_aad(
            bytes((_T.CLIENT_HELLO,)) + payload, bytes((_T.RELAY_HELLO,)) + relay_hello
        )
        self._send_plain(_T.RELAY_HELLO, relay_hello)
        self._state = RelayState.AWAIT_CLIENT_PAKE

    def _on_client_pake(self, payload: bytes) -> None:
        share = decode_fixed(payload, SHARE_SIZE, "client share")
        identity_a, identity_b = identities(self._room_id)
        pake = Spake2(
            self._secret,
            role=Role.B,
            identity_a=identity_a,
            identity_b=identity_b,
            aad=self._aad,
            random_scalar=self._random_scalar,
        )
        my_share = pake.start()
        try:
            self._my_confirmation = pake.finish(share)
        except AuthenticationError:
            self._auth_failed(ev.AuthFailure.INVALID_SHARE)
            return
        self._pake = pake
        self._send_plain(_T.RELAY_PAKE, my_share)
        self._state = RelayState.AWAIT_CLIENT_CONFIRM

    def _on_client_confirm(self, payload: bytes) -> None:
        confirmation = decode_fixed(payload, CONFIRMATION_SIZE, "client confirmation")
        pake = self._pake
        if pake is None:  # unreachable while the state table is right
            raise RemoteProtocolError("confirmation without a handshake in progress")
        try:
            session_key = pake.verify(confirmation)  # constant-time comparison inside
        except AuthenticationError:
            self._auth_failed(ev.AuthFailure.WRONG_PASSWORD)
            return
        # Our confirmation goes out only now, so a client that failed never receives it.
        self._send_plain(_T.RELAY_CONFIRM, self._my_confirmation)
        to_relay, to_client = session_transport_keys(pake, session_key)
        self._start_encryption(FrameSealer(to_client), FrameOpener(to_relay), MAX_CLIENT_FRAME)
        self._pake, self._my_confirmation = None, b""
        self._state = RelayState.AWAIT_JOIN
        self._emit(ev.Authenticated())

    def _auth_failed(self, cause: ev.AuthFailure) -> None:
        self._send_plain(_T.AUTH_FAILED, b"")  # fixed and empty: says nothing about why
        self._emit(ev.AuthenticationFailed(cause=cause))
        self._pake, self._my_confirmation = None, b""
        self._state = RelayState.CLOSED

    # -- encrypted phase -------------------------------------------------------------------

    def _on_join(self, payload: bytes) -> None:
        self._emit(ev.JoinRequested(username=decode_join(payload)))
        self._state = RelayState.JOIN_PENDING

    def _on_chat(self, payload: bytes) -> None:
        messages = decode_chat(payload)
        for message in messages:
            if len(message.sealed) < ENVELOPE_OVERHEAD:
                raise RemoteProtocolError("sealed message shorter than its nonce and tag")
            if len(message.sealed) > self._max_message_bytes + ENVELOPE_OVERHEAD:
                self._fail(
                    "message larger than the room allows",
                    code=Reason.MESSAGE_TOO_LARGE,
                    text="message too large",
                )
                return
        self._emit(ev.MessagesSubmitted(messages=messages))


def encode_broadcast(sealer: BroadcastSealer, items: Sequence[BroadcastItem]) -> bytes:
    """Seal ``items`` once; return the complete BROADCAST frame, length prefix included.

    Write the same bytes to every joined member. Coalesce what arrived in one loop iteration
    into one call: a seal has a fixed cost. :class:`LocalProtocolError` if the frame would
    exceed the members' cap (checked before sealing, so no sequence number is spent).
    """
    plaintext = encode_items(list(items))
    if 1 + 8 + len(plaintext) + 16 > MAX_RELAY_FRAME:
        raise LocalProtocolError("broadcast exceeds the client frame cap; split it")
    return encode_frame(bytes((_T.BROADCAST,)) + sealer.seal(_T.BROADCAST, plaintext))
