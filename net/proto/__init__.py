"""The sans-I/O protocol core of SocketChat: bytes in, events and bytes out.

No sockets, threads or clocks live here (``tests/test_layers.py`` keeps it so). The relay
(:mod:`net.relay`, asyncio) and the client (:mod:`net.client`, one worker thread) are thin
drivers over it. A driver creates a :class:`ClientProtocol` or :class:`RelayProtocol` per
connection, feeds received bytes in (``receive_data`` / ``receive_eof``), writes
``data_to_send()`` out, acts on ``events_received()`` and closes when ``close_expected()``.

The modules behind this face are private (as in h11); import from here::

    from net import proto

    core = proto.ClientProtocol(username="alice", keys=keys)
    core.initiate()
    for event in core.events_received():
        match event:
            case proto.Welcomed(): ...

What lives where:

* ``_frames`` — framing, caps, frame types, reason codes; ``_codec`` — field readers/writers;
* ``_messages`` — payload encodings; ``_events`` — what the core reports; ``_content`` —
  the bodies of replies, file offers and private messages (inside the envelope);
* ``_connection`` — the shared skeleton and error policy; ``_client`` / ``_relay`` — the two
  state machines; ``_room`` — one room's members, history and broadcasts on the relay;
* the client's parts: ``_client_base`` (states, accepted frames, shared fields),
  ``_client_handshake``, ``_client_receive`` (opening chat items, sender keys, held messages,
  history pages), ``_client_send``, ``_client_owner`` (room actions, password changes) and
  ``_client_files``;
* ``_files`` — the file frames, their codes and limits, and the store interface;
  ``_roomfiles`` — the rules of a room's files on the relay (limits, order, eviction);
* ``_keyring`` — one device's sender keys for a room, and what it accepted (replays);
* ``_authority`` — the room's owner, admins and their signed actions;
* ``_names`` (with its data in ``_names_data``), ``_replay``, ``_ratelimit``, ``_outbox`` —
  username rules and look-alike names, replay protection, rate limits and the client's
  outbox, all with the clock passed in.
"""

from __future__ import annotations

from net.proto._authority import Action, ActionKind, ActionRefused, Authority, Role, may_act
from net.proto._client import ClientProtocol
from net.proto._client_base import ClientState
from net.proto._content import (
    CHUNK_SIZE,
    MAX_EXCERPT_BYTES,
    SEALED_CHUNK_OVERHEAD,
    ContentError,
    ContentType,
    FileOffer,
    Reply,
    chunk_count,
    decode_file_offer,
    decode_reply,
    encode_file_offer,
    encode_reply,
    excerpt,
    sealed_size,
)
from net.proto._errors import DecodeError, LocalProtocolError, ProtocolError, RemoteProtocolError
from net.proto._events import (
    ActionSubmitted,
    Authenticated,
    AuthenticationFailed,
    AuthFailure,
    ChatForged,
    ChatLocked,
    ChatOpened,
    ConnectionClosed,
    Event,
    FileChunkSubmitted,
    FileDataReceived,
    FileDropRequested,
    FileOpenRequested,
    FileRequested,
    FileStateReceived,
    Forgery,
    GoodbyeReceived,
    HandshakeComplete,
    HistoryPageReceived,
    HistoryRequested,
    JoinRequested,
    KeysRequired,
    KeysWanted,
    MemberArrived,
    MemberDeparted,
    MemberUnproven,
    MessagesStored,
    MessagesSubmitted,
    NoticeReceived,
    PasswordChanged,
    PingReceived,
    PongReceived,
    ProtocolViolation,
    Queued,
    Refused,
    RelayIdentified,
    RelayKeyMismatch,
    RolesChanged,
    RoomRequested,
    SecretsSubmitted,
    SharesSubmitted,
    VerifierSubmitted,
    Welcomed,
)
from net.proto._files import (
    MAX_FILES,
    MAX_GET_CHUNKS,
    MAX_PUTS_AHEAD,
    MAX_SEALED_CHUNK,
    MAX_UPLOADS,
    MIN_SEALED_CHUNK,
    FileCode,
    FileIndex,
    FileState,
    FileStore,
    MemoryFiles,
    StoredFile,
    file_code,
)
from net.proto._frames import (
    MAX_CLIENT_FRAME,
    MAX_HANDSHAKE_FRAME,
    MAX_MESSAGE_BYTES,
    MAX_RELAY_FRAME,
    PROTOCOL_VERSION,
    FrameType,
    Reason,
)
from net.proto._invite import (
    Invite,
    InviteError,
    InvitePart,
    format_invite,
    looks_like_invite,
    parse_invite,
)
from net.proto._keyring import Keyring
from net.proto._messages import (
    DEFAULT_ROOM,
    GENESIS_SIZE,
    MESSAGE_ID_SIZE,
    ROOM_ID_SIZE,
    ActionItem,
    ChatItem,
    JoinedItem,
    LeftItem,
    MemberInfo,
    PendingMessage,
    WantedItem,
    WelcomeArgs,
    encode_item,
    encode_wanted_item,
)
from net.proto._names import (
    confusable_with,
    name_skeleton,
    username_key,
    validate_username,
)
from net.proto._outbox import Outbox, OutboxFull, reconnect_delay
from net.proto._ratelimit import LoginLimiter, ShareBudget, TokenBucket, source_key
from net.proto._relay import RelayCredentials, RelayProtocol, RelayState, encode_broadcast
from net.proto._replay import RecentIds
from net.proto._room import JoinRejected, Room
from net.proto._roomfiles import DownloadQueue, FileRuleError, RoomFiles

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_ROOM",
    "GENESIS_SIZE",
    "MAX_CLIENT_FRAME",
    "MAX_EXCERPT_BYTES",
    "MAX_FILES",
    "MAX_GET_CHUNKS",
    "MAX_HANDSHAKE_FRAME",
    "MAX_MESSAGE_BYTES",
    "MAX_PUTS_AHEAD",
    "MAX_RELAY_FRAME",
    "MAX_SEALED_CHUNK",
    "MAX_UPLOADS",
    "MESSAGE_ID_SIZE",
    "MIN_SEALED_CHUNK",
    "PROTOCOL_VERSION",
    "ROOM_ID_SIZE",
    "SEALED_CHUNK_OVERHEAD",
    "Action",
    "ActionItem",
    "ActionKind",
    "ActionRefused",
    "ActionSubmitted",
    "AuthFailure",
    "Authenticated",
    "AuthenticationFailed",
    "Authority",
    "ChatForged",
    "ChatItem",
    "ChatLocked",
    "ChatOpened",
    "ClientProtocol",
    "ClientState",
    "ConnectionClosed",
    "ContentError",
    "ContentType",
    "DecodeError",
    "DownloadQueue",
    "Event",
    "FileChunkSubmitted",
    "FileCode",
    "FileDataReceived",
    "FileDropRequested",
    "FileIndex",
    "FileOffer",
    "FileOpenRequested",
    "FileRequested",
    "FileRuleError",
    "FileState",
    "FileStateReceived",
    "FileStore",
    "Forgery",
    "FrameType",
    "GoodbyeReceived",
    "HandshakeComplete",
    "HistoryPageReceived",
    "HistoryRequested",
    "Invite",
    "InviteError",
    "InvitePart",
    "JoinRejected",
    "JoinRequested",
    "JoinedItem",
    "Keyring",
    "KeysRequired",
    "KeysWanted",
    "LeftItem",
    "LocalProtocolError",
    "LoginLimiter",
    "MemberArrived",
    "MemberDeparted",
    "MemberInfo",
    "MemberUnproven",
    "MemoryFiles",
    "MessagesStored",
    "MessagesSubmitted",
    "NoticeReceived",
    "Outbox",
    "OutboxFull",
    "PasswordChanged",
    "PendingMessage",
    "PingReceived",
    "PongReceived",
    "ProtocolError",
    "ProtocolViolation",
    "Queued",
    "Reason",
    "RecentIds",
    "Refused",
    "RelayCredentials",
    "RelayIdentified",
    "RelayKeyMismatch",
    "RelayProtocol",
    "RelayState",
    "RemoteProtocolError",
    "Reply",
    "Role",
    "RolesChanged",
    "Room",
    "RoomFiles",
    "RoomRequested",
    "SecretsSubmitted",
    "ShareBudget",
    "SharesSubmitted",
    "StoredFile",
    "TokenBucket",
    "VerifierSubmitted",
    "WantedItem",
    "WelcomeArgs",
    "Welcomed",
    "chunk_count",
    "confusable_with",
    "decode_file_offer",
    "decode_reply",
    "encode_broadcast",
    "encode_file_offer",
    "encode_item",
    "encode_reply",
    "encode_wanted_item",
    "excerpt",
    "file_code",
    "format_invite",
    "looks_like_invite",
    "may_act",
    "name_skeleton",
    "parse_invite",
    "reconnect_delay",
    "sealed_size",
    "source_key",
    "username_key",
    "validate_username",
]
