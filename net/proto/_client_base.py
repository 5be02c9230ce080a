"""The client core's states, the frames each state accepts, and the fields its parts share.

The table :data:`CLIENT_RECEIVE` says which frames are accepted in which state; anything else
from the relay is a protocol violation.

:class:`~net.proto.ClientProtocol` (``_client``) is one class made of parts, a module each:
the handshake (``_client_handshake``), receiving and opening chat items (``_client_receive``),
sending them (``_client_send``), owner actions (``_client_owner``) and files
(``_client_files``). Each part is a mixin over :class:`ClientBase`, which declares the fields
of a connection (``ClientProtocol.__init__`` sets them and says what they hold), so that every
part is type-checked against the same ones.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING

from crypto.identity import Identity
from crypto.kdf import RoomKeys
from crypto.spake2 import Spake2
from crypto.transport import BroadcastOpener
from net.proto._authority import Authority
from net.proto._connection import Connection
from net.proto._frames import FrameType
from net.proto._keyring import Keyring
from net.proto._messages import MemberInfo
from net.proto._replay import RecentIds

_T = FrameType


class ClientState(enum.Enum):
    IDLE = "idle"  # created; call initiate()
    AWAIT_RELAY_HELLO = "await relay hello"
    AWAIT_KEYS = "await keys"  # KeysRequired emitted; call provide_keys()
    AWAIT_RELAY_CONFIRM = "await relay confirm"  # our share and confirmation are out
    AWAIT_WELCOME = "await welcome"  # encrypted from here on; JOIN sent
    JOINED = "joined"
    CLOSED = "closed"
    FAILED = "failed"


CLIENT_RECEIVE = {
    # A relay may refuse at once, even before reading our hello (rate limit, room full).
    ClientState.IDLE: frozenset({_T.REFUSED, _T.QUEUED}),
    ClientState.AWAIT_RELAY_HELLO: frozenset({_T.RELAY_HELLO, _T.REFUSED, _T.QUEUED}),
    ClientState.AWAIT_KEYS: frozenset({_T.REFUSED}),
    ClientState.AWAIT_RELAY_CONFIRM: frozenset({_T.RELAY_CONFIRM, _T.REFUSED, _T.AUTH_FAILED}),
    ClientState.AWAIT_WELCOME: frozenset({_T.WELCOME, _T.PING, _T.PONG, _T.NOTICE, _T.GOODBYE}),
    ClientState.JOINED: frozenset(
        {
            _T.BROADCAST,
            _T.SHARE,
            _T.SECRET,
            _T.ACK,
            _T.HISTORY_PAGE,
            _T.FILE_STATE,
            _T.FILE_DATA,
            _T.PING,
            _T.PONG,
            _T.NOTICE,
            _T.GOODBYE,
        }
    ),
}


class ClientBase(Connection[ClientState]):
    """The fields of one client connection, shared by the parts of
    :class:`~net.proto.ClientProtocol`. Declarations only: ``ClientProtocol.__init__`` sets
    each one and says what it holds."""

    username: str
    identity: Identity
    seen_ids: RecentIds
    max_message_bytes: int
    max_file_bytes: int
    relay_key: bytes
    members: dict[str, MemberInfo]
    keyring: Keyring
    authority: Authority | None
    last_position: int
    _by_key: dict[bytes, MemberInfo]
    _asked: set[tuple[bytes, int]]
    _since_asked: int
    _new_passwords: dict[tuple[bytes, int], str]
    _resume_after: int
    _returning: bool
    _newest: int
    _gap_above: int
    _history_start: int
    _next_position: int
    _keys: RoomKeys | None
    _requested_room: bytes
    _expected_relay_key: bytes | None
    _random_bytes: Callable[[int], bytes]
    _random_scalar: Callable[[], int] | None
    _hello_body: bytes
    _open_body: bytes
    _relay_share: bytes
    _room_id: bytes
    _aad: bytes
    _pake: Spake2 | None
    _transcript: bytes
    _broadcast: BroadcastOpener | None
    _confirmation_sent: bool
    _relay_confirmed: bool

    if TYPE_CHECKING:
        # Defined by one part and called by another (ClientProtocol has every part).

        def _send_shares(self, shares: list[tuple[bytes, bytes]]) -> None: ...  # _client_send

        def _on_action(self, encoded: bytes) -> None: ...  # _client_owner
