"""A bare client core for relay tests: the version 2 handshake and the frames a relay takes,
written from the protocol's pieces rather than with :class:`net.proto.ClientProtocol`.

It judges nothing: it sends what the test says (a JOIN with any membership tag, SHARES to any
key, WANT, frames in the wrong state) and records what the relay sends, in order, decoded but
unchecked (a SHARE's blob is kept as the bytes that came). So the relay's side of the protocol
can be tested whatever the full client does with what it receives. Sans-I/O like the cores:
feed :meth:`RawClient.receive_data`, write :meth:`RawClient.data_to_send`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from crypto.identity import Identity
from crypto.kdf import RoomKeys
from crypto.spake2 import Role, Spake2, Spake2Secret, identities
from crypto.transport import BroadcastOpener, FrameOpener, FrameSealer
from net.proto._frames import (
    MAX_HANDSHAKE_FRAME,
    MAX_RELAY_FRAME,
    PROTOCOL_VERSION,
    FrameReader,
    FrameType,
    Reason,
    encode_frame,
)
from net.proto._messages import (
    DEFAULT_ROOM,
    NONCE_SIZE,
    TAG_SIZE,
    BroadcastItem,
    ChatItem,
    ClientHello,
    ClientOpen,
    ClientPake,
    Join,
    Refusal,
    RelayHello,
    Welcome,
    decode_ack,
    decode_code_text,
    decode_history_page,
    decode_items,
    decode_share,
    encode_chat,
    encode_code_text,
    encode_history_request,
    encode_shares,
    encode_wanted,
)
from net.proto._transcript import (
    JOIN_CONTEXT,
    join_signed,
    pake_aad,
    session_transport_keys,
    transcript_hash,
)

_T = FrameType


@dataclass(frozen=True)
class Share:
    """A SHARE as received: the distributor the relay attests, and the blob as it came."""

    distributor: bytes
    blob: bytes


@dataclass(frozen=True)
class Notice:
    code: Reason | int
    text: str


@dataclass(frozen=True)
class Goodbye:
    code: Reason | int
    text: str


@dataclass(frozen=True)
class Ack:
    """An ACK as received: the message ids the relay says it stored."""

    message_ids: tuple[bytes, ...]


@dataclass(frozen=True)
class Page:
    """A HISTORY_PAGE as received: its first position and its CHAT items, in order."""

    first_position: int
    items: tuple[ChatItem, ...]


class RawClient:
    """One would-be member. ``join`` False: stop after the handshake, without a JOIN;
    ``resume_after``: the position its JOIN says it holds (0: none)."""

    def __init__(
        self,
        name: str,
        keys: RoomKeys,
        *,
        identity: Identity | None = None,
        tag: bytes | None = None,
        room_id: bytes = DEFAULT_ROOM,
        join: bool = True,
        resume_after: int = 0,
    ) -> None:
        self.name = name
        self.resume_after = resume_after
        self.keys = keys
        self.identity = identity if identity is not None else Identity.generate()
        self.tag = tag if tag is not None else os.urandom(TAG_SIZE)
        self._room_id = room_id
        self._join = join
        self._reader = FrameReader(MAX_HANDSHAKE_FRAME)
        self._outgoing = bytearray()
        self._bodies: list[bytes] = []  # CLIENT_HELLO and CLIENT_OPEN bodies, type included
        self._pake: Spake2 | None = None
        self._sealer: FrameSealer | None = None
        self._opener: FrameOpener | None = None
        self._broadcasts: BroadcastOpener | None = None
        self._transcript = b""
        #: Everything the relay sent after the handshake, in order: Welcome, each broadcast
        #: item, Share, Ack, Page, Notice, Goodbye (and a Refusal or "AUTH_FAILED" before).
        self.received: list[object] = []
        self.welcome: Welcome | None = None
        self.history: tuple[ChatItem, ...] = ()
        self.handshake_done = False
        self.closed = False

    @property
    def signing_key(self) -> bytes:
        return self.identity.signing_public

    # -- what the test reads -------------------------------------------------------------

    @property
    def shares(self) -> list[Share]:
        return [r for r in self.received if isinstance(r, Share)]

    @property
    def items(self) -> list[BroadcastItem]:
        """Broadcast items, in order (every kind; see net.proto.BroadcastItem)."""
        return [r for r in self.received if isinstance(r, BroadcastItem)]

    @property
    def acks(self) -> list[Ack]:
        return [r for r in self.received if isinstance(r, Ack)]

    @property
    def pages(self) -> list[Page]:
        return [r for r in self.received if isinstance(r, Page)]

    @property
    def notices(self) -> list[Notice]:
        return [r for r in self.received if isinstance(r, Notice)]

    @property
    def goodbye(self) -> Goodbye | None:
        found = [r for r in self.received if isinstance(r, Goodbye)]
        return found[0] if found else None

    # -- sending ---------------------------------------------------------------------------

    def initiate(self) -> None:
        hello = bytes((_T.CLIENT_HELLO,)) + ClientHello(versions=(PROTOCOL_VERSION,)).encode()
        opening = ClientOpen(room_id=self._room_id, nonce=os.urandom(NONCE_SIZE)).encode()
        self._bodies = [hello, bytes((_T.CLIENT_OPEN,)) + opening]
        for body in self._bodies:
            self._outgoing += encode_frame(body)

    def send_sealed(self, frame_type: FrameType, payload: bytes) -> None:
        """Any frame, sealed with this connection's keys, whatever the state."""
        if self._sealer is None:
            raise AssertionError("no transport keys yet")
        self._outgoing += encode_frame(
            bytes((frame_type,)) + self._sealer.seal(frame_type, payload)
        )

    def send_join(self) -> None:
        self.send_sealed(_T.JOIN, self._join_payload())

    def send_shares(self, shares: Sequence[tuple[bytes, bytes]]) -> None:
        self.send_sealed(_T.SHARES, encode_shares(shares))

    def send_want(self, wanted: Sequence[tuple[bytes, int]]) -> None:
        self.send_sealed(_T.WANT, encode_wanted(wanted))

    def send_chat(self, *envelopes: bytes) -> None:
        self.send_sealed(_T.CHAT, encode_chat(list(envelopes)))

    def send_history(self, before: int, limit: int) -> None:
        self.send_sealed(_T.HISTORY, encode_history_request(before, limit))

    def send_goodbye(self) -> None:
        self.send_sealed(_T.GOODBYE, encode_code_text(Reason.LEAVING, "bye"))

    def data_to_send(self) -> bytes:
        data = bytes(self._outgoing)
        self._outgoing.clear()
        return data

    # -- receiving -------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        for body in self._reader.feed(data):
            self._on_frame(bytes(body))

    def _on_frame(self, body: bytes) -> None:
        kind, payload = body[0], body[1:]
        if kind == _T.RELAY_HELLO:
            self._on_relay_hello(body)
        elif kind == _T.RELAY_CONFIRM:
            self._on_relay_confirm(payload)
        elif kind == _T.REFUSED:
            self.received.append(Refusal.decode(payload))
            self.closed = True
        elif kind == _T.AUTH_FAILED:
            self.received.append("AUTH_FAILED")
            self.closed = True
        elif kind == _T.QUEUED:
            pass
        elif kind == _T.BROADCAST:
            if self._broadcasts is None:
                raise AssertionError("a broadcast before the welcome")
            self.received += decode_items(self._broadcasts.open(_T.BROADCAST, payload))
        else:
            if self._opener is None:
                raise AssertionError(f"frame 0x{kind:02x} before the handshake")
            self._on_sealed(_T(kind), self._opener.open(kind, payload))

    def _on_sealed(self, kind: FrameType, payload: bytes) -> None:
        if kind == _T.WELCOME:
            welcome, self.history = Welcome.decode(payload)
            self.welcome = welcome
            self._broadcasts = BroadcastOpener(welcome.broadcast_key, next_seq=welcome.next_seq)
            self.received.append(welcome)
        elif kind == _T.SHARE:
            distributor, blob = decode_share(payload)
            self.received.append(Share(distributor=distributor, blob=blob))
        elif kind == _T.ACK:
            self.received.append(Ack(decode_ack(payload)))
        elif kind == _T.HISTORY_PAGE:
            self.received.append(Page(*decode_history_page(payload)))
        elif kind == _T.NOTICE:
            self.received.append(Notice(*decode_code_text(payload)))
        elif kind == _T.GOODBYE:
            self.received.append(Goodbye(*decode_code_text(payload)))
            self.closed = True
        elif kind == _T.PING:
            self.send_sealed(_T.PONG, payload)
        elif kind == _T.PONG:
            pass
        else:
            raise AssertionError(f"the relay sent {kind.name}")

    def _on_relay_hello(self, body: bytes) -> None:
        hello = RelayHello.decode(body[1:])
        self._room_id = hello.room_id
        identity_a, identity_b = identities(hello.room_id)
        pake = Spake2(
            Spake2Secret.from_access_key(self.keys.access),
            role=Role.A,
            identity_a=identity_a,
            identity_b=identity_b,
            aad=pake_aad(self._bodies[0], self._bodies[1], body),
        )
        share = pake.start()
        confirmation = pake.finish(hello.share)
        self._pake = pake
        self._outgoing += encode_frame(
            bytes((_T.CLIENT_PAKE,)) + ClientPake(share=share, confirmation=confirmation).encode()
        )

    def _on_relay_confirm(self, payload: bytes) -> None:
        pake = self._pake
        if pake is None:
            raise AssertionError("RELAY_CONFIRM before our share")
        session_key = pake.verify(payload)
        to_relay, to_client = session_transport_keys(pake, session_key)
        self._sealer, self._opener = FrameSealer(to_relay), FrameOpener(to_client)
        self._reader.max_size = MAX_RELAY_FRAME
        self._transcript = transcript_hash(pake)
        self._pake = None
        self.handshake_done = True
        if self._join:
            self.send_join()

    def _join_payload(self) -> bytes:
        identity = self.identity
        proof = identity.sign(
            join_signed(
                transcript=self._transcript,
                room_id=self._room_id,
                name=self.name,
                signing_key=identity.signing_public,
                dh_key=identity.dh_public,
            ),
            context=JOIN_CONTEXT,
        )
        return Join(
            name=self.name,
            signing_key=identity.signing_public,
            dh_key=identity.dh_public,
            proof=proof,
            tag=self.tag,
            resume_after=self.resume_after,
        ).encode()
