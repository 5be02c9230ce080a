"""The client's state machine: hello → relay proof → keys → SPAKE2 → JOIN → WELCOME → chat.

See :class:`ClientProtocol`. It is made of parts, a module each (``_client_base`` lists them,
with the states and the frames each state accepts); this module holds its constructor, the
table of its frame handlers and the WELCOME that starts the chat.
"""

from __future__ import annotations

from collections.abc import Callable

from Crypto.Random import get_random_bytes

from crypto.genesis import RoomSettings
from crypto.identity import Identity
from crypto.kdf import RoomKeys
from crypto.spake2 import Spake2
from crypto.transport import BroadcastOpener
from net.proto import _events as ev
from net.proto._authority import Authority
from net.proto._client_base import CLIENT_RECEIVE, ClientState
from net.proto._client_files import FilesMixin
from net.proto._client_handshake import HandshakeMixin
from net.proto._client_owner import OwnerMixin
from net.proto._client_receive import ReceiveMixin
from net.proto._client_send import SendMixin
from net.proto._errors import LocalProtocolError, RemoteProtocolError
from net.proto._frames import MAX_CLIENT_FRAME, FrameType
from net.proto._keyring import Keyring
from net.proto._messages import (
    DEFAULT_ROOM,
    ROOM_ID_SIZE,
    MemberInfo,
    Welcome,
    decode_ack,
    decode_code_text,
)
from net.proto._names import validate_username
from net.proto._replay import RecentIds

_T = FrameType


class ClientProtocol(HandshakeMixin, ReceiveMixin, SendMixin, OwnerMixin, FilesMixin):
    """One client connection to a relay, from hello to goodbye. Create one per attempt.

    Call :meth:`initiate` first, then feed bytes. :class:`~net.proto.RelayIdentified` (or
    :class:`~net.proto.RelayKeyMismatch`, which ends the attempt) comes first; on
    :class:`~net.proto.KeysRequired`, derive the room keys off the I/O thread and call
    :meth:`provide_keys`. After :class:`~net.proto.Welcomed`, send with :meth:`send_messages`.
    Give every attempt the same ``seen_ids`` and ``keyring`` so that a reconnect never shows a
    message twice and keeps the sender keys; store ``keyring.state()`` whenever
    ``keyring.changed``, *before* writing out what :meth:`send_messages` queued.

    ``room_id`` is the room to ask for (``DEFAULT_ROOM`` when only host and port are known);
    ``expected_relay_key`` the relay key pinned for it or given by an invite. ``resume_after``
    is the room's resume point kept from the last connection (:attr:`last_position`), and
    ``returning`` says this device was in the room before (so a resume point of 0 means "held
    everything up to its first message", not "a newcomer"): the driver then fetches what one
    WELCOME could not carry (:meth:`request_history`).
    """

    _RECEIVE = CLIENT_RECEIVE
    _CLOSED = ClientState.CLOSED
    _FAILED = ClientState.FAILED
    _ENCRYPTED_STATES = frozenset({ClientState.AWAIT_WELCOME, ClientState.JOINED})

    def __init__(
        self,
        *,
        username: str,
        identity: Identity,
        keys: RoomKeys | None = None,
        room_id: bytes = DEFAULT_ROOM,
        expected_relay_key: bytes | None = None,
        seen_ids: RecentIds | None = None,
        keyring: Keyring | None = None,
        resume_after: int = 0,
        returning: bool = False,
        random_bytes: Callable[[int], bytes] = get_random_bytes,
        random_scalar: Callable[[], int] | None = None,
    ) -> None:
        super().__init__(ClientState.IDLE, send_cap=MAX_CLIENT_FRAME)
        if not 0 <= resume_after < 2**64:
            raise LocalProtocolError("resume_after is a u64 position")
        if len(room_id) != ROOM_ID_SIZE:
            raise LocalProtocolError(f"room_id must be {ROOM_ID_SIZE} bytes")
        self.username = validate_username(username)
        self.identity = identity
        self.seen_ids = seen_ids if seen_ids is not None else RecentIds()
        #: Largest UTF-8 text send_messages() accepts; set by WELCOME.
        self.max_message_bytes = 0
        #: The room's file limit (largest stored size of a file; 0: no files); set by WELCOME.
        self.max_file_bytes = 0
        #: The relay's long-term key once RELAY_HELLO proved it (pin it after joining).
        self.relay_key = b""
        #: Members by name, with the keys the relay lists (own entry included), whose
        #: membership tags proved the room password; the relay's others are not members.
        self.members: dict[str, MemberInfo] = {}
        self.keyring = keyring if keyring is not None else Keyring(identity)
        self._by_key: dict[bytes, MemberInfo] = {}
        self._asked: set[tuple[bytes, int]] = set()  # keys asked for on this connection
        self._since_asked = 0  # broadcasts received since our last WANT
        #: The room's owner, admins and actions, checked (None: a room without an owner).
        self.authority: Authority | None = None
        # New passwords handed to us, by (distributor, action seq), until the action comes; and
        # the one we set ourselves.
        self._new_passwords: dict[tuple[bytes, int], str] = {}
        #: Where to resume next time: the newest stored position such that everything from
        #: ``resume_after`` up to it has reached this connection (or is gone from the relay).
        #: While a gap below the WELCOME's history is open it stays at ``resume_after``, so a
        #: connection lost before the pages came asks for the same gap again; it catches up
        #: with the newest position when a page reaches the gap's bottom or comes back empty.
        self.last_position = resume_after
        self._resume_after = resume_after
        # Held everything up to resume_after, even if that is 0 (in the room before its first
        # message): fill a gap below WELCOME's history. A newcomer does not.
        self._returning = returning or resume_after > 0
        self._newest = resume_after  # the newest position received
        self._gap_above = 0  # while a gap is open: the lowest position received above it
        self._history_start = 0  # the first position WELCOME's history held
        self._next_position = 0  # the position the next live chat item takes (from WELCOME)
        self._keys = keys
        self._requested_room = bytes(room_id)
        self._expected_relay_key = expected_relay_key
        self._random_bytes = random_bytes
        self._random_scalar = random_scalar
        self._hello_body = b""
        self._open_body = b""
        self._relay_share = b""
        self._room_id = b""
        self._aad = b""
        self._pake: Spake2 | None = None
        self._transcript = b""
        self._broadcast: BroadcastOpener | None = None
        self._confirmation_sent = False
        self._relay_confirmed = False
        self._handlers = {
            _T.REFUSED: self._on_refused,
            _T.QUEUED: self._on_queued,
            _T.RELAY_HELLO: self._on_relay_hello,
            _T.RELAY_CONFIRM: self._on_relay_confirm,
            _T.AUTH_FAILED: self._on_auth_failed,
            _T.WELCOME: self._on_welcome,
            _T.BROADCAST: self._on_broadcast,
            _T.SHARE: self._on_share,
            _T.SECRET: self._on_secret,
            _T.ACK: self._on_ack,
            _T.HISTORY_PAGE: self._on_history_page,
            _T.FILE_STATE: self._on_file_state,
            _T.FILE_DATA: self._on_file_data,
            _T.NOTICE: self._on_notice,
            _T.PING: self._on_ping,
            _T.PONG: self._on_pong,
            _T.GOODBYE: self._on_goodbye,
        }

    # -- encrypted phase -------------------------------------------------------------------

    def _on_welcome(self, payload: bytes) -> None:
        welcome, history_items = Welcome.decode(payload)
        if welcome.your_name != self.username:
            raise RemoteProtocolError("relay welcomed us under another name")
        own = next((m for m in welcome.members if m.name == self.username), None)
        if (
            own is None
            or own.signing_key != self.identity.signing_public
            or own.dh_key != self.identity.dh_public
            or not self._proven(own)
        ):
            raise RemoteProtocolError("relay lists us without our identity")
        self.authority = self._check_authority(welcome.genesis, welcome.actions)
        # The room's setting, signed by its owner; a room without an owner shares history.
        settings = None if self.authority is None else self.authority.genesis.settings
        history_for_newcomers = settings is None or RoomSettings.HISTORY_FOR_NEWCOMERS in settings
        self.keyring.history_for_newcomers = history_for_newcomers
        proven = tuple(m for m in welcome.members if self._proven(m))
        self.members = {member.name: member for member in proven}
        self._by_key = {member.signing_key: member for member in proven}
        self.keyring.members_now(self._by_key)
        self._broadcast = BroadcastOpener(welcome.broadcast_key, next_seq=welcome.next_seq)
        self.max_message_bytes = welcome.max_message_bytes
        self.max_file_bytes = welcome.max_file_bytes
        start = welcome.next_position - len(history_items)
        self._history_start = start
        self._next_position = welcome.next_position
        self._newest = welcome.next_position - 1
        if self._returning and start > self._resume_after + 1 <= self._newest:
            self._gap_above = start  # missed more than one WELCOME holds: pages will come
        else:
            # Up to date, a newcomer, or a relay that started over (its newest position is
            # below ours: our positions mean nothing there now): resume from its newest.
            self.last_position = self._newest
        history = tuple(
            event
            for offset, item in enumerate(history_items)
            if (event := self._open_chat(item, from_history=True, position=start + offset))
            is not None
        )
        self._state = ClientState.JOINED
        self._emit(
            ev.Welcomed(
                your_name=welcome.your_name,
                members=proven,
                history=history,
                max_message_bytes=welcome.max_message_bytes,
                history_for_newcomers=None if settings is None else history_for_newcomers,
                history_start=start,
                next_position=welcome.next_position,
                max_file_bytes=welcome.max_file_bytes,
            )
        )
        for member in welcome.members:
            if member.signing_key not in self._by_key:
                self._emit(ev.MemberUnproven(member=member))
        self._emit_roles(None)
        self._ask_for_keys()

    def _on_ack(self, payload: bytes) -> None:
        self._emit(ev.MessagesStored(message_ids=decode_ack(payload)))

    def _on_notice(self, payload: bytes) -> None:
        code, text = decode_code_text(payload)
        self._emit(ev.NoticeReceived(code=code, text=text))
