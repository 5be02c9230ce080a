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
library says), ``trust`` (relay pins, trust on first use), ``storage`` (where this device keeps
its identity and trust records), ``keeper`` (the client's outbox and received messages in the
device's archive, on a thread of its own), ``errors`` (what ``send`` raises), ``cli``
(``main.py chat``) and ``termtext`` (other members' text made safe for a terminal: escaped,
and wrapped so it never passes for another member's line).
"""

from __future__ import annotations

from net.client.client import ChatClient
from net.client.errors import ChatError, ClientStopped
from net.client.events import (
    ActionNotTaken,
    AloneInRoom,
    ArchiveFailed,
    ClientEvent,
    Connecting,
    DerivingKeys,
    Disconnected,
    ErrorKind,
    Failed,
    ForgedMessage,
    IdentityChanged,
    Joined,
    Member,
    MemberJoined,
    MemberLeft,
    MessageLocked,
    MessageNotSent,
    MessageReceived,
    MessageStored,
    NotSent,
    OutboxRestored,
    PasswordChanged,
    Queued,
    RateLimited,
    RoleChange,
    UnprovenMember,
)
from net.client.invite import pin_invite
from net.client.storage import data_dir, load_identity, open_trust
from net.client.trust import Trust, TrustStore, relay_address
from net.proto import (
    DEFAULT_ROOM,
    MAX_MESSAGE_BYTES,
    ActionKind,
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
    username_key,
    validate_username,
)

__all__ = [
    "DEFAULT_ROOM",
    "MAX_MESSAGE_BYTES",
    "ActionKind",
    "ActionNotTaken",
    "AloneInRoom",
    "ArchiveFailed",
    "ChatClient",
    "ChatError",
    "ClientEvent",
    "ClientStopped",
    "Connecting",
    "DerivingKeys",
    "Disconnected",
    "ErrorKind",
    "Failed",
    "ForgedMessage",
    "IdentityChanged",
    "Invite",
    "InviteError",
    "InvitePart",
    "Joined",
    "Member",
    "MemberJoined",
    "MemberLeft",
    "MessageLocked",
    "MessageNotSent",
    "MessageReceived",
    "MessageStored",
    "NotSent",
    "OutboxRestored",
    "PasswordChanged",
    "PendingMessage",
    "Queued",
    "RateLimited",
    "Role",
    "RoleChange",
    "Trust",
    "TrustStore",
    "UnprovenMember",
    "confusable_with",
    "data_dir",
    "format_invite",
    "load_identity",
    "looks_like_invite",
    "may_act",
    "name_skeleton",
    "open_trust",
    "parse_invite",
    "pin_invite",
    "relay_address",
    "username_key",
    "validate_username",
]
