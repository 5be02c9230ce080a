"""Events the protocol core hands to its driver through ``events_received()``.

Frozen, slotted dataclasses with keyword-only fields, in the manner of h11's events: they are
plain facts about what the peer did, safe to pass between threads and to compare in tests.
Each docstring says which side sees the event and what the driver should do next.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from net.proto._authority import Action
from net.proto._files import FileCode
from net.proto._frames import Reason
from net.proto._messages import MemberInfo


class AuthFailure(enum.Enum):
    """Why a password proof failed; decide on this, never on text."""

    #: Relay: the client's confirmation did not verify. Client: the relay said AUTH_FAILED.
    WRONG_PASSWORD = "wrong password"  # noqa: S105 - a label, not a password
    #: Either side: the peer's SPAKE2 share was not a valid point.
    INVALID_SHARE = "invalid handshake share"
    #: Client: the relay's confirmation did not verify (wrong password, or a man in the middle).
    RELAY_UNPROVEN = "relay could not prove it knows the room password"


class Forgery(enum.Enum):
    """Why a chat item was not shown as a message."""

    #: It does not open under its sender's key for that room, id and attested sender: moved,
    #: tampered with, or sealed by someone without the key.
    UNREADABLE = "does not open under its sender's key"
    #: It opens, but the sender's signature does not verify.
    BAD_SIGNATURE = "signature does not verify"
    #: Signed by another identity key than the member list gives for its sender.
    WRONG_KEY = "signed by another key than the sender's"
    #: Sent live by someone who is not a proven member of the room now.
    NOT_A_MEMBER = "not from a member of the room"
    #: A genuine message this device already accepted, sent again as if new (a replay).
    REPLAYED = "an old message sent again as new"


# -- client side ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RelayIdentified:
    """Client: the relay proved it holds ``relay_key`` for ``room_id`` (its signature over this
    handshake verifies). Nothing password-dependent has been sent yet. If it matches what was
    expected (a pin or an invite), the handshake goes on by itself; the driver pins it once
    the join succeeds."""

    room_id: bytes
    relay_key: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class RelayKeyMismatch:
    """Client: the relay for ``room_id`` presented ``presented`` but ``expected`` was pinned (or
    given in an invite). The connection is over and nothing password-dependent was sent: tell
    the person, and do not retry by yourself."""

    room_id: bytes
    expected: bytes
    presented: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Queued:
    """Client: the relay is busy with other handshakes and keeps our place in line
    (``position``, 1 = next) for at most ``wait_ms``: wait that much longer for its hello.
    Unauthenticated (anyone on the path could send it): it may only make the client wait."""

    position: int
    wait_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class KeysRequired:
    """Client: the relay hosts ``room_id`` and we hold no keys for it.

    Run ``derive_room_keys(password, room_id=room_id)`` off the I/O thread (scrypt is slow on
    purpose), then call ``provide_keys``.
    """

    room_id: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class HandshakeComplete:
    """Client: the relay proved it knows the room password; JOIN has been queued."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Welcomed:
    """Client: we are in the room. ``members`` as the relay lists them (with their identity
    keys), ``history`` oldest first. ``max_message_bytes`` is the largest UTF-8 text
    ``send_messages`` accepts. ``history_for_newcomers`` is the room's setting, signed by its
    owner: True if new members can read recent history, False if they see only what is sent
    after they join; None in a room without an owner (whose newcomers read recent history)."""

    your_name: str
    members: tuple[MemberInfo, ...]
    history: tuple[ChatOpened | ChatForged | ChatLocked, ...]
    max_message_bytes: int
    history_for_newcomers: bool | None = None
    #: The position of the first history item (``next_position`` if there is none). If it is
    #: above ``resume_after + 1`` the device missed stored messages that did not fit the
    #: WELCOME: fetch them with ``request_history(before=history_start, …)`` until a
    #: :class:`HistoryPageReceived` reaches ``resume_after`` (or comes back empty).
    history_start: int = 1
    #: The position the next stored message will take.
    next_position: int = 1
    #: The room's file limit: the largest file (stored size: sealed chunks) the relay keeps,
    #: and what all the room's files may take together; 0: the room keeps no files.
    max_file_bytes: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatOpened:
    """Client: a message that opened under the room key for the relay-attested ``sender`` and
    whose signature verifies under ``signing_key``.

    If the sender is in the member list, ``signing_key`` is the key listed for it (otherwise the
    item is :class:`ChatForged`); a sender who has left (history) is checked by the driver
    against what it remembers. Your own messages come back this way too: that is the delivery
    confirmation. Messages whose id was seen before never get here.
    """

    sender: str
    signing_key: bytes
    text: str
    message_id: bytes
    timestamp_ms: int
    content_type: str
    epoch: int
    counter: int
    from_history: bool
    #: Where the relay stored it in the room's history (1, 2, …); 0 if not known.
    position: int = 0
    #: The body as signed, for every content type (``text`` is set only for ``text/plain``):
    #: replies, file offers and private boxes are read from it (``net.proto._content``).
    body: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatForged:
    """Client: a chat item that must NOT be shown as coming from ``sender``; ``why`` says what
    failed. Someone tried to speak in another member's name, or moved a message from another
    room. A warning line at most."""

    sender: str
    message_id: bytes
    from_history: bool
    why: Forgery
    position: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatLocked:
    """Client: a message whose sender key has not reached this device yet. Show a placeholder
    (``from_history``: "earlier messages, readable once a member who was here comes online");
    the same ``message_id`` arrives as :class:`ChatOpened` (or :class:`ChatForged`) when the
    key comes, by itself.

    ``withheld``: an earlier message in a room whose new members see only what is sent after
    they join, so its key will not come (nobody is asked for it). Say so instead: "messages
    from before you joined are not shared with new members in this room"."""

    sender: str
    message_id: bytes
    from_history: bool
    withheld: bool = False
    position: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagesStored:
    """Client: the relay stored these messages of ours in the room's history (ACK). This is
    the delivery promise: drop them from the outbox; until then, resend after a reconnect."""

    message_ids: tuple[bytes, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryPageReceived:
    """Client: the answer to ``request_history``: the items at positions ``first_position``
    to ``first_position + count - 1`` came as history events just before this one. ``count``
    0: the relay keeps nothing older (its retention removed it). Ask again with
    ``before=first_position`` while there is a gap left."""

    first_position: int
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RolesChanged:
    """Client: who is owner and admin in this room, after WELCOME (``action`` None) and after
    each action the relay passes on (checked against the owner's genesis and every action
    before it: a relay cannot forge one). ``owner`` is None in a room without an owner."""

    owner: bytes | None
    admins: frozenset[bytes]
    action: Action | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PasswordChanged:
    """Client: the action that changes the room password was taken (checked). ``password`` is
    the new one if it reached us (sealed by whoever changed it), else None. The relay then
    closes every connection (GOODBYE PASSWORD_CHANGED): join again with the new password."""

    password: str | None
    actor: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberUnproven:
    """Client: the relay lists ``member``, but its membership tag does not prove the room
    password. It is not treated as a member: it receives no keys and its messages are refused.
    Tell the person: the relay (or whoever runs it) is trying to listen in."""

    member: MemberInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberArrived:
    """Client: a member entered the room, with the identity keys it proved to the relay."""

    member: MemberInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberDeparted:
    """Client: ``name`` left the room; ``code`` says why."""

    name: str
    code: Reason | int


@dataclass(frozen=True, slots=True, kw_only=True)
class NoticeReceived:
    """Client: a non-fatal message from the relay (for example RATE_LIMITED "slow down")."""

    code: Reason | int
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FileStateReceived:
    """Client: the relay's answer about ``file_id`` (FILE_STATE): to ``open_file``, to each
    ``put_file_chunk`` that stored a chunk (or repeated one), to ``drop_file``, and to
    ``get_file_chunks`` when no chunk is to come. ``code`` is a :class:`~net.proto.FileCode`
    (a plain int for a code this version does not know: treat it as a failure); ``have`` is
    the number of chunks stored, from index 0 on, when ``code`` is OK (0 otherwise).

    Uploading: send FILE_PUT from ``have`` on; ``have == count`` means the file is complete:
    send the offer now. Downloading: OK means "nothing from there on yet" (``have`` chunks
    are stored); NOT_FOUND means the file is gone (never uploaded, dropped or evicted)."""

    file_id: bytes
    code: FileCode | int
    have: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FileDataReceived:
    """Client: chunk ``index`` of ``file_id`` as the uploader sealed it (FILE_DATA), in
    answer to ``get_file_chunks``, in index order. Open it with ``crypto.filechunk.open_chunk``
    (the relay could have altered it: that fails) before writing it anywhere."""

    file_id: bytes
    index: int
    sealed: bytes


# -- relay side -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomRequested:
    """Relay: the client asks for ``room_id`` (all zero: the relay's default room). Call
    ``select_room`` with that room's credentials, or ``refuse(NO_SUCH_ROOM, ...)``."""

    room_id: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Authenticated:
    """Relay: the client proved it knows the room password; expect JoinRequested next."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinRequested:
    """Relay: the client asks to join as ``username`` (exactly as sent) with the identity keys
    whose possession it proved (the core checked the proof). Check the name with the room's
    rules, then call ``accept_join`` or ``reject_join``."""

    username: str
    signing_key: bytes
    dh_key: bytes
    tag: bytes
    #: The newest stored position the member holds (0: none): WELCOME history starts after it.
    resume_after: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryRequested:
    """Relay: a joined member asks for up to ``limit`` stored messages older than position
    ``before``. Answer with ``send_history_page`` (newest that fit, oldest first); count it
    against the member's message rate."""

    before: int
    limit: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FileOpenRequested:
    """Relay: a joined member starts (or resumes) uploading ``count`` sealed chunks,
    ``stored_size`` bytes in all (the core checked that the two fit each other). Answer with
    ``send_file_state`` as ``RoomFiles.open`` says; count it against the member's rate."""

    file_id: bytes
    count: int
    stored_size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FileChunkSubmitted:
    """Relay: a joined member sends chunk ``index`` of ``file_id`` (``sealed``: its length
    checked, 41 to CHUNK_SIZE + 40 bytes; opaque otherwise). Store it with ``RoomFiles.put``
    and answer with ``send_file_state``; a broken rule ends the connection (PROTOCOL_ERROR).
    Not counted against the rate: the storage limit and the read limits bound it."""

    file_id: bytes
    index: int
    sealed: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class FileDropRequested:
    """Relay: a joined member gives up uploading ``file_id`` (or takes it back): delete it
    if it is that member's (``RoomFiles.drop``) and answer; count it against the rate."""

    file_id: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class FileRequested:
    """Relay: a joined member asks for ``count`` (1–64) chunks of ``file_id`` from
    ``from_index`` on. ``RoomFiles.get`` says which to send (FILE_DATA each, as the member's
    socket drains) or what to answer; count it against the rate."""

    file_id: bytes
    from_index: int
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SharesSubmitted:
    """Relay: a joined member hands out sender key shares. Pass each ``share`` to the joined
    member whose signing key is ``recipient`` with ``send_share`` (a recipient not in the room
    is skipped: it left meanwhile). The relay cannot open them."""

    shares: tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionSubmitted:
    """Relay: a joined member submitted a room action (its encoding, unchecked). Pass it to
    ``Room.act``: on ActionRefused send NOTICE(ACTION_REFUSED) with the reason; on a removal,
    close the removed member's connection with GOODBYE(REMOVED)."""

    action: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretsSubmitted:
    """Relay: a member hands each other member a new room password, sealed (SECRETS). Pass
    each to the joined member whose signing key is ``recipient`` with ``send_secret``."""

    secrets: tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifierSubmitted:
    """Relay: the verifier (access key) of a new room password, for the CHANGE_PASSWORD
    action numbered ``seq`` that this member sends next. Keep it for that action only."""

    seq: int
    access: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class KeysWanted:
    """Relay: a joined member asks the others for sender keys. Broadcast
    :func:`~net.proto.encode_wanted_item` of the member's signing key and ``payload``."""

    payload: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagesSubmitted:
    """Relay: a joined member submitted envelopes; attest and broadcast them unchanged.

    The envelopes are views into the frame just received: use (or copy) them before feeding
    the core more bytes.
    """

    envelopes: tuple[memoryview, ...]


# -- either side ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthenticationFailed:
    """Either side: the password proof failed (or a share was invalid). Close; never retry alone.

    On the relay, count it against the peer's address for rate limiting.
    """

    cause: AuthFailure


@dataclass(frozen=True, slots=True, kw_only=True)
class Refused:
    """Client: the relay refused the connection before the handshake finished.

    Relay: the core refused the peer itself (incompatible version). Close after flushing.
    ``code`` is a :class:`Reason`, or a plain int for a code this version does not know.
    """

    code: Reason | int
    text: str
    retry_after_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class GoodbyeReceived:
    """Either side: the peer is closing (and says why). Flush ``data_to_send`` and close."""

    code: Reason | int
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PingReceived:
    """Either side: the peer pinged us; the core has already queued the PONG."""

    token: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PongReceived:
    """Either side: the answer to our ``send_ping(token)``; the peer is alive."""

    token: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolViolation:
    """Either side: the peer broke the protocol; ``reason`` is for the local log only.

    Nothing after the bad input was processed. Flush ``data_to_send`` (it may hold a fixed
    error frame for the peer) and close.
    """

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionClosed:
    """Either side: the transport reached EOF (reported once, by ``receive_eof``)."""


Event = (
    Queued
    | RelayIdentified
    | RelayKeyMismatch
    | KeysRequired
    | HandshakeComplete
    | Welcomed
    | ChatOpened
    | ChatForged
    | ChatLocked
    | MemberArrived
    | MemberUnproven
    | MemberDeparted
    | NoticeReceived
    | RoomRequested
    | Authenticated
    | JoinRequested
    | MessagesSubmitted
    | AuthenticationFailed
    | Refused
    | GoodbyeReceived
    | PingReceived
    | PongReceived
    | ProtocolViolation
    | ConnectionClosed
    | SharesSubmitted
    | KeysWanted
    | ActionSubmitted
    | RolesChanged
    | SecretsSubmitted
    | VerifierSubmitted
    | PasswordChanged
    | MessagesStored
    | HistoryPageReceived
    | HistoryRequested
    | FileStateReceived
    | FileDataReceived
    | FileOpenRequested
    | FileChunkSubmitted
    | FileDropRequested
    | FileRequested
)
