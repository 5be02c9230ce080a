"""The client library: one member's connection to one room, on a worker thread.

Public face (what the desktop app, the terminal client and tests use)::

    from net.client import ChatClient, Joined, MessageReceived, Failed, ErrorKind

    client = ChatClient(host=..., port=7777, username="alice", password=..., on_event=put)
    client.start()
    message = client.send("hello")      # PendingMessage: id and timestamp, as everyone sees them
    client.close()                      # what the relay never confirmed comes back as NotSent

Events reach ``on_event`` on the worker thread (a GUI only ``queue.put``s them). Behind this
face: ``client`` (:class:`ChatClient`), ``session`` (one connection attempt driving the
protocol core), ``events`` (what the application is told), ``texts`` (every sentence the
library says), ``content`` (what replies, file offers and private boxes say, both ways),
``trust`` (relay pins, trust on first use), ``storage`` (where this device keeps
its identity and trust records), ``keeper`` (the client's outbox and received messages in the
device's archive, on a thread of its own), ``errors`` (what ``send`` raises), ``transfers``
(files sent and saved: ``send_file``, ``download``), ``filenames`` (received names made safe to
save), ``cli`` (``main.py chat``, with ``cli_files`` for its file commands) and ``termtext``
(other members' text made safe for a terminal: escaped, and wrapped so it never passes for
another member's line). The device's local store is here too: ``archive`` (history and outbox,
one SQLite file), ``keychain`` (the OS keyring: loaded only when ``Keychain`` is first used)
and ``export`` (a room to text, HTML or JSON).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from net.client.archive import (
    MAX_LIMIT,
    Archive,
    ArchiveError,
    ArchiveKeyError,
    OutgoingMessage,
    StoredMessage,
)
from net.client.client import ChatClient
from net.client.content import NOT_FOR_US, read_written
from net.client.errors import ChatError, ClientStopped
from net.client.events import (
    ActionNotTaken,
    AloneInRoom,
    ArchiveFailed,
    ClientEvent,
    Connecting,
    Content,
    DerivingKeys,
    Disconnected,
    ErrorKind,
    Failed,
    FileContent,
    ForgedMessage,
    IdentityChanged,
    Joined,
    Member,
    MemberJoined,
    MemberLeft,
    MessageHidden,
    MessageLocked,
    MessageNotSent,
    MessageReceived,
    MessageStored,
    NotSent,
    OutboxRestored,
    PasswordChanged,
    Queued,
    RateLimited,
    ReplyContent,
    ReplyTo,
    RoleChange,
    SentContent,
    TextContent,
    TransferError,
    TransferFailed,
    TransferFinished,
    TransferProgress,
    UnknownContent,
    UnprovenMember,
)
from net.client.export import ExportFormat, export
from net.client.filenames import (
    describe_size,
    is_executable,
    media_type_for,
    safe_name,
    unique_path,
)
from net.client.invite import pin_invite
from net.client.storage import data_dir, load_identity, open_trust
from net.client.trust import Trust, TrustStore, relay_address
from net.proto import (
    DEFAULT_ROOM,
    MAX_MESSAGE_BYTES,
    ActionKind,
    FileOffer,
    Invite,
    InviteError,
    InvitePart,
    PendingMessage,
    Role,
    confusable_with,
    format_invite,
    looks_like_invite,
    may_act,
    name_skeleton,
    parse_invite,
    sealed_size,
    username_key,
    validate_username,
)

if TYPE_CHECKING:
    from net.client.keychain import Keychain, KeychainUnavailable


def __getattr__(name: str) -> object:
    # The keychain loads the keyring library (and its backends): only for those who use it,
    # not for every `import net.client` (the terminal client never does).
    if name in ("Keychain", "KeychainUnavailable"):
        from net.client import keychain

        return getattr(keychain, name)
    raise AttributeError(f"module 'net.client' has no attribute {name!r}")


__all__ = [
    "DEFAULT_ROOM",
    "MAX_LIMIT",
    "MAX_MESSAGE_BYTES",
    "NOT_FOR_US",
    "ActionKind",
    "ActionNotTaken",
    "AloneInRoom",
    "Archive",
    "ArchiveError",
    "ArchiveFailed",
    "ArchiveKeyError",
    "ChatClient",
    "ChatError",
    "ClientEvent",
    "ClientStopped",
    "Connecting",
    "Content",
    "DerivingKeys",
    "Disconnected",
    "ErrorKind",
    "ExportFormat",
    "Failed",
    "FileContent",
    "FileOffer",
    "ForgedMessage",
    "IdentityChanged",
    "Invite",
    "InviteError",
    "InvitePart",
    "Joined",
    "Keychain",
    "KeychainUnavailable",
    "Member",
    "MemberJoined",
    "MemberLeft",
    "MessageHidden",
    "MessageLocked",
    "MessageNotSent",
    "MessageReceived",
    "MessageStored",
    "NotSent",
    "OutboxRestored",
    "OutgoingMessage",
    "PasswordChanged",
    "PendingMessage",
    "Queued",
    "RateLimited",
    "ReplyContent",
    "ReplyTo",
    "Role",
    "RoleChange",
    "SentContent",
    "StoredMessage",
    "TextContent",
    "TransferError",
    "TransferFailed",
    "TransferFinished",
    "TransferProgress",
    "Trust",
    "TrustStore",
    "UnknownContent",
    "UnprovenMember",
    "confusable_with",
    "data_dir",
    "describe_size",
    "export",
    "format_invite",
    "is_executable",
    "load_identity",
    "looks_like_invite",
    "may_act",
    "media_type_for",
    "name_skeleton",
    "open_trust",
    "parse_invite",
    "pin_invite",
    "read_written",
    "relay_address",
    "safe_name",
    "sealed_size",
    "unique_path",
    "username_key",
    "validate_username",
]
