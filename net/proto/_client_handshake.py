"""The client's handshake: hello → relay proof → keys → SPAKE2 → JOIN (PROTOCOL.md 4.3).

A part of :class:`~net.proto.ClientProtocol` (see ``_client_base``); the WELCOME that ends it
is ``_client``'s.

Guessing stays online and bounded: the relay proves its long-term key (RELAY_HELLO's signature)
before the client sends anything that depends on the password, a pinned key that differs stops
the connection there, and :attr:`ClientProtocol.password_at_stake` tells the driver when a
connection that ends now may have given a fake relay one guess — so it must not retry alone.
"""

from __future__ import annotations

from crypto import epoch as sender_keys
from crypto.errors import AuthenticationError
from crypto.identity import verify
from crypto.kdf import RoomKeys
from crypto.spake2 import Role, Spake2, Spake2Secret, identities
from crypto.transport import FrameOpener, FrameSealer
from net.proto import _events as ev
from net.proto._client_base import ClientBase, ClientState
from net.proto._errors import LocalProtocolError, RemoteProtocolError
from net.proto._frames import MAX_RELAY_FRAME, PROTOCOL_VERSION, FrameType
from net.proto._messages import (
    CONFIRMATION_SIZE,
    DEFAULT_ROOM,
    NONCE_SIZE,
    ClientHello,
    ClientOpen,
    ClientPake,
    Join,
    Queued,
    Refusal,
    RelayHello,
    decode_fixed,
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


class HandshakeMixin(ClientBase):
    """From CLIENT_HELLO to the JOIN: :meth:`initiate`, :meth:`provide_keys` and the
    handshake frames' handlers."""

    @property
    def room_id(self) -> bytes:
        """The room the relay announced (``b""`` before RELAY_HELLO)."""
        return self._room_id

    @property
    def password_at_stake(self) -> bool:
        """True from the moment our key confirmation went out until the relay's verified.

        A connection that ends in this window (cut, refused, AUTH_FAILED) may have told
        whoever answered whether one password guess was right: never reconnect by yourself.
        """
        return self._confirmation_sent and not self._relay_confirmed

    @property
    def confirmation_sent(self) -> bool:
        """True once our key confirmation went out on this connection."""
        return self._confirmation_sent

    # -- local API -------------------------------------------------------------------------

    def initiate(self) -> None:
        """Queue CLIENT_HELLO and CLIENT_OPEN (one write: the room id sits at a fixed offset
        of the stream, for load balancers). Call once right after connecting, then flush."""
        self._require(ClientState.IDLE)
        hello = ClientHello(versions=(PROTOCOL_VERSION,)).encode()
        opening = ClientOpen(
            room_id=self._requested_room, nonce=self._random_bytes(NONCE_SIZE)
        ).encode()
        self._hello_body = bytes((_T.CLIENT_HELLO,)) + hello
        self._open_body = bytes((_T.CLIENT_OPEN,)) + opening
        self._send_plain(_T.CLIENT_HELLO, hello)
        self._send_plain(_T.CLIENT_OPEN, opening)
        self._state = ClientState.AWAIT_RELAY_HELLO

    def provide_keys(self, keys: RoomKeys) -> None:
        """Hand over the room keys after KeysRequired (or early); the handshake continues.

        Raises :class:`LocalProtocolError` if they are for another room than the relay
        announced.
        """
        self._require(ClientState.IDLE, ClientState.AWAIT_RELAY_HELLO, ClientState.AWAIT_KEYS)
        if self._state is ClientState.AWAIT_KEYS and keys.room_id != self._room_id:
            raise LocalProtocolError("these keys are for a different room than the relay hosts")
        self._keys = keys
        if self._state is ClientState.AWAIT_KEYS:
            self._start_pake(keys)

    # -- handshake -------------------------------------------------------------------------

    def _on_refused(self, payload: bytes) -> None:
        refusal = Refusal.decode(payload)
        self._emit(
            ev.Refused(code=refusal.code, text=refusal.text, retry_after_ms=refusal.retry_after_ms)
        )
        self._state = ClientState.CLOSED

    def _on_queued(self, payload: bytes) -> None:
        queued = Queued.decode(payload)
        self._emit(ev.Queued(position=queued.position, wait_ms=queued.wait_ms))

    def _on_relay_hello(self, payload: bytes) -> None:
        hello = RelayHello.decode(payload)
        if hello.version != PROTOCOL_VERSION:
            raise RemoteProtocolError(
                f"relay chose version {hello.version}, which we did not offer"
            )
        unsigned = bytes((_T.RELAY_HELLO,)) + hello.unsigned()
        try:
            verify(
                hello.relay_key,
                relay_hello_signed(self._hello_body, self._open_body, unsigned),
                hello.signature,
                context=RELAY_HELLO_CONTEXT,
            )
        except AuthenticationError:
            raise RemoteProtocolError(
                "the relay's signature over the handshake does not verify"
            ) from None
        expected = self._expected_relay_key
        if expected is not None and hello.relay_key != expected:
            # Stop here: nothing that depends on the password has left this machine.
            self._emit(
                ev.RelayKeyMismatch(
                    room_id=hello.room_id, expected=expected, presented=hello.relay_key
                )
            )
            self._state = ClientState.CLOSED
            return
        if self._requested_room != DEFAULT_ROOM and hello.room_id != self._requested_room:
            # Checked after the key: a relay that is not the one we pinned is reported as such.
            raise RemoteProtocolError("relay answered for another room than we asked for")
        self.relay_key = hello.relay_key
        self._room_id = hello.room_id
        self._relay_share = hello.share
        self._aad = pake_aad(self._hello_body, self._open_body, bytes((_T.RELAY_HELLO,)) + payload)
        self._emit(ev.RelayIdentified(room_id=hello.room_id, relay_key=hello.relay_key))
        if self._keys is not None and self._keys.room_id == hello.room_id:
            self._start_pake(self._keys)
        else:
            # A different room id means another room (or a recreated one): a new scrypt salt.
            self._state = ClientState.AWAIT_KEYS
            self._emit(ev.KeysRequired(room_id=hello.room_id))

    def _start_pake(self, keys: RoomKeys) -> None:
        identity_a, identity_b = identities(self._room_id)
        pake = Spake2(
            Spake2Secret.from_access_key(keys.access),
            role=Role.A,
            identity_a=identity_a,
            identity_b=identity_b,
            aad=self._aad,
            random_scalar=self._random_scalar,
        )
        share = pake.start()
        try:
            confirmation = pake.finish(self._relay_share)
        except AuthenticationError:
            # Nothing was sent: an invalid share costs us no guess.
            self._auth_failed(ev.AuthFailure.INVALID_SHARE)
            return
        self._pake = pake
        self._send_plain(
            _T.CLIENT_PAKE, ClientPake(share=share, confirmation=confirmation).encode()
        )
        self._confirmation_sent = True
        self._state = ClientState.AWAIT_RELAY_CONFIRM

    def _on_relay_confirm(self, payload: bytes) -> None:
        confirmation = decode_fixed(payload, CONFIRMATION_SIZE, "relay confirmation")
        pake = self._pake
        if pake is None:  # unreachable while the state table is right
            raise RemoteProtocolError("confirmation without a handshake in progress")
        try:
            session_key = pake.verify(confirmation)
        except AuthenticationError:
            self._auth_failed(ev.AuthFailure.RELAY_UNPROVEN)
            return
        self._relay_confirmed = True
        to_relay, to_client = session_transport_keys(pake, session_key)
        self._start_encryption(FrameSealer(to_relay), FrameOpener(to_client), MAX_RELAY_FRAME)
        self._transcript = transcript_hash(pake)
        self._pake = None
        self._state = ClientState.AWAIT_WELCOME
        self._emit(ev.HandshakeComplete())
        self._send_sealed(_T.JOIN, self._join_payload())

    def _join_payload(self) -> bytes:
        signing_key, dh_key = self.identity.signing_public, self.identity.dh_public
        proof = self.identity.sign(
            join_signed(
                transcript=self._transcript,
                room_id=self._room_id,
                name=self.username,
                signing_key=signing_key,
                dh_key=dh_key,
            ),
            context=JOIN_CONTEXT,
        )
        keys = self._keys
        if keys is None:  # unreachable: the PAKE that got us here needed the keys
            raise LocalProtocolError("no room keys")
        tag = sender_keys.membership_tag(
            keys.member, room_id=self._room_id, signing_key=signing_key, dh_key=dh_key
        )
        return Join(
            name=self.username,
            signing_key=signing_key,
            dh_key=dh_key,
            proof=proof,
            tag=tag,
            resume_after=self._resume_after,
        ).encode()

    def _on_auth_failed(self, payload: bytes) -> None:
        if payload:
            raise RemoteProtocolError("AUTH_FAILED with a body")
        self._auth_failed(ev.AuthFailure.WRONG_PASSWORD)

    def _auth_failed(self, cause: ev.AuthFailure) -> None:
        # Nothing is sent: the relay learns nothing more, and the client never retries alone.
        self._emit(ev.AuthenticationFailed(cause=cause))
        self._pake = None
        self._state = ClientState.CLOSED
