"""Frame payloads of protocol v1: dataclasses with ``encode()`` and ``decode()``.

``encode`` returns the payload (without the type byte and, for encrypted frames, before
sealing); ``decode`` takes a payload and raises :class:`net.errors.DecodeError` for anything
malformed, including trailing bytes. Both sides share these, so tests round-trip them directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from net.proto._codec import Reader, Writer
from net.proto._errors import DecodeError, LocalProtocolError
from net.proto._frames import Reason, reason

MAGIC = b"SocketChat"
ROOM_ID_SIZE = 16
MESSAGE_ID_SIZE = 16
SHARE_SIZE = 65
CONFIRMATION_SIZE = 32
BROADCAST_KEY_SIZE = 32
#: AES-GCM envelope overhead (nonce + tag): a sealed message is this much longer than its text.
ENVELOPE_OVERHEAD = 12 + 16
TEXT_PLAIN = "text/plain"

_KIND_CHAT = 1
_KIND_JOINED = 2
_KIND_LEFT = 3


# -- handshake ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientHello:
    """CLIENT_HELLO: magic and the protocol versions the client speaks. Layout fixed forever."""

    versions: tuple[int, ...]

    def encode(self) -> bytes:
        w = Writer().raw(MAGIC).u8(len(self.versions), "version count")
        for version in self.versions:
            w.u16(version, "version")
        return w.getvalue()

    @classmethod
    def decode(cls, payload: bytes) -> ClientHello:
        r = Reader(payload)
        if r.raw(len(MAGIC), "magic") != MAGIC:
            raise DecodeError("not a SocketChat client")
        count = r.u8("version count")
        if count == 0:
            raise DecodeError("client offers no version")
        versions = tuple(r.u16("version") for _ in range(count))
        r.finish()
        return cls(versions=versions)


@dataclass(frozen=True, slots=True, kw_only=True)
class RelayHello:
    """RELAY_HELLO: the version the relay chose and the room id (also the scrypt salt)."""

    version: int
    room_id: bytes

    def encode(self) -> bytes:
        return Writer().u16(self.version).raw(self.room_id, ROOM_ID_SIZE, "room id").getvalue()

    @classmethod
    def decode(cls, payload: bytes) -> RelayHello:
        r = Reader(payload)
        hello = cls(version=r.u16("version"), room_id=r.raw(ROOM_ID_SIZE, "room id"))
        r.finish()
        return hello


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """REFUSED: why, and how long to wait before trying again. Layout fixed forever."""

    code: Reason | int
    retry_after_ms: int
    text: str

    def encode(self) -> bytes:
        w = Writer().u8(int(self.code), "code").u32(self.retry_after_ms, "retry_after_ms")
        return w.str16(self.text, "text").getvalue()

    @classmethod
    def decode(cls, payload: bytes) -> Refusal:
        r = Reader(payload)
        refusal = cls(
            code=reason(r.u8("code")), retry_after_ms=r.u32("retry"), text=r.str16("text")
        )
        r.finish()
        return refusal


def decode_fixed(payload: bytes, size: int, what: str) -> bytes:
    """A payload that is exactly one fixed-size field (a PAKE share or a confirmation)."""
    r = Reader(payload)
    value = r.raw(size, what)
    r.finish()
    return value


# -- encrypted unicast ----------------------------------------------------------------------


def encode_code_text(code: int, text: str) -> bytes:
    """NOTICE and GOODBYE payload: u8 code + str16 text."""
    return Writer().u8(int(code), "code").str16(text, "text").getvalue()


def decode_code_text(payload: bytes) -> tuple[Reason | int, str]:
    r = Reader(payload)
    code, text = reason(r.u8("code")), r.str16("text")
    r.finish()
    return code, text


def encode_token(token: int) -> bytes:
    """PING and PONG payload: u64 token."""
    return Writer().u64(token, "token").getvalue()


def decode_token(payload: bytes) -> int:
    r = Reader(payload)
    token = r.u64("token")
    r.finish()
    return token


def encode_join(username: str) -> bytes:
    """JOIN payload: str8 username."""
    return Writer().str8(username, "username").getvalue()


def decode_join(payload: bytes) -> str:
    r = Reader(payload)
    name = r.str8("username")
    r.finish()
    return name


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingMessage:
    """One sealed chat message as a client submits it (CHAT frame); the relay adds the sender."""

    message_id: bytes
    timestamp_ms: int
    content_type: str
    sealed: bytes

    def _write(self, w: Writer) -> None:
        w.raw(self.message_id, MESSAGE_ID_SIZE, "message id").u64(self.timestamp_ms, "timestamp")
        w.str8(self.content_type, "content type").bytes32(self.sealed, "sealed message")

    @classmethod
    def _read(cls, r: Reader) -> OutgoingMessage:
        return cls(
            message_id=r.raw(MESSAGE_ID_SIZE, "message id"),
            timestamp_ms=r.u64("timestamp"),
            content_type=r.str8("content type"),
            sealed=r.bytes32("sealed message"),
        )


def encode_chat(messages: tuple[OutgoingMessage, ...] | list[OutgoingMessage]) -> bytes:
    """CHAT payload: u16 count + messages."""
    w = Writer().u16(len(messages), "message count")
    for message in messages:
        message._write(w)
    return w.getvalue()


def decode_chat(payload: bytes) -> tuple[OutgoingMessage, ...]:
    r = Reader(payload)
    count = r.u16("message count")
    if count == 0:
        raise DecodeError("empty chat frame")
    messages = tuple(OutgoingMessage._read(r) for _ in range(count))
    r.finish()
    return messages


# -- broadcast items (also the history in WELCOME) ------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatItem:
    """A chat message as the relay forwards it: ``sender`` is the relay's attestation."""

    sender: str
    message_id: bytes
    timestamp_ms: int
    content_type: str
    sealed: bytes

    @classmethod
    def from_outgoing(cls, message: OutgoingMessage, *, sender: str) -> ChatItem:
        """Attest ``message`` as sent by ``sender`` (the relay calls this on each submission)."""
        return cls(
            sender=sender,
            message_id=message.message_id,
            timestamp_ms=message.timestamp_ms,
            content_type=message.content_type,
            sealed=message.sealed,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinedItem:
    """``name`` entered the room."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LeftItem:
    """``name`` left the room; ``code`` says why (LEAVING, CONNECTION_LOST, ...)."""

    name: str
    code: Reason | int


BroadcastItem = ChatItem | JoinedItem | LeftItem


def _write_item(w: Writer, item: BroadcastItem) -> None:
    if isinstance(item, ChatItem):
        w.u8(_KIND_CHAT).str8(item.sender, "sender")
        w.raw(item.message_id, MESSAGE_ID_SIZE, "message id").u64(item.timestamp_ms, "timestamp")
        w.str8(item.content_type, "content type").bytes32(item.sealed, "sealed message")
    elif isinstance(item, JoinedItem):
        w.u8(_KIND_JOINED).str8(item.name, "name")
    elif isinstance(item, LeftItem):
        w.u8(_KIND_LEFT).str8(item.name, "name").u8(int(item.code), "code")
    else:
        raise LocalProtocolError(f"not a broadcast item: {item!r}")


def _read_item(r: Reader) -> BroadcastItem:
    kind = r.u8("item kind")
    if kind == _KIND_CHAT:
        return ChatItem(
            sender=r.str8("sender"),
            message_id=r.raw(MESSAGE_ID_SIZE, "message id"),
            timestamp_ms=r.u64("timestamp"),
            content_type=r.str8("content type"),
            sealed=r.bytes32("sealed message"),
        )
    if kind == _KIND_JOINED:
        return JoinedItem(name=r.str8("name"))
    if kind == _KIND_LEFT:
        return LeftItem(name=r.str8("name"), code=reason(r.u8("code")))
    raise DecodeError(f"unknown broadcast item kind {kind}")


def encode_items(items: tuple[BroadcastItem, ...] | list[BroadcastItem]) -> bytes:
    """BROADCAST plaintext: u16 count + items (each u8 kind + fields)."""
    w = Writer().u16(len(items), "item count")
    for item in items:
        _write_item(w, item)
    return w.getvalue()


def decode_items(payload: bytes) -> tuple[BroadcastItem, ...]:
    r = Reader(payload)
    count = r.u16("item count")
    items = tuple(_read_item(r) for _ in range(count))
    r.finish()
    return items


@dataclass(frozen=True, slots=True, kw_only=True)
class Welcome:
    """WELCOME: the relay accepted the join; everything a member needs to follow the room."""

    your_name: str
    members: tuple[str, ...]
    broadcast_key: bytes
    next_seq: int
    max_message_bytes: int
    history: tuple[ChatItem, ...]

    def encode(self) -> bytes:
        w = Writer().str8(self.your_name, "your name").u16(len(self.members), "member count")
        w.str8s(self.members, "member")
        w.raw(self.broadcast_key, BROADCAST_KEY_SIZE, "broadcast key")
        w.u64(self.next_seq, "next seq").u32(self.max_message_bytes, "max message bytes")
        w.u16(len(self.history), "history count")
        for item in self.history:
            if not isinstance(item, ChatItem):
                raise LocalProtocolError("history holds chat items only")
            _write_item(w, item)
        return w.getvalue()

    @classmethod
    def decode(cls, payload: bytes) -> Welcome:
        r = Reader(payload)
        your_name = r.str8("your name")
        members = r.str8s(r.u16("member count"), "member")
        broadcast_key = r.raw(BROADCAST_KEY_SIZE, "broadcast key")
        next_seq = r.u64("next seq")
        max_message_bytes = r.u32("max message bytes")
        history = []
        for _ in range(r.u16("history count")):
            item = _read_item(r)
            if not isinstance(item, ChatItem):
                raise DecodeError("history holds a non-chat item")
            history.append(item)
        r.finish()
        return cls(
            your_name=your_name,
            members=members,
            broadcast_key=broadcast_key,
            next_seq=next_seq,
            max_message_bytes=max_message_bytes,
            history=tuple(history),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class WelcomeArgs:
    """What the relay tells one joiner (``Room.welcome`` → ``RelayProtocol.accept_join``)."""

    name: str
    members: tuple[str, ...]
    broadcast_key: bytes
    next_seq: int
    history: tuple[ChatItem, ...]
    max_message_bytes: int


@dataclass(frozen=True, slots=True)
class PendingMessage:
    """A message the user wrote, not yet sent. Keep it until its echo arrives (then it is
    delivered); after a reconnect send it again with the same id: receivers drop duplicates."""

    text: str
    message_id: bytes
    timestamp_ms: int
    content_type: str = TEXT_PLAIN
