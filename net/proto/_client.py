"""The client's state machine: hello → keys → SPAKE2 → JOIN → WELCOME → chat.

See :class:`ClientProtocol`. The table :data:`CLIENT_RECEIVE` says which frames are accepted in
which state; anything else from the relay is a protocol violation.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable

from Crypto.Random import get_random_bytes

from crypto.envelope import NONCE_SIZE, MessageHeader, open_message, seal_message
from crypto.errors import AuthenticationError
from crypto.kdf import RoomKeys
from crypto.spake2 import Role, Spake2, Spake2Secret, identities
from crypto.transport import BroadcastOpener, FrameOpener, FrameSealer
from net.proto import _events as ev
from net.proto._connection import Connection, handshake_aad, session_transport_keys
from net.proto._errors import LocalProtocolError, RemoteProtocolError
from net.proto._frames import MAX_CLIENT_FRAME, MAX_RELAY_FRAME, PROTOCOL_VERSION, FrameType
from net.proto._messages import (
    CONFIRMATION_SIZE,
    ENVELOPE_OVERHEAD,
    MESSAGE_ID_SIZE,
    SHARE_SIZE,
    ChatItem,
    ClientHello,
    JoinedItem,
    OutgoingMessage,
    PendingMessage,
    Refusal,
    RelayHello,
    Welcome,
    decode_code_text,
    decode_fixed,
    decode_items,
    encode_chat,
    encode_join,
)
from net.proto._names import validate_username
from net.proto._replay import RecentIds

_T = FrameType
# What a CHAT frame body spends besides the texts: type byte, transport tag, u16 count; and per
# message: id, timestamp, content-type length byte, sealed length, envelope nonce and tag.
CHAT_FRAME_OVERHEAD = 1 + 16 + 2
MESSAGE_OVERHEAD = MESSAGE_ID_SIZE + 8 + 1 + 4 + ENVELOPE_OVERHEAD


class ClientState(enum.Enum):
    IDLE = "idle"  # created; call initiate()
    AWAIT_RELAY_HELLO = "await relay hello"
    AWAIT_KEYS = "await keys"  # KeysRequired emitted; call provide_keys()
    AWAIT_RELAY_PAKE = "await relay pake"
    AWAIT_RELAY_CONFIRM = "await relay confirm"
    AWAIT_WELCOME = "await welcome"  # encrypted from here on; JOIN sent
    JOINED = "joined"
    CLOSED = "closed"
    FAILED = "failed"


CLIENT_RECEIVE = {
    # A relay may refuse at once, even before reading our hello (rate limit, room full).
    ClientState.IDLE: frozenset({_T.REFUSED}),
    ClientState.AWAIT_RELAY_HELLO: frozenset({_T.RELAY_HELLO, _T.REFUSED}),
    ClientState.AWAIT_KEYS: frozenset({_T.REFUSED}),
    ClientState.AWAIT_RELAY_PAKE: frozenset({_T.RELAY_PAKE, _T.REFUSED, _T.AUTH_FAILED}),
    ClientState.AWAIT_RELAY_CONFIRM: frozenset({_T.RELAY_CONFIRM, _T.REFUSED, _T.AUTH_FAILED}),
    ClientState.AWAIT_WELCOME: frozenset({_T.WELCOME, _T.PING, _T.PONG, _T.NOTICE, _T.GOODBYE}),
    ClientState.JOINED: frozenset({_T.BROADCAST, _T.PING, _T.PONG, _T.NOTICE, _T.GOODBYE}),
}


class ClientProtocol(Connection[ClientState]):
    """One client connection to a relay, from hello to goodbye. Create one per attempt.

    Call :meth:`initiate` first, then feed bytes. On :class:`~net.proto.KeysRequired`, derive
    the room keys off the I/O thread and call :meth:`provide_keys`. After
    :class:`~net.proto.Welcomed`, send with :meth:`send_messages`. Give every attempt the same
    ``seen_ids`` so that a reconnect never shows a message twice.
    """

    _RECEIVE = CLIENT_RECEIVE
    _CLOSED = ClientState.CLOSED
    _FAILED = ClientState.FAILED
    _ENCRYPTED_STATES = frozenset({ClientState.AWAIT_WELCOME, ClientState.JOINED})

    def __init__(
        self,
        *,
        username: str,
        keys: RoomKeys | None = None,
        seen_ids: RecentIds | None = None,
        random_bytes: Callable[[int], bytes] = get_random_bytes,
        random_scalar: Callable[[], int] | None = None,
    ) -> None:
        super().__init__(ClientState.IDLE, send_cap=MAX_CLIENT_FRAME)
        self.username = validate_username(username)
        self.seen_ids = seen_ids if seen_ids is not None else RecentIds()
        #: Largest UTF-8 text send_messages() accepts; set by WELCOME.
        self.max_message_bytes = 0
        self._keys = keys
        self._random_bytes = random_bytes
        self._random_scalar = random_scalar
        self._hello_body = b""
        self._room_id = b""
        self._aad = b""
        self._pake: Spake2 | None = None
        self._message_key = b""
        self._broadcast: BroadcastOpener | None = None
        self._handlers = {
            _T.REFUSED: self._on_refused,
            _T.RELAY_HELLO: self._on_relay_hello,
            _T.RELAY_PAKE: self._on_relay_pake,
            _T.RELAY_CONFIRM: self._on_relay_confirm,
            _T.AUTH_FAILED: self._on_auth_failed,
            _T.WELCOME: self._on_welcome,
            _T.BROADCAST: self._on_broadcast,
            _T.NOTICE: self._on_notice,
            _T.PING: self._on_ping,
            _T.PONG: self._on_pong,
            _T.GOODBYE: self._on_goodbye,
        }

    @property
    def room_id(self) -> bytes:
        """The room the relay announced (``b""`` before RELAY_HELLO)."""
        return self._room_id

    # -- local API -------------------------------------------------------------------------

    def initiate(self) -> None:
        """Queue CLIENT_HELLO. Call once right after connecting, then flush data_to_send()."""
        self._require(ClientState.IDLE)
        payload = ClientHello(versions=(PROTOCOL_VERSION,)).encode()
        self._hello_body = bytes((_T.CLIENT_HELLO,)) + payload
        self._send_plain(_T.CLIENT_HELLO, payload)
        self._state = ClientState.AWAIT_RELAY_HELLO

    def provide_keys(self, keys: RoomKeys) -> None:
        """Hand over the room keys after KeysRequired (or early); the handshake continues.

        Raises :class:`LocalProtocolError` if they are for another room than the relay announced.
        """
        self._require(ClientState.IDLE, ClientState.AWAIT_RELAY_HELLO, ClientState.AWAIT_KEYS)
        if self._state is ClientState.AWAIT_KEYS and keys.room_id != self._room_id:
            raise LocalProtocolError("these keys are for a different room than the relay hosts")
        self._keys = keys
        if self._state is ClientState.AWAIT_KEYS:
            self._start_pake(keys)

    def new_message_id(self) -> bytes:
        """A fresh random 16-byte message id. Keep it with the text until the echo arrives."""
        return self._random_bytes(MESSAGE_ID_SIZE)

    def send_messages(self, messages: Iterable[PendingMessage | tuple[str, bytes, int]]) -> None:
        """Seal each message for the room and queue them all in one CHAT frame (several only if
        they cannot fit one). Only after Welcomed. Raises :class:`LocalProtocolError`, sending
        nothing, if a text exceeds :attr:`max_message_bytes` or an id is not 16 bytes."""
        self._require(ClientState.JOINED)
        pending = [m if isinstance(m, PendingMessage) else PendingMessage(*m) for m in messages]
        checked = []
        for message in pending:  # validate everything before sealing anything
            data = message.text.encode("utf-8")
            limit = self.message_limit(message.content_type)
            if len(data) > limit:
                raise LocalProtocolError(
                    f"The message is {len(data)} bytes long; this room accepts at most {limit}."
                )
            checked.append((self._header(message), data))
        batch: list[OutgoingMessage] = []
        size = CHAT_FRAME_OVERHEAD
        for header, data in checked:
            outgoing = OutgoingMessage(
                message_id=header.message_id,
                timestamp_ms=header.timestamp_ms,
                content_type=header.content_type,
                sealed=seal_message(
                    self._message_key, header, data, nonce=self._random_bytes(NONCE_SIZE)
                ),
            )
            item_size = MESSAGE_OVERHEAD + len(header.content_type.encode("utf-8")) + len(data)
            if batch and size + item_size > MAX_CLIENT_FRAME:
                self._send_sealed(_T.CHAT, encode_chat(batch))
                batch, size = [], CHAT_FRAME_OVERHEAD
            batch.append(outgoing)
            size += item_size
        if batch:
            self._send_sealed(_T.CHAT, encode_chat(batch))

    def message_limit(self, content_type: str = "text/plain") -> int:
        """The largest message (UTF-8 bytes) that may be sent now: the room's limit, or what
        fits one CHAT frame if that is smaller."""
        fits = MAX_CLIENT_FRAME - CHAT_FRAME_OVERHEAD - MESSAGE_OVERHEAD
        return min(self.max_message_bytes, fits - len(content_type.encode("utf-8")))

    def _header(self, message: PendingMessage) -> MessageHeader:
        try:
            return MessageHeader(
                room_id=self._room_id,
                sender=self.username,
                message_id=bytes(message.message_id),
                timestamp_ms=message.timestamp_ms,
                content_type=message.content_type,
            )
        except ValueError as exc:  # a bad id length or timestamp: the caller's mistake
            raise LocalProtocolError(str(exc)) from None

    # -- handshake -------------------------------------------------------------------------

    def _on_refused(self, payload: bytes) -> None:
        refusal = Refusal.decode(payload)
        self._emit(
            ev.Refused(code=refusal.code, text=refusal.text, retry_after_ms=refusal.retry_after_ms)
        )
        self._state = ClientState.CLOSED

    def _on_relay_hello(self, payload: bytes) -> None:
        hello = RelayHello.decode(payload)
        if hello.version != PROTOCOL_VERSION:
            raise RemoteProtocolError(
                f"relay chose version {hello.version}, which we did not offer"
            )
        self._room_id = hello.room_id
        self._aad = handshake_aad(self._hello_body, bytes((_T.RELAY_HELLO,)) + payload)
        if self._keys is not None and self._keys.room_id == hello.room_id:
            self._start_pake(self._keys)
        else:
            # A different room id means another room (or a recreated one): a new scrypt salt.
            self._state = ClientState.AWAIT_KEYS
            self._emit(ev.KeysRequired(room_id=hello.room_id))

    def _start_pake(self, keys: RoomKeys) -> None:
        identity_a, identity_b = identities(self._room_id)
        self._pake = Spake2(
            Spake2Secret.from_access_key(keys.access),
            role=Role.A,
            identity_a=identity_a,
            identity_b=identity_b,
            aad=self._aad,
            random_scalar=self._random_scalar,
        )
        self._message_key = keys.message
        self._send_plain(_T.CLIENT_PAKE, self._pake.start())
        self._state = ClientState.AWAIT_RELAY_PAKE

    def _current_pake(self) -> Spake2:
        if self._pake is None:  # unreachable while the state table is right
            raise RemoteProtocolError("handshake frame without a handshake in progress")
        return self._pake

    def _on_relay_pake(self, payload: bytes) -> None:
        share = decode_fixed(payload, SHARE_SIZE, "relay share")
        try:
            confirmation = self._current_pake().finish(share)
        except AuthenticationError:
            self._auth_failed(ev.AuthFailure.INVALID_SHARE)
            return
        self._send_plain(_T.CLIENT_CONFIRM, confirmation)
        self._state = ClientState.AWAIT_RELAY_CONFIRM

    def _on_relay_confirm(self, payload: bytes) -> None:
        confirmation = decode_fixed(payload, CONFIRMATION_SIZE, "relay confirmation")
        pake = self._current_pake()
        try:
            session_key = pake.verify(confirmation)
        except AuthenticationError:
            self._auth_failed(ev.AuthFailure.RELAY_UNPROVEN)
            return
        to_relay, to_client = session_transport_keys(pake, session_key)
        self._start_encryption(FrameSealer(to_relay), FrameOpener(to_client), MAX_RELAY_FRAME)
        self._pake = None
        self._state = ClientState.AWAIT_WELCOME
        self._emit(ev.HandshakeComplete())
        self._send_sealed(_T.JOIN, encode_join(self.username))

    def _on_auth_failed(self, payload: bytes) -> None:
        if payload:
            raise RemoteProtocolError("AUTH_FAILED with a body")
        self._auth_failed(ev.AuthFailure.WRONG_PASSWORD)

    def _auth_failed(self, cause: ev.AuthFailure) -> None:
        # Nothing is sent: the relay learns nothing more, and the client never retries alone.
        self._emit(ev.AuthenticationFailed(cause=cause))
        self._pake = None
        self._state = ClientState.CLOSED

    # -- encrypted phase -------------------------------------------------------------------

    def _on_welcome(self, payload: bytes) -> None:
        welcome = Welcome.decode(payload)
        if welcome.your_name != self.username:
            raise RemoteProtocolError("relay welcomed us under another name")
        self._broadcast = BroadcastOpener(welcome.broadcast_key, next_seq=welcome.next_seq)
        self.max_message_bytes = welcome.max_message_bytes
        history = tuple(
            event
            for item in welcome.history
            if (event := self._open_chat(item, from_history=True)) is not None
        )
        self._state = ClientState.JOINED
        self._emit(
            ev.Welcomed(
                your_name=welcome.your_name,
                members=welcome.members,
                history=history,
                max_message_bytes=welcome.max_message_bytes,
            )
        )

    def _on_broadcast(self, sealed: bytes) -> None:
        if self._broadcast is None:  # unreachable: BROADCAST is accepted only when JOINED
            raise RemoteProtocolError("BROADCAST before WELCOME")
        try:
            payload = self._broadcast.open(_T.BROADCAST, sealed)
        except AuthenticationError:
            raise RemoteProtocolError("BROADCAST failed authentication or was replayed") from None
        for item in decode_items(payload):
            if isinstance(item, ChatItem):
                event = self._open_chat(item, from_history=False)
                if event is not None:
                    self._emit(event)
            elif isinstance(item, JoinedItem):
                self._emit(ev.MemberArrived(name=item.name))
            else:
                self._emit(ev.MemberDeparted(name=item.name, code=item.code))

    def _open_chat(
        self, item: ChatItem, *, from_history: bool
    ) -> ev.ChatOpened | ev.ChatForged | None:
        """Open one relayed message as sent by the sender the relay attests; None if seen."""
        if item.message_id in self.seen_ids:
            return None  # replay protection: a duplicate is dropped without a word
        try:
            header = MessageHeader(
                room_id=self._room_id,
                sender=item.sender,
                message_id=item.message_id,
                timestamp_ms=item.timestamp_ms,
                content_type=item.content_type,
            )
            text = open_message(self._message_key, header, item.sealed).decode("utf-8")
        except (AuthenticationError, ValueError):  # ValueError: too short, or bad UTF-8 text
            # Not our connection's fault (another member or the relay): report, do not fail.
            return ev.ChatForged(
                sender=item.sender, message_id=item.message_id, from_history=from_history
            )
        self.seen_ids.add(item.message_id)
        return ev.ChatOpened(
            sender=item.sender,
            text=text,
            message_id=item.message_id,
            timestamp_ms=item.timestamp_ms,
            content_type=item.content_type,
            from_history=from_history,
        )

    def _on_notice(self, payload: bytes) -> None:
        code, text = decode_code_text(payload)
        self._emit(ev.NoticeReceived(code=code, text=text))
