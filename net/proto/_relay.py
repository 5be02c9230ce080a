"""The relay's state machine for one member connection, and the seal-once broadcast encoder.

See :class:`RelayProtocol` and :func:`encode_broadcast`. The table :data:`RELAY_RECEIVE` says
which frames are accepted in which state; anything else from the client is a violation.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from Crypto.Random import get_random_bytes

from crypto.envelope import MAX_OVERHEAD, MIN_SIZE
from crypto.errors import AuthenticationError
from crypto.identity import Identity, PublicIdentity, verify
from crypto.spake2 import Role, Spake2, Spake2Secret, identities
from crypto.transport import BroadcastSealer, FrameOpener, FrameSealer
from net.proto import _events as ev
from net.proto._connection import Connection
from net.proto._errors import LocalProtocolError, RemoteProtocolError
from net.proto._files import (
    FileCode,
    decode_file_chunk,
    decode_file_drop,
    decode_file_get,
    decode_file_open,
    encode_file_chunk,
    encode_file_state,
)
from net.proto._frames import (
    MAX_CLIENT_FRAME,
    MAX_RELAY_FRAME,
    PROTOCOL_VERSION,
    FrameType,
    Reason,
    encode_frame,
)
from net.proto._messages import (
    MAX_ACKED,
    NONCE_SIZE,
    ROOM_ID_SIZE,
    ClientHello,
    ClientOpen,
    ClientPake,
    Join,
    Queued,
    Refusal,
    RelayHello,
    Welcome,
    WelcomeArgs,
    decode_chat,
    decode_history_request,
    decode_secrets,
    decode_shares,
    decode_verifier,
    decode_wanted,
    encode_ack,
    encode_code_text,
    encode_history_page,
    encode_items,
    encode_secret,
    encode_share,
)
from net.proto._transcript import (
    JOIN_CONTEXT,
    RELAY_HELLO_CONTEXT,
    join_signed,
    pake_aad,
    relay_hello_signed,
    session_transport_keys,
    transcript_hash,
)

_T = FrameType


@dataclass(frozen=True, slots=True, kw_only=True)
class RelayCredentials:
    """What the relay needs to run a room's handshake: its id, the SPAKE2 secret derived from
    the verifier, and the room's long-term relay key (clients pin it)."""

    room_id: bytes
    secret: Spake2Secret
    relay_identity: Identity

    def __repr__(self) -> str:
        return f"RelayCredentials(room_id={self.room_id.hex()}, <secrets hidden>)"


class RelayState(enum.Enum):
    AWAIT_CLIENT_HELLO = "await client hello"
    AWAIT_CLIENT_OPEN = "await client open"
    ROOM_PENDING = "room pending"  # RoomRequested emitted; call select_room() or refuse()
    AWAIT_CLIENT_PAKE = "await client pake"  # RELAY_HELLO (our share, signed) sent
    AWAIT_JOIN = "await join"  # encrypted from here on; Authenticated emitted
    JOIN_PENDING = "join pending"  # JoinRequested emitted; call accept_join() or reject_join()
    JOINED = "joined"
    CLOSED = "closed"
    FAILED = "failed"


RELAY_RECEIVE = {
    RelayState.AWAIT_CLIENT_HELLO: frozenset({_T.CLIENT_HELLO}),
    RelayState.AWAIT_CLIENT_OPEN: frozenset({_T.CLIENT_OPEN}),
    RelayState.ROOM_PENDING: frozenset(),
    RelayState.AWAIT_CLIENT_PAKE: frozenset({_T.CLIENT_PAKE}),
    RelayState.AWAIT_JOIN: frozenset({_T.JOIN, _T.PING, _T.PONG, _T.GOODBYE}),
    RelayState.JOIN_PENDING: frozenset({_T.PING, _T.PONG, _T.GOODBYE}),
    RelayState.JOINED: frozenset(
        {
            _T.CHAT,
            _T.SHARES,
            _T.WANT,
            _T.ACT,
            _T.SECRETS,
            _T.VERIFIER,
            _T.HISTORY,
            _T.FILE_OPEN,
            _T.FILE_PUT,
            _T.FILE_DROP,
            _T.FILE_GET,
            _T.PING,
            _T.PONG,
            _T.GOODBYE,
        }
    ),
}
_PLAINTEXT_STATES = (
    RelayState.AWAIT_CLIENT_HELLO,
    RelayState.AWAIT_CLIENT_OPEN,
    RelayState.ROOM_PENDING,
    RelayState.AWAIT_CLIENT_PAKE,
)


class RelayProtocol(Connection[RelayState]):
    """The relay's side of one connection. Create one per accepted socket.

    Feed bytes. On :class:`~net.proto.RoomRequested` call :meth:`select_room` (or
    :meth:`refuse` with NO_SUCH_ROOM); the handshake then runs by itself and ends in
    Authenticated or AuthenticationFailed (``refuse`` first if a rate limit says so). On
    JoinRequested call :meth:`accept_join` or :meth:`reject_join`. Room broadcasts are sealed
    once by :func:`encode_broadcast` and written to every joined member (:meth:`send_raw`, or
    straight to the transport).
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
        random_bytes: Callable[[int], bytes] = get_random_bytes,
        random_scalar: Callable[[], int] | None = None,
    ) -> None:
        super().__init__(RelayState.AWAIT_CLIENT_HELLO, send_cap=MAX_RELAY_FRAME)
        self._random_bytes = random_bytes
        self._random_scalar = random_scalar
        self._hello_body = b""
        self._open_body = b""
        self._room: RelayCredentials | None = None
        self._pake: Spake2 | None = None
        self._transcript = b""
        self._max_envelope = 0

    @property
    def room_id(self) -> bytes:
        """The room selected for this connection (``b""`` before :meth:`select_room`)."""
        return self._room.room_id if self._room is not None else b""

    # -- local API -------------------------------------------------------------------------

    def refuse(self, code: Reason | int, text: str, retry_after_ms: int = 0) -> None:
        """Queue REFUSED and end the connection; flush, then close. Only before the encrypted
        phase, and best before any PAKE work: rate limit, room full, overload, no such room."""
        self._require(*_PLAINTEXT_STATES)
        refusal = Refusal(code=code, retry_after_ms=retry_after_ms, text=text)
        self._send_plain(_T.REFUSED, refusal.encode())
        self._state = RelayState.CLOSED

    def select_room(self, room: RelayCredentials) -> None:
        """Answer RoomRequested: start the room's SPAKE2 and send the signed RELAY_HELLO."""
        self._require(RelayState.ROOM_PENDING)
        if len(room.room_id) != ROOM_ID_SIZE:
            raise LocalProtocolError(f"room_id must be {ROOM_ID_SIZE} bytes")
        identity_a, identity_b = identities(room.room_id)
        pake = Spake2(
            room.secret,
            role=Role.B,
            identity_a=identity_a,
            identity_b=identity_b,
            random_scalar=self._random_scalar,
        )
        hello = RelayHello(
            version=PROTOCOL_VERSION,
            room_id=room.room_id,
            relay_key=room.relay_identity.signing_public,
            nonce=self._random_bytes(NONCE_SIZE),
            share=pake.start(),
            signature=b"",
        )
        unsigned = bytes((_T.RELAY_HELLO,)) + hello.unsigned()
        signature = room.relay_identity.sign(
            relay_hello_signed(self._hello_body, self._open_body, unsigned),
            context=RELAY_HELLO_CONTEXT,
        )
        body = unsigned + signature
        # The aad covers our share and signature, so it is known only now; SPAKE2 needs it
        # for the confirmations, which come later.
        pake.set_aad(pake_aad(self._hello_body, self._open_body, body))
        # Only the signature and the aad needed the two bodies: an idle member keeps nothing
        # of its handshake (docs/BENCHMARKS.md, memory per idle member).
        self._hello_body = self._open_body = b""
        payload = body[1:]
        self._room = room
        self._pake = pake
        self._send_plain(_T.RELAY_HELLO, payload)
        self._state = RelayState.AWAIT_CLIENT_PAKE

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
            next_position=welcome.next_position,
            max_message_bytes=welcome.max_message_bytes,
            history=tuple(welcome.history),
            member_entries=welcome.member_entries,
            genesis=welcome.genesis,
            actions=welcome.actions,
            max_file_bytes=welcome.max_file_bytes,
        )
        self._send_sealed(_T.WELCOME, message.encode())
        self._max_envelope = welcome.max_message_bytes + MAX_OVERHEAD
        self._state = RelayState.JOINED

    def send_queued(self, position: int, wait_ms: int) -> None:
        """Tell a client waiting for a handshake slot its place in line (QUEUED). Only before
        its hello is answered; the driver holds its bytes meanwhile and feeds them when its
        turn comes."""
        self._require(RelayState.AWAIT_CLIENT_HELLO, RelayState.AWAIT_CLIENT_OPEN)
        self._send_plain(_T.QUEUED, Queued(position=position, wait_ms=wait_ms).encode())

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
        self._hello_body = bytes((_T.CLIENT_HELLO,)) + payload
        self._state = RelayState.AWAIT_CLIENT_OPEN

    def _on_client_open(self, payload: bytes) -> None:
        opening = ClientOpen.decode(payload)
        self._open_body = bytes((_T.CLIENT_OPEN,)) + payload
        self._state = RelayState.ROOM_PENDING
        self._emit(ev.RoomRequested(room_id=opening.room_id))

    def _on_client_pake(self, payload: bytes) -> None:
        pake_message = ClientPake.decode(payload)
        pake = self._pake
        if pake is None:  # unreachable while the state table is right
            raise RemoteProtocolError("client share without a handshake in progress")
        try:
            my_confirmation = pake.finish(pake_message.share)
        except AuthenticationError:
            self._auth_failed(ev.AuthFailure.INVALID_SHARE)
            return
        try:
            session_key = pake.verify(pake_message.confirmation)  # constant time inside
        except AuthenticationError:
            self._auth_failed(ev.AuthFailure.WRONG_PASSWORD)
            return
        # Our confirmation goes out only now, so a client that failed never receives it.
        self._send_plain(_T.RELAY_CONFIRM, my_confirmation)
        to_relay, to_client = session_transport_keys(pake, session_key)
        self._start_encryption(FrameSealer(to_client), FrameOpener(to_relay), MAX_CLIENT_FRAME)
        self._transcript = transcript_hash(pake)
        self._pake = None
        self._state = RelayState.AWAIT_JOIN
        self._emit(ev.Authenticated())

    def _auth_failed(self, cause: ev.AuthFailure) -> None:
        self._send_plain(_T.AUTH_FAILED, b"")  # fixed and empty: says nothing about why
        self._emit(ev.AuthenticationFailed(cause=cause))
        self._pake = None
        self._state = RelayState.CLOSED

    # -- encrypted phase -------------------------------------------------------------------

    def _on_join(self, payload: bytes) -> None:
        join = Join.decode(payload)
        try:
            PublicIdentity(signing_public=join.signing_key, dh_public=join.dh_key)
            verify(
                join.signing_key,
                join_signed(
                    transcript=self._transcript,
                    room_id=self.room_id,
                    name=join.name,
                    signing_key=join.signing_key,
                    dh_key=join.dh_key,
                ),
                join.proof,
                context=JOIN_CONTEXT,
            )
        except (ValueError, AuthenticationError):
            raise RemoteProtocolError("JOIN without a valid proof of its identity keys") from None
        self._emit(
            ev.JoinRequested(
                username=join.name,
                signing_key=join.signing_key,
                dh_key=join.dh_key,
                tag=join.tag,
                resume_after=join.resume_after,
            )
        )
        self._transcript = b""  # the JOIN proof was its only use
        self._state = RelayState.JOIN_PENDING

    def _on_chat(self, payload: bytes) -> None:
        envelopes = decode_chat(payload)
        sizes = list(map(len, envelopes))
        if min(sizes) >= MIN_SIZE and max(sizes) <= self._max_envelope:  # the usual case
            self._emit(ev.MessagesSubmitted(envelopes=tuple(envelopes)))
            return
        for envelope in envelopes:  # which rule broke first decides the outcome
            if len(envelope) < MIN_SIZE:
                raise RemoteProtocolError("envelope shorter than its fixed fields")
            if len(envelope) > self._max_envelope:
                self._fail(
                    "message larger than the room allows",
                    code=Reason.MESSAGE_TOO_LARGE,
                    text="message too large",
                )
                return
        self._emit(ev.MessagesSubmitted(envelopes=tuple(envelopes)))

    def send_ack(self, message_ids: Sequence[bytes]) -> bool:
        """Tell this member that its messages ``message_ids`` are stored in the room's history
        (ACK, split by 1,000). Call only once they are committed: the member then forgets
        them. False (nothing queued) unless it is joined."""
        if self._state is not RelayState.JOINED:
            return False
        for start in range(0, len(message_ids), MAX_ACKED):
            self._send_sealed(_T.ACK, encode_ack(message_ids[start : start + MAX_ACKED]))
        return True

    def send_history_page(self, first_position: int, items: Sequence[bytes]) -> bool:
        """Answer HistoryRequested: ``items`` (encoded CHAT items, oldest first) hold the
        positions ``first_position`` onward; none if nothing older is kept. They must fit
        the client's frame cap. False (nothing queued) unless the member is joined."""
        return self._send_if_joined(_T.HISTORY_PAGE, encode_history_page(first_position, items))

    def _on_history(self, payload: bytes) -> None:
        before, limit = decode_history_request(payload)
        self._emit(ev.HistoryRequested(before=before, limit=limit))

    # -- files (PROTOCOL.md 3.6; the rules are net.proto._roomfiles.RoomFiles') -------------

    def send_file_state(self, file_id: bytes, code: FileCode | int, have: int = 0) -> bool:
        """Answer a file request with FILE_STATE (``have``: chunks stored, with OK). False
        (nothing queued) unless the member is joined."""
        return self._send_if_joined(_T.FILE_STATE, encode_file_state(file_id, code, have))

    def send_file_data(self, file_id: bytes, index: int, sealed: bytes) -> bool:
        """Send one chunk a FILE_GET asked for (FILE_DATA). Call as the member's socket
        drains, one chunk at a time; False (nothing queued) unless the member is joined."""
        return self._send_if_joined(_T.FILE_DATA, encode_file_chunk(file_id, index, sealed))

    def _on_file_open(self, payload: bytes) -> None:
        opened = decode_file_open(payload)
        self._emit(
            ev.FileOpenRequested(
                file_id=opened.file_id, count=opened.count, stored_size=opened.stored_size
            )
        )

    def _on_file_put(self, payload: bytes) -> None:
        chunk = decode_file_chunk(payload)  # the sealed chunk's length is checked there
        self._emit(
            ev.FileChunkSubmitted(file_id=chunk.file_id, index=chunk.index, sealed=chunk.sealed)
        )

    def _on_file_drop(self, payload: bytes) -> None:
        self._emit(ev.FileDropRequested(file_id=decode_file_drop(payload)))

    def _on_file_get(self, payload: bytes) -> None:
        get = decode_file_get(payload)
        self._emit(
            ev.FileRequested(file_id=get.file_id, from_index=get.from_index, count=get.count)
        )

    def send_share(self, distributor: bytes, share: bytes) -> bool:
        """Hand this member one sender key share from ``distributor`` (SHARE). Only a joined
        member gets it; otherwise returns False and queues nothing."""
        return self._send_if_joined(_T.SHARE, encode_share(distributor, share))

    def _on_shares(self, payload: bytes) -> None:
        self._emit(ev.SharesSubmitted(shares=tuple(decode_shares(payload))))

    def send_secret(self, distributor: bytes, secret: bytes) -> bool:
        """Hand this member one sealed secret from ``distributor`` (SECRET); False (nothing
        queued) unless it is joined."""
        return self._send_if_joined(_T.SECRET, encode_secret(distributor, secret))

    def _send_if_joined(self, frame_type: FrameType, payload: bytes) -> bool:
        if self._state is not RelayState.JOINED:
            return False
        self._send_sealed(frame_type, payload)
        return True

    def _on_secrets(self, payload: bytes) -> None:
        self._emit(ev.SecretsSubmitted(secrets=tuple(decode_secrets(payload))))

    def _on_verifier(self, payload: bytes) -> None:
        seq, access = decode_verifier(payload)
        self._emit(ev.VerifierSubmitted(seq=seq, access=access))

    def _on_act(self, payload: bytes) -> None:
        # Checked by the room, which knows who may do what; malformed ones fail there too.
        self._emit(ev.ActionSubmitted(action=bytes(payload)))

    def _on_want(self, payload: bytes) -> None:
        decode_wanted(payload)  # validated here; forwarded as sent
        self._emit(ev.KeysWanted(payload=bytes(payload)))

    # One table for the class, not a dict of bound methods per connection (about 1 KB each).
    _HANDLERS: ClassVar[Mapping[FrameType, Callable[[Any, bytes], None]]] = {
        _T.CLIENT_HELLO: _on_client_hello,
        _T.CLIENT_OPEN: _on_client_open,
        _T.CLIENT_PAKE: _on_client_pake,
        _T.JOIN: _on_join,
        _T.CHAT: _on_chat,
        _T.SHARES: _on_shares,
        _T.WANT: _on_want,
        _T.ACT: _on_act,
        _T.SECRETS: _on_secrets,
        _T.VERIFIER: _on_verifier,
        _T.HISTORY: _on_history,
        _T.FILE_OPEN: _on_file_open,
        _T.FILE_PUT: _on_file_put,
        _T.FILE_DROP: _on_file_drop,
        _T.FILE_GET: _on_file_get,
        _T.PING: Connection._on_ping,
        _T.PONG: Connection._on_pong,
        _T.GOODBYE: Connection._on_goodbye,
    }


def encode_broadcast(sealer: BroadcastSealer, items: Sequence[bytes]) -> bytes:
    """Seal encoded ``items`` once; return the complete BROADCAST frame, prefix included.

    Write the same bytes to every joined member. Coalesce what arrived in one loop iteration
    into one call: a seal has a fixed cost. :class:`LocalProtocolError` if the frame would
    exceed the members' cap (checked before sealing, so no sequence number is spent).
    """
    plaintext = encode_items(items)
    if 1 + 8 + len(plaintext) + 16 > MAX_RELAY_FRAME:
        raise LocalProtocolError("broadcast exceeds the client frame cap; split it")
    return encode_frame(bytes((_T.BROADCAST,)) + sealer.seal(_T.BROADCAST, plaintext))
