"""Frame payloads of protocol v2: dataclasses with ``encode()`` and ``decode()``.

``encode`` returns the payload (without the type byte and, for encrypted frames, before
sealing); ``decode`` takes a payload and raises :class:`DecodeError` for anything malformed,
including trailing bytes. Both sides share these, so tests round-trip them directly. The exact
layouts are in docs/PROTOCOL.md, section 2.

Chat messages travel as *envelopes* (:mod:`crypto.envelope`): opaque sealed bytes whose first
16 bytes are the message id. The relay never decodes an envelope: it prefixes the sender it
attests and forwards the bytes as they came (a broadcast CHAT item), so its per-message work is
slicing and joining, not re-encoding.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from net.proto._codec import Reader, Writer
from net.proto._errors import DecodeError, LocalProtocolError
from net.proto._frames import Reason, reason

MAGIC = b"SocketChat"
ROOM_ID_SIZE = 16
MESSAGE_ID_SIZE = 16
NONCE_SIZE = 32
KEY_SIZE = 32
SIGNATURE_SIZE = 64
SHARE_SIZE = 65
CONFIRMATION_SIZE = 32
BROADCAST_KEY_SIZE = 32
#: A membership tag (crypto.epoch): proof to the other members that a member knows the password.
TAG_SIZE = 32
#: A sender key share as the relay forwards it, opaque to it (crypto.epoch.SHARE_SIZE).
SHARE_BLOB_SIZE = 180
#: Sender keys one WANT frame may ask for.
MAX_WANTED = 64
#: The room id that asks the relay for the room it serves by default (a joiner who typed only
#: host, port and password does not know the room id yet).
DEFAULT_ROOM = bytes(ROOM_ID_SIZE)

_MEMBER_FIXED = 2 * KEY_SIZE + TAG_SIZE + 1  # after the name: signing, dh key, tag, flags
_KIND_CHAT = 1
_KIND_JOINED = 2
_KIND_LEFT = 3
_KIND_WANTED = 4
_KIND_ACTION = 5
#: The genesis of a room with an owner (crypto.genesis.SIZE); an owner-less room sends none.
GENESIS_SIZE = 113
_CHAT_ITEM_KIND = bytes((_KIND_CHAT,))


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
class ClientOpen:
    """CLIENT_OPEN: which room (``DEFAULT_ROOM`` for the relay's default) and a fresh nonce
    that the relay's signature in RELAY_HELLO must cover (so no old hello can be replayed)."""

    room_id: bytes
    nonce: bytes

    def encode(self) -> bytes:
        w = Writer().raw(self.room_id, ROOM_ID_SIZE, "room id")
        return w.raw(self.nonce, NONCE_SIZE, "client nonce").getvalue()

    @classmethod
    def decode(cls, payload: bytes) -> ClientOpen:
        r = Reader(payload)
        opened = cls(room_id=r.raw(ROOM_ID_SIZE, "room id"), nonce=r.raw(NONCE_SIZE, "nonce"))
        r.finish()
        return opened


@dataclass(frozen=True, slots=True, kw_only=True)
class RelayHello:
    """RELAY_HELLO: the chosen version, the room (its id is also the scrypt salt), the relay's
    long-term Ed25519 key, a fresh nonce, the relay's SPAKE2 share, and the relay's signature
    over the transcript so far (see :func:`relay_hello_signed_bytes`)."""

    version: int
    room_id: bytes
    relay_key: bytes
    nonce: bytes
    share: bytes
    signature: bytes

    def unsigned(self) -> bytes:
        """The payload without its trailing signature (what the signature covers)."""
        w = Writer().u16(self.version, "version").raw(self.room_id, ROOM_ID_SIZE, "room id")
        w.raw(self.relay_key, KEY_SIZE, "relay key").raw(self.nonce, NONCE_SIZE, "relay nonce")
        return w.raw(self.share, SHARE_SIZE, "relay share").getvalue()

    def encode(self) -> bytes:
        return self.unsigned() + _fixed(self.signature, SIGNATURE_SIZE, "signature")

    @classmethod
    def decode(cls, payload: bytes) -> RelayHello:
        r = Reader(payload)
        hello = cls(
            version=r.u16("version"),
            room_id=r.raw(ROOM_ID_SIZE, "room id"),
            relay_key=r.raw(KEY_SIZE, "relay key"),
            nonce=r.raw(NONCE_SIZE, "relay nonce"),
            share=r.raw(SHARE_SIZE, "relay share"),
            signature=r.raw(SIGNATURE_SIZE, "signature"),
        )
        r.finish()
        return hello


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientPake:
    """CLIENT_PAKE: the client's SPAKE2 share and its key confirmation, in one frame."""

    share: bytes
    confirmation: bytes

    def encode(self) -> bytes:
        w = Writer().raw(self.share, SHARE_SIZE, "client share")
        return w.raw(self.confirmation, CONFIRMATION_SIZE, "confirmation").getvalue()

    @classmethod
    def decode(cls, payload: bytes) -> ClientPake:
        r = Reader(payload)
        pake = cls(
            share=r.raw(SHARE_SIZE, "client share"),
            confirmation=r.raw(CONFIRMATION_SIZE, "confirmation"),
        )
        r.finish()
        return pake


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Queued:
    """QUEUED: every handshake slot is taken; the relay keeps this connection's place in line
    (``position``, 1 = next) for at most ``wait_ms`` and answers the hello when its turn comes.
    Unauthenticated, like REFUSED: a client only waits longer because of it."""

    position: int
    wait_ms: int

    def encode(self) -> bytes:
        w = Writer().u32(self.position, "position")
        return w.u32(self.wait_ms, "wait_ms").getvalue()

    @classmethod
    def decode(cls, payload: bytes) -> Queued:
        r = Reader(payload)
        queued = cls(position=r.u32("position"), wait_ms=r.u32("wait_ms"))
        r.finish()
        if queued.position == 0:
            raise DecodeError("QUEUED position 0 (the first in line is 1)")
        return queued


def decode_fixed(payload: bytes, size: int, what: str) -> bytes:
    """A payload that is exactly one fixed-size field (a confirmation)."""
    r = Reader(payload)
    value = r.raw(size, what)
    r.finish()
    return value


def _fixed(data: bytes, size: int, what: str) -> bytes:
    if len(data) != size:
        raise LocalProtocolError(f"{what} must be {size} bytes, not {len(data)}")
    return bytes(data)


# -- members --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberInfo:
    """A member as the relay lists it: the name and the identity keys it proved it holds.

    ``signing_key`` is the Ed25519 key every message of this member is signed with;
    ``dh_key`` the X25519 key others seal to it; ``tag`` its membership tag, which only the
    other members can check (the relay passes it on). ``flags`` are reserved (0).
    """

    name: str
    signing_key: bytes
    dh_key: bytes
    tag: bytes = bytes(TAG_SIZE)
    flags: int = 0

    def write(self, w: Writer) -> None:
        w.str8(self.name, "member name").raw(self.signing_key, KEY_SIZE, "signing key")
        w.raw(self.dh_key, KEY_SIZE, "dh key").raw(self.tag, TAG_SIZE, "membership tag")
        w.u8(self.flags, "member flags")

    def encode(self) -> bytes:
        """This entry as WELCOME and JOINED carry it (a relay caches it per member)."""
        w = Writer()
        self.write(w)
        return w.getvalue()

    @classmethod
    def read(cls, r: Reader) -> MemberInfo:
        return cls(
            name=r.str8("member name"),
            signing_key=r.raw(KEY_SIZE, "signing key"),
            dh_key=r.raw(KEY_SIZE, "dh key"),
            tag=r.raw(TAG_SIZE, "membership tag"),
            flags=r.u8("member flags"),
        )

    @classmethod
    def read_many(cls, r: Reader, count: int) -> tuple[MemberInfo, ...]:
        """``count`` entries, as :meth:`read` one by one would read them (a WELCOME's list)."""
        return tuple(
            cls(
                name=name,
                signing_key=rest[:KEY_SIZE],
                dh_key=rest[KEY_SIZE : 2 * KEY_SIZE],
                tag=rest[2 * KEY_SIZE : -1],
                flags=rest[-1],
            )
            for name, rest in r.str8_records(count, _MEMBER_FIXED, "member")
        )

    def encoded_size(self) -> int:
        return 1 + len(self.name.encode("utf-8")) + _MEMBER_FIXED


def encode_members(members: Iterable[MemberInfo]) -> bytes:
    """The member entries of a WELCOME, as :meth:`MemberInfo.write` writes them one by one."""
    w = Writer()
    for member in members:
        member.write(w)
    return w.getvalue()


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Join:
    """JOIN: the name to join as, the device's identity keys, a signature proving the client
    holds the signing key, bound to this connection (:func:`join_signed_bytes`), and the
    membership tag the relay lists for the other members to check."""

    name: str
    signing_key: bytes
    dh_key: bytes
    proof: bytes
    tag: bytes
    #: The position of the newest stored message this device holds from the room (0: none).
    resume_after: int = 0

    def encode(self) -> bytes:
        w = Writer().str8(self.name, "name").raw(self.signing_key, KEY_SIZE, "signing key")
        w.raw(self.dh_key, KEY_SIZE, "dh key")
        w.raw(self.proof, SIGNATURE_SIZE, "proof")
        w.raw(self.tag, TAG_SIZE, "membership tag")
        return w.u64(self.resume_after, "resume after").getvalue()

    @classmethod
    def decode(cls, payload: bytes) -> Join:
        r = Reader(payload)
        join = cls(
            name=r.str8("name"),
            signing_key=r.raw(KEY_SIZE, "signing key"),
            dh_key=r.raw(KEY_SIZE, "dh key"),
            proof=r.raw(SIGNATURE_SIZE, "proof"),
            tag=r.raw(TAG_SIZE, "membership tag"),
            resume_after=r.u64("resume after"),
        )
        r.finish()
        return join


# -- sender keys: SHARES, SHARE, WANT --------------------------------------------------------


def encode_shares(shares: Sequence[tuple[bytes, bytes]]) -> bytes:
    """SHARES payload (C→R): u16 count · count × (recipient signing key · share blob)."""
    w = Writer().u16(len(shares), "share count")
    for recipient, blob in shares:
        w.raw(recipient, KEY_SIZE, "recipient").raw(blob, SHARE_BLOB_SIZE, "share")
    return w.getvalue()


def decode_shares(payload: bytes) -> list[tuple[bytes, bytes]]:
    """The (recipient, share) pairs of a SHARES payload; at least one."""
    r = Reader(payload)
    count = r.u16("share count")
    if count == 0:
        raise DecodeError("empty shares frame")
    shares = [(r.raw(KEY_SIZE, "recipient"), r.raw(SHARE_BLOB_SIZE, "share")) for _ in range(count)]
    r.finish()
    return shares


def encode_share(distributor: bytes, blob: bytes) -> bytes:
    """SHARE payload (R→C): the distributor's signing key (attested by the relay) · share."""
    return Writer().raw(distributor, KEY_SIZE, "distributor").raw(blob, SHARE_BLOB_SIZE).getvalue()


def decode_share(payload: bytes) -> tuple[bytes, bytes]:
    r = Reader(payload)
    share = r.raw(KEY_SIZE, "distributor"), r.raw(SHARE_BLOB_SIZE, "share")
    r.finish()
    return share


#: The longest sealed secret a SECRETS pair carries (crypto.password_share.MAX_SIZE).
MAX_SECRET = 512


def encode_secrets(secrets: Sequence[tuple[bytes, bytes]]) -> bytes:
    """SECRETS payload (C→R): u16 count · count × (recipient signing key · bytes16 secret)."""
    w = Writer().u16(len(secrets), "secret count")
    for recipient, blob in secrets:
        if len(blob) > MAX_SECRET:
            raise LocalProtocolError("a secret over 512 bytes")
        w.raw(recipient, KEY_SIZE, "recipient").bytes16(blob, "secret")
    return w.getvalue()


def decode_secrets(payload: bytes) -> list[tuple[bytes, bytes]]:
    r = Reader(payload)
    count = r.u16("secret count")
    if count == 0:
        raise DecodeError("empty secrets frame")
    secrets = []
    for _ in range(count):
        recipient, blob = r.raw(KEY_SIZE, "recipient"), r.bytes16("secret")
        if len(blob) > MAX_SECRET:
            raise DecodeError("a secret over 512 bytes")
        secrets.append((recipient, blob))
    r.finish()
    return secrets


def encode_secret(distributor: bytes, blob: bytes) -> bytes:
    """SECRET payload (R→C): the distributor's signing key (attested) · bytes16 secret."""
    return Writer().raw(distributor, KEY_SIZE, "distributor").bytes16(blob, "secret").getvalue()


def decode_secret(payload: bytes) -> tuple[bytes, bytes]:
    r = Reader(payload)
    secret = r.raw(KEY_SIZE, "distributor"), r.bytes16("secret")
    r.finish()
    if len(secret[1]) > MAX_SECRET:
        raise DecodeError("a secret over 512 bytes")
    return secret


def encode_verifier(seq: int, access: bytes) -> bytes:
    """VERIFIER payload (C→R): u32 seq of the CHANGE_PASSWORD action · access key (32)."""
    return Writer().u32(seq, "seq").raw(access, KEY_SIZE, "access").getvalue()


def decode_verifier(payload: bytes) -> tuple[int, bytes]:
    r = Reader(payload)
    verifier = r.u32("seq"), r.raw(KEY_SIZE, "access")
    r.finish()
    return verifier


def encode_wanted(wanted: Sequence[tuple[bytes, int]]) -> bytes:
    """WANT payload (C→R): u16 count (1..64) · count × (owner signing key · u32 epoch)."""
    if not 1 <= len(wanted) <= MAX_WANTED:
        raise LocalProtocolError(f"a WANT frame asks for 1 to {MAX_WANTED} keys")
    w = Writer().u16(len(wanted), "wanted count")
    for owner, epoch in wanted:
        w.raw(owner, KEY_SIZE, "owner").u32(epoch, "epoch")
    return w.getvalue()


def decode_wanted(payload: bytes) -> tuple[tuple[bytes, int], ...]:
    r = Reader(payload)
    count = r.u16("wanted count")
    if not 1 <= count <= MAX_WANTED:
        raise DecodeError("a WANT frame asks for 1 to 64 keys")
    wanted = tuple((r.raw(KEY_SIZE, "owner"), r.u32("epoch")) for _ in range(count))
    r.finish()
    return wanted


# -- what the room stores: ACK, HISTORY, HISTORY_PAGE -----------------------------------------

#: Most message ids one ACK frame carries, and most items a HISTORY request may ask for.
MAX_ACKED = 1000
MAX_PAGE_ITEMS = 1000


def encode_ack(message_ids: Sequence[bytes]) -> bytes:
    """ACK payload: u16 count (1–1000) + count × message_id (16)."""
    if not 1 <= len(message_ids) <= MAX_ACKED:
        raise LocalProtocolError("an ACK carries 1 to 1000 message ids")
    w = Writer().u16(len(message_ids), "ack count")
    for message_id in message_ids:
        w.raw(message_id, MESSAGE_ID_SIZE, "message id")
    return w.getvalue()


def decode_ack(payload: bytes) -> tuple[bytes, ...]:
    r = Reader(payload)
    count = r.u16("ack count")
    if not 1 <= count <= MAX_ACKED:
        raise DecodeError("an ACK carries 1 to 1000 message ids")
    ids = tuple(r.raw(MESSAGE_ID_SIZE, "message id") for _ in range(count))
    r.finish()
    return ids


def encode_history_request(before: int, limit: int) -> bytes:
    """HISTORY payload: u64 before (≥ 2) · u16 limit (1–1000)."""
    if before < 2 or not 1 <= limit <= MAX_PAGE_ITEMS:
        raise LocalProtocolError("HISTORY asks for 1 to 1000 items before a position ≥ 2")
    return Writer().u64(before, "before").u16(limit, "limit").getvalue()


def decode_history_request(payload: bytes) -> tuple[int, int]:
    r = Reader(payload)
    before, limit = r.u64("before"), r.u16("limit")
    r.finish()
    if before < 2 or not 1 <= limit <= MAX_PAGE_ITEMS:
        raise DecodeError("HISTORY asks for 1 to 1000 items before a position ≥ 2")
    return before, limit


def encode_history_page(first_position: int, items: Sequence[bytes]) -> bytes:
    """HISTORY_PAGE payload from encoded CHAT items (kind byte included), oldest first."""
    w = Writer().u64(first_position, "first position").u16(len(items), "item count")
    for item in items:
        if item[:1] != _CHAT_ITEM_KIND:
            raise LocalProtocolError("a history page holds chat items only")
        w.raw(item)
    return w.getvalue()


def decode_history_page(payload: bytes) -> tuple[int, tuple[ChatItem, ...]]:
    """``(first_position, items)``: the items hold positions first_position, +1, … in order."""
    r = Reader(payload)
    first = r.u64("first position")
    items = []
    for _ in range(r.u16("item count")):
        item = _read_item(r)
        if not isinstance(item, ChatItem):
            raise DecodeError("a history page holds a non-chat item")
        items.append(item)
    r.finish()
    if items and first == 0:
        raise DecodeError("positions start at 1")
    return first, tuple(items)


def encode_chat(envelopes: Sequence[bytes]) -> bytes:
    """CHAT payload: u16 count + count × bytes32 envelope."""
    w = Writer().u16(len(envelopes), "message count")
    for envelope in envelopes:
        w.bytes32(envelope, "envelope")
    return w.getvalue()


def decode_chat(payload: bytes) -> list[memoryview]:
    """The envelopes of a CHAT payload, as views into ``payload`` (nothing copied)."""
    view = memoryview(payload)
    end = len(view)
    if end < 2:
        raise DecodeError("truncated message count")
    count = int.from_bytes(view[:2], "big")
    if count == 0:
        raise DecodeError("empty chat frame")
    pos = 2
    envelopes = []
    for _ in range(count):
        if end - pos < 4:
            raise DecodeError("truncated envelope length")
        size = int.from_bytes(view[pos : pos + 4], "big")
        pos += 4
        if size > end - pos:
            raise DecodeError("truncated envelope")
        envelopes.append(view[pos : pos + size])
        pos += size
    if pos != end:
        raise DecodeError("trailing bytes")
    return envelopes


# -- broadcast items (also the history in WELCOME) ------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatItem:
    """A chat message as the relay forwards it: ``sender`` is the relay's attestation,
    ``envelope`` the sender's sealed bytes as they were sent."""

    sender: str
    envelope: bytes

    @property
    def message_id(self) -> bytes:
        return bytes(self.envelope[:MESSAGE_ID_SIZE])


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinedItem:
    """A member entered the room."""

    member: MemberInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class LeftItem:
    """``name`` left the room; ``code`` says why (LEAVING, CONNECTION_LOST, ...)."""

    name: str
    code: Reason | int


@dataclass(frozen=True, slots=True, kw_only=True)
class WantedItem:
    """The member with signing key ``requester`` (attested by the relay) asks for these
    sender keys: (owner signing key, epoch) pairs it holds messages for but cannot open."""

    requester: bytes
    wanted: tuple[tuple[bytes, int], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionItem:
    """A room action (owners and admins, net.proto._authority) the relay checked and passes
    on; ``action`` is its encoding, exactly as its actor signed it."""

    action: bytes


BroadcastItem = ChatItem | JoinedItem | LeftItem | WantedItem | ActionItem


def chat_item_prefix(sender: str) -> bytes:
    """The bytes a CHAT item starts with for ``sender`` (kind and name): the relay caches it
    per member and builds each item as ``prefix + u32 length + envelope``."""
    return Writer().u8(_KIND_CHAT).str8(sender, "sender").getvalue()


def encode_chat_item(prefix: bytes, envelope: bytes | memoryview) -> bytes:
    """One CHAT item from a cached :func:`chat_item_prefix` and the envelope as sent."""
    return b"".join((prefix, len(envelope).to_bytes(4, "big"), envelope))


def encode_joined_item(entry: bytes) -> bytes:
    """One JOINED item from a member's entry as cached by the relay (:meth:`MemberInfo.encode`)."""
    return bytes((_KIND_JOINED,)) + entry


def encode_wanted_item(requester: bytes, want_payload: bytes) -> bytes:
    """One WANTED item from the requester's key and its WANT payload as sent (validated)."""
    return bytes((_KIND_WANTED,)) + bytes(requester) + bytes(want_payload)


def encode_chat_items(prefix: bytes, envelopes: Iterable[bytes | memoryview]) -> list[bytes]:
    """:func:`encode_chat_item` for each of ``envelopes`` (one pass: a CHAT frame can carry
    hundreds, and the relay builds an item for each)."""
    return [
        b"".join((prefix, len(envelope).to_bytes(4, "big"), envelope)) for envelope in envelopes
    ]


def encode_item(item: BroadcastItem) -> bytes:
    """One broadcast item, kind byte included."""
    if isinstance(item, ChatItem):
        return encode_chat_item(chat_item_prefix(item.sender), item.envelope)
    w = Writer()
    if isinstance(item, JoinedItem):
        w.u8(_KIND_JOINED)
        item.member.write(w)
    elif isinstance(item, LeftItem):
        w.u8(_KIND_LEFT).str8(item.name, "name").u8(int(item.code), "code")
    elif isinstance(item, WantedItem):
        return encode_wanted_item(item.requester, encode_wanted(item.wanted))
    elif isinstance(item, ActionItem):
        w.u8(_KIND_ACTION).bytes16(item.action, "action")
    else:
        raise LocalProtocolError(f"not a broadcast item: {item!r}")
    return w.getvalue()


def _read_item(r: Reader) -> BroadcastItem:
    kind = r.u8("item kind")
    if kind == _KIND_CHAT:
        return ChatItem(sender=r.str8("sender"), envelope=r.bytes32("envelope"))
    if kind == _KIND_JOINED:
        return JoinedItem(member=MemberInfo.read(r))
    if kind == _KIND_LEFT:
        return LeftItem(name=r.str8("name"), code=reason(r.u8("code")))
    if kind == _KIND_ACTION:
        return ActionItem(action=r.bytes16("action"))
    if kind == _KIND_WANTED:
        requester = r.raw(KEY_SIZE, "requester")
        count = r.u16("wanted count")
        if not 1 <= count <= MAX_WANTED:
            raise DecodeError("a WANTED item asks for 1 to 64 keys")
        wanted = tuple((r.raw(KEY_SIZE, "owner"), r.u32("epoch")) for _ in range(count))
        return WantedItem(requester=requester, wanted=wanted)
    raise DecodeError(f"unknown broadcast item kind {kind}")


def encode_items(items: Iterable[bytes]) -> bytes:
    """BROADCAST plaintext from encoded items: u16 count + the items."""
    parts = list(items)
    if len(parts) > 0xFFFF:
        raise LocalProtocolError("too many items for one broadcast")
    return len(parts).to_bytes(2, "big") + b"".join(parts)


def decode_items(payload: bytes) -> tuple[BroadcastItem, ...]:
    r = Reader(payload)
    count = r.u16("item count")
    items = tuple(_read_item(r) for _ in range(count))
    r.finish()
    return items


@dataclass(frozen=True, slots=True, kw_only=True)
class Welcome:
    """WELCOME: the relay accepted the join; everything a member needs to follow the room.

    ``history`` holds encoded CHAT items (kind byte included), oldest first, exactly as they
    were broadcast.
    """

    your_name: str
    members: tuple[MemberInfo, ...]
    broadcast_key: bytes
    next_seq: int
    #: The position the first chat item of broadcast ``next_seq`` takes; the history items
    #: hold the positions just before it, in order.
    next_position: int
    max_message_bytes: int
    history: tuple[bytes, ...]
    #: ``members`` already encoded (:func:`encode_members`), if the sender keeps them so: a
    #: WELCOME to a room of thousands then costs a copy, not a Writer call per field.
    member_entries: bytes | None = None
    #: The room's genesis (crypto.genesis; empty for a room without an owner) and its actions
    #: in order, each as its actor signed it.
    genesis: bytes = b""
    actions: tuple[bytes, ...] = ()
    #: The room's file limit (PROTOCOL.md 3.6), the last field; 0: the room keeps no files.
    max_file_bytes: int = 0

    def encode(self) -> bytes:
        w = Writer().str8(self.your_name, "your name").u16(len(self.members), "member count")
        if self.member_entries is not None:
            w.raw(self.member_entries)
        else:
            for member in self.members:
                member.write(w)
        w.raw(self.broadcast_key, BROADCAST_KEY_SIZE, "broadcast key")
        w.u64(self.next_seq, "next seq").u64(self.next_position, "next position")
        w.u32(self.max_message_bytes, "max message bytes")
        if len(self.history) >= self.next_position:
            raise LocalProtocolError("history items hold positions below next_position (≥ 1)")
        w.u16(len(self.history), "history count")
        for item in self.history:
            if item[:1] != _CHAT_ITEM_KIND:
                raise LocalProtocolError("history holds chat items only")
            w.raw(item)
        if len(self.genesis) not in (0, GENESIS_SIZE):
            raise LocalProtocolError("a genesis is 113 bytes (or none)")
        w.bytes16(self.genesis, "genesis").u16(len(self.actions), "action count")
        for action in self.actions:
            w.bytes16(action, "action")
        return w.u64(self.max_file_bytes, "max file bytes").getvalue()

    @classmethod
    def decode(cls, payload: bytes) -> tuple[Welcome, tuple[ChatItem, ...]]:
        """The welcome and its history decoded into chat items."""
        r = Reader(payload)
        your_name = r.str8("your name")
        members = MemberInfo.read_many(r, r.u16("member count"))
        broadcast_key = r.raw(BROADCAST_KEY_SIZE, "broadcast key")
        next_seq = r.u64("next seq")
        next_position = r.u64("next position")
        max_message_bytes = r.u32("max message bytes")
        history = []
        for _ in range(r.u16("history count")):
            item = _read_item(r)
            if not isinstance(item, ChatItem):
                raise DecodeError("history holds a non-chat item")
            history.append(item)
        if len(history) >= next_position:
            raise DecodeError("history items hold positions below next_position (≥ 1)")
        genesis = r.bytes16("genesis")
        if len(genesis) not in (0, GENESIS_SIZE):
            raise DecodeError("a genesis is 113 bytes (or none)")
        actions = tuple(r.bytes16("action") for _ in range(r.u16("action count")))
        max_file_bytes = r.u64("max file bytes")
        r.finish()
        welcome = cls(
            your_name=your_name,
            members=members,
            broadcast_key=broadcast_key,
            next_seq=next_seq,
            next_position=next_position,
            max_message_bytes=max_message_bytes,
            history=(),
            genesis=genesis,
            actions=actions,
            max_file_bytes=max_file_bytes,
        )
        return welcome, tuple(history)


@dataclass(frozen=True, slots=True, kw_only=True)
class WelcomeArgs:
    """What the relay tells one joiner (``Room.welcome`` → ``RelayProtocol.accept_join``).

    ``member_entries``, when given, must be :func:`encode_members` of ``members``."""

    name: str
    members: tuple[MemberInfo, ...]
    broadcast_key: bytes
    next_seq: int
    next_position: int
    history: tuple[bytes, ...]
    max_message_bytes: int
    member_entries: bytes | None = None
    genesis: bytes = b""
    actions: tuple[bytes, ...] = ()
    max_file_bytes: int = 0


@dataclass(frozen=True, slots=True)
class PendingMessage:
    """A message the user wrote, not yet sent. Keep it until its echo arrives (then it is
    delivered); after a reconnect send it again with the same id: receivers drop duplicates."""

    text: str
    message_id: bytes
    timestamp_ms: int
    content_type: str = "text/plain"
    #: What is sealed for any other content type (a reply, a file offer, a private box: see
    #: ``net.proto._content``); ``text`` is then only what a person reads of it (e.g. when it
    #: could not be sent). For ``text/plain`` it is empty and ``text`` is sealed.
    body: bytes = b""

    def wire_body(self) -> bytes:
        """The bytes sealed as the envelope's body. Raises UnicodeEncodeError for a text
        with no UTF-8 form (lone surrogates)."""
        if self.content_type == "text/plain":
            return self.text.encode("utf-8")
        return bytes(self.body)
