"""What :class:`net.client.ChatClient` tells its application.

These are delivered to the ``on_event`` callback from the client's worker thread (only
:class:`ArchiveFailed` may come from the client's archive thread). A GUI must only
``queue.put`` them and handle them on its own thread. All are frozen dataclasses: safe to
pass between threads and to compare in tests.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from net.client.trust import Trust
from net.proto import ActionKind, FileOffer, PendingMessage, Role


class ErrorKind(enum.Enum):
    """Why the client stopped for good. Each has a user-readable message in :class:`Failed`."""

    REFUSED = "refused"
    TIMED_OUT = "timed out"
    HOST_NOT_FOUND = "host not found"
    NETWORK = "network error"
    WRONG_PASSWORD = "wrong password"  # noqa: S105 - a label, not a password
    BAD_PASSWORD = "password breaks the rules"  # noqa: S105
    NAME_TAKEN = "name taken"
    NAME_INVALID = "name invalid"
    ROOM_FULL = "room full"
    BUSY = "relay busy"
    TOO_MANY_ATTEMPTS = "too many attempts"
    INCOMPATIBLE_VERSION = "incompatible version"
    ROOM_CLOSED = "room closed"
    PROTOCOL_ERROR = "protocol error"
    NAME_LOOKALIKE = "name looks like another"
    RELAY_CHANGED = "not the relay joined before"
    LOGIN_INTERRUPTED = "login interrupted"  # the password was at stake: never retried alone
    NO_SUCH_ROOM = "no such room"
    IDENTITY_UNAVAILABLE = "identity unavailable"
    REPLACED = "joined again elsewhere"
    REMOVED = "removed from the room"
    PASSWORD_CHANGED = "the room password changed"  # noqa: S105 - a label, not a password


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """A member as this device sees it: the name, the identity keys the relay lists for it, and
    how far this device trusts them (:class:`Trust`). ``dh_key`` completes the identity: safety
    codes cover both keys (``crypto.identity.pair_safety_code``)."""

    name: str
    signing_key: bytes
    dh_key: bytes
    trust: Trust
    role: Role = Role.MEMBER


@dataclass(frozen=True, slots=True, kw_only=True)
class DerivingKeys:
    """The room password is being stretched (scrypt, about a second). Show progress."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Queued:
    """The relay is letting others in first and keeps our place: ``position`` 1 is next.
    Show progress; the attempt goes on by itself (no password work was done yet)."""

    position: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Connecting:
    """A connection attempt starts; ``attempt`` 1 is the first, higher ones are reconnects."""

    attempt: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Joined:
    """We are in the room. History follows as ``MessageReceived(from_history=True)``.

    ``max_message_bytes`` is the room's own limit on a message's UTF-8 text: check it before
    calling ``send`` (which checks it too). ``history_for_newcomers`` is the room's setting,
    chosen by its owner when it was created: True, new members can read recent history;
    False, they see only what is sent after they join. None: the room has no owner, and no
    setting (its new members read recent history).
    """

    your_name: str
    members: tuple[Member, ...]
    reconnected: bool
    max_message_bytes: int
    room_id: bytes
    history_for_newcomers: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyTo:
    """The message a reply answers: give it to ``ChatClient.send(..., reply_to=)``, and read
    it in :class:`ReplyContent`. ``sender`` and ``excerpt`` (the start of the quoted text, at
    most 300 UTF-8 bytes: ``send`` cuts it) are the replier's claim, hostile like any text:
    where this device holds ``message_id``, show its own copy (and jump to it)."""

    message_id: bytes
    sender: str
    excerpt: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TextContent:
    """Plain text (``text/plain``)."""

    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyContent:
    """A text that answers ``reply_to`` (``application/vnd.socketchat.reply``)."""

    reply_to: ReplyTo
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FileContent:
    """A file offered for download (``application/vnd.socketchat.file``): ``offer.name`` and
    ``offer.media_type`` are the sender's words (``net.client.filenames`` makes them safe);
    ``offer.file_key`` opens the file: never show, log or export it."""

    offer: FileOffer


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownContent:
    """A message of a type this version does not know (``content_type``, the sender's words):
    show "a message this version cannot show", never its body."""

    content_type: str


Content = TextContent | ReplyContent | FileContent | UnknownContent


@dataclass(frozen=True, slots=True, kw_only=True)
class SentContent:
    """What a message written on this device says (``ChatClient.content_of``): for showing
    the messages of :class:`OutboxRestored`, :class:`NotSent` or a pending send as what they
    are. ``private_with`` and ``private_name`` as in :class:`MessageReceived`."""

    content: Content
    private_with: bytes | None = None
    private_name: str = ""


_AS_TEXT = TextContent(text="")  # MessageReceived without content: its text (see there)


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageReceived:
    """A verified chat message. ``own`` marks the relay's echo of a message we sent: the room
    has stored it (each message is reported once, whatever was resent after a reconnect).

    ``position`` is the relay's stored position of the message (1, 2, … per room; 0 if not
    known): with an archive, the client has already recorded it there.

    ``content`` says what kind of message it is (text, reply, file offer, or a type this
    version cannot show); ``text`` stays its readable text (a reply's own text, a file's name,
    empty for an unknown type), so code that shows only text keeps working. ``private_with``
    is set for a private message: the other person's signing key (the sender's, or the
    recipient's for our own), ``private_name`` their name as this device knows it. Private
    messages not meant for this device are never reported."""

    sender: str
    text: str
    message_id: bytes
    timestamp_ms: int
    from_history: bool
    own: bool
    sender_key: bytes = b""
    trust: Trust = Trust.KNOWN  # CHANGED: mark the message until the new key is accepted
    position: int = 0
    content: Content = _AS_TEXT  # left out: TextContent of ``text``
    private_with: bytes | None = None
    private_name: str = ""

    def __post_init__(self) -> None:
        if self.content is _AS_TEXT:
            object.__setattr__(self, "content", TextContent(text=self.text))


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageStored:
    """The relay confirmed that it stored our message ``message_id`` (its ACK, or our echo,
    whichever came first): it will reach every member, and it has left the outbox (and the
    archive's). Mark it sent. Once per message. The echo, MessageReceived with ``own``, comes
    right after this or later, or, if the connection dropped in between, not at all."""

    message_id: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxRestored:
    """Messages written on this device in an earlier run and never confirmed, loaded from the
    archive's outbox (oldest first). Show them as sending: they go out after joining, with
    their first ids and timestamps, and come back as MessageStored / MessageReceived (``own``)
    like any other. Comes before anything they could be confused with: once per room, from
    the worker thread, before the room's first Joined (or right after it, for a room whose id
    only the relay's answer told)."""

    messages: tuple[PendingMessage, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class NotSent:
    """The client stopped for good (a final failure, or ``close()``) while these messages,
    oldest first and as ``send`` returned them, were not confirmed by the relay: they may not
    have reached anyone. Comes once, before :class:`Failed` (if any), and is the last word
    about them: nothing more is sent, and ``send`` raises ``ClientStopped`` from now on.

    ``kept``: they stay in this device's archive and go out (same ids: nobody gets one
    twice) when a client for this room starts again; show them as "waiting". Not kept (no
    archive, or the room never answered): they exist only here — offer Copy, or Retry (a new
    client, sending the texts again). ``reason`` says why in words."""

    messages: tuple[PendingMessage, ...]
    reason: str
    kept: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiveFailed:
    """This device's archive (local history and outbox) could not be opened or written
    (``reason``, without contents): from now on this client keeps its outbox in memory only
    and records nothing. Say so once; messages still go out."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageNotSent:
    """The room refuses a message we queued (``reason`` says why); it was not sent and never
    will be. Mark it as failed where it was shown as pending."""

    message_id: bytes
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ForgedMessage:
    """A message attributed to ``claimed_sender`` failed verification and was dropped.
    Show a warning, never its content."""

    claimed_sender: str
    message_id: bytes
    why: str = "failed verification"


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageHidden:
    """A message opened as a private message between two other members: nothing to show.
    If it was announced as :class:`MessageLocked` (its key came later), remove that
    placeholder; otherwise ignore this."""

    message_id: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageLocked:
    """A message from ``sender`` whose key has not reached this device yet. Show a placeholder
    where it belongs (``from_history``: an earlier message; it becomes readable once a member
    who holds its key is online). The same ``message_id`` comes as :class:`MessageReceived`
    when the key arrives, by itself; nothing to do meanwhile.

    ``withheld``: an earlier message in a room whose new members see only what is sent after
    they join. Its key will not come: say "messages from before you joined are not shared with
    new members in this room", not that it becomes readable."""

    sender: str
    message_id: bytes
    from_history: bool
    withheld: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleChange:
    """An owner or admin acted in the room (checked: signed by someone allowed to). ``actor``
    and ``target`` are names where this device knows them (else a short key fingerprint);
    ``members`` is the list with the roles it now gives. After joining, a ``RoleChange`` with
    ``kind`` None just gives the roles."""

    kind: ActionKind | None
    actor: str
    target: str
    detail: str
    members: tuple[Member, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PasswordChanged:
    """``by`` changed the room password. ``password`` is the new one when it reached this
    device (the app switched to it by itself: everyone is reconnecting with it), else None
    (ask the owner for it). ``own``: we changed it; show the new password to share it."""

    by: str
    password: str | None
    own: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionNotTaken:
    """A room action we asked for was not taken (another action came first, or it is not
    allowed any more); ``reason`` says why in words. Nothing changed."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UnprovenMember:
    """The relay lists ``name`` as a member, but it did not prove it knows the room password:
    it receives no keys and its messages are refused. Warn loudly: whoever runs the relay is
    trying to listen in."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberJoined:
    """``member`` entered; ``members`` is the new list."""

    member: Member
    members: tuple[Member, ...]

    @property
    def name(self) -> str:
        return self.member.name


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberLeft:
    """``name`` left (or lost its connection); ``members`` is the new list."""

    name: str
    members: tuple[Member, ...]
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityChanged:
    """``name`` is back with another identity key than this device remembers for this room:
    it may be someone else. Warn persistently, mark its messages until the person accepts the
    new key (``ChatClient.accept_key``); ``was_verified`` if the old key had been verified."""

    name: str
    old_key: bytes
    new_key: bytes
    was_verified: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class AloneInRoom:
    """Nobody else is in the room."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimited:
    """The relay asked us to slow down. Messages are delayed, not lost."""

    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Disconnected:
    """The connection was lost after we had joined (or the relay stops for a restart); a
    reconnect follows in ``retry_in`` s, or at once after ``ChatClient.retry_now()``.
    Messages sent meanwhile wait in the outbox. Connecting follows when the attempt starts."""

    reason: str
    retry_in: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Failed:
    """The client stopped for good and will not retry. ``message`` says what to do. Messages
    still waiting came just before, as :class:`NotSent`. To go on (Rejoin), make a new client
    for the room: with the same archive it resumes where this one stopped and sends what was
    kept."""

    kind: ErrorKind
    message: str


# -- file transfers (net.client.transfers) ----------------------------------------------------


class TransferError(enum.Enum):
    """Why a file transfer ended without its file. ``TransferFailed.detail`` words it."""

    CANCELLED = "cancelled"  # ChatClient.cancel_transfer
    TOO_LARGE = "too large"  # over the room's file limit (ChatClient.max_file_bytes)
    NO_SPACE = "no space"  # the room's file storage is taken by uploads in progress
    FILES_OFF = "files off"  # the room keeps no files
    GONE = "gone"  # the relay no longer holds the file (removed to make room, or expired)
    CORRUPT = "corrupt"  # a chunk did not open, or the whole file's hash did not match
    IO = "io"  # reading the file, or writing it here, failed (detail says what)
    STOPPED = "stopped"  # the client stopped (close(), or the room was lost for good)


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferProgress:
    """A file transfer moved on: ``done_bytes`` of ``total_bytes`` (the file's size) are
    stored on the relay (``upload``) or checked and written here (a download). At most about
    ten a second per transfer; the last one before :class:`TransferFinished` may be short of
    ``total_bytes``. ``message_id`` is the file offer's: for an upload, the id its message
    will have (shown as sending once the file is stored); for a download, the offer's.
    ``name`` is the local file's name (the one sent, or the one saved to)."""

    transfer_id: bytes
    message_id: bytes
    name: str
    done_bytes: int
    total_bytes: int
    upload: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferFinished:
    """A transfer is done. Upload: the relay holds the whole file and its offer is in the
    outbox as message ``message_id`` (it follows every message's path: MessageStored, its
    echo, or NotSent); ``path`` is the file sent. Download: the file was checked (each chunk
    and the whole file's SHA-256) and is at ``path`` now. The last event of the transfer."""

    transfer_id: bytes
    message_id: bytes
    name: str
    path: Path
    upload: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferFailed:
    """A transfer ended without its file: ``reason`` (decide on it), ``detail`` (words for
    the person). Nothing is left behind: a download's ``.part`` file is deleted, and nothing
    was written at its destination; an upload's offer was never sent. The last event of the
    transfer."""

    transfer_id: bytes
    message_id: bytes
    name: str
    reason: TransferError
    detail: str
    upload: bool


ClientEvent = (
    DerivingKeys
    | Connecting
    | Queued
    | Joined
    | MessageReceived
    | MessageStored
    | MessageNotSent
    | OutboxRestored
    | NotSent
    | ArchiveFailed
    | ForgedMessage
    | MessageLocked
    | MessageHidden
    | UnprovenMember
    | RoleChange
    | ActionNotTaken
    | PasswordChanged
    | IdentityChanged
    | MemberJoined
    | MemberLeft
    | AloneInRoom
    | RateLimited
    | Disconnected
    | Failed
    | TransferProgress
    | TransferFinished
    | TransferFailed
)
