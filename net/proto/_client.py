"""The client's state machine: hello → relay proof → keys → SPAKE2 → JOIN → WELCOME → chat.

See :class:`ClientProtocol`. The table :data:`CLIENT_RECEIVE` says which frames are accepted in
which state; anything else from the relay is a protocol violation.

Guessing stays online and bounded: the relay proves its long-term key (RELAY_HELLO's signature)
before the client sends anything that depends on the password, a pinned key that differs stops
the connection there, and :attr:`ClientProtocol.password_at_stake` tells the driver when a
connection that ends now may have given a fake relay one guess — so it must not retry alone.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable

from Crypto.Random import get_random_bytes

from crypto import epoch as sender_keys
from crypto import password_share
from crypto.aead import XNONCE_SIZE
from crypto.envelope import MAX_OVERHEAD, envelope_header, open_message, seal_message
from crypto.errors import AuthenticationError, SignatureError
from crypto.genesis import Genesis, RoomSettings
from crypto.identity import Identity, verify
from crypto.kdf import RoomKeys
from crypto.spake2 import Role, Spake2, Spake2Secret, identities
from crypto.transport import BroadcastOpener, FrameOpener, FrameSealer
from net.proto import _events as ev
from net.proto._authority import Action, ActionKind, ActionRefused, Authority
from net.proto._connection import Connection
from net.proto._errors import LocalProtocolError, RemoteProtocolError
from net.proto._files import (
    decode_file_chunk,
    decode_file_state,
    encode_file_chunk,
    encode_file_drop,
    encode_file_get,
    encode_file_open,
)
from net.proto._frames import MAX_CLIENT_FRAME, MAX_RELAY_FRAME, PROTOCOL_VERSION, FrameType
from net.proto._keyring import Keyring, Recipient
from net.proto._messages import (
    CONFIRMATION_SIZE,
    DEFAULT_ROOM,
    MESSAGE_ID_SIZE,
    NONCE_SIZE,
    ROOM_ID_SIZE,
    ActionItem,
    ChatItem,
    ClientHello,
    ClientOpen,
    ClientPake,
    Join,
    JoinedItem,
    MemberInfo,
    PendingMessage,
    Queued,
    Refusal,
    RelayHello,
    WantedItem,
    Welcome,
    decode_ack,
    decode_code_text,
    decode_fixed,
    decode_history_page,
    decode_items,
    decode_secret,
    decode_share,
    encode_chat,
    encode_history_request,
    encode_secrets,
    encode_shares,
    encode_verifier,
    encode_wanted,
)
from net.proto._names import validate_username
from net.proto._replay import RecentIds
from net.proto._transcript import (
    JOIN_CONTEXT,
    RELAY_HELLO_CONTEXT,
    join_signed,
    pake_aad,
    relay_hello_signed,
    session_transport_keys,
    transcript_hash,
)

_T = FrameType
# What a CHAT frame body spends besides the envelopes: type byte, transport tag, u16 count;
# and each envelope its u32 length.
_CHAT_FRAME_OVERHEAD = 1 + 16 + 2
_PER_MESSAGE = 4
# Broadcasts after a WANT before arrivals make us ask everyone again (the owner of a key we
# wait for coming back makes us ask at once).
_ASK_AGAIN_AFTER = 20
# Shares per SHARES frame: each is a recipient key and a share (32 + 180 bytes).
_SHARES_PER_FRAME = (MAX_CLIENT_FRAME - 1 - 16 - 2) // (32 + sender_keys.SHARE_SIZE)


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


class ClientProtocol(Connection[ClientState]):
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

    @property
    def room_id(self) -> bytes:
        """The room the relay announced (``b""`` before RELAY_HELLO)."""
        return self._room_id

    @property
    def password_at_stake(self) -> bool:
        """True from the moment our key confirmation went out until the relay's verified.

        A connection that ends in this window (cut, refused, AUTH_FAILED) may have told
        whoever answered whether one password guess was right: never reconnect by yourself.
        """
        return self._confirmation_sent and not self._relay_confirmed

    @property
    def confirmation_sent(self) -> bool:
        """True once our key confirmation went out on this connection."""
        return self._confirmation_sent

    # -- local API -------------------------------------------------------------------------

    def initiate(self) -> None:
        """Queue CLIENT_HELLO and CLIENT_OPEN (one write: the room id sits at a fixed offset
        of the stream, for load balancers). Call once right after connecting, then flush."""
        self._require(ClientState.IDLE)
        hello = ClientHello(versions=(PROTOCOL_VERSION,)).encode()
        opening = ClientOpen(
            room_id=self._requested_room, nonce=self._random_bytes(NONCE_SIZE)
        ).encode()
        self._hello_body = bytes((_T.CLIENT_HELLO,)) + hello
        self._open_body = bytes((_T.CLIENT_OPEN,)) + opening
        self._send_plain(_T.CLIENT_HELLO, hello)
        self._send_plain(_T.CLIENT_OPEN, opening)
        self._state = ClientState.AWAIT_RELAY_HELLO

    def provide_keys(self, keys: RoomKeys) -> None:
        """Hand over the room keys after KeysRequired (or early); the handshake continues.

        Raises :class:`LocalProtocolError` if they are for another room than the relay
        announced.
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
        """Sign and seal each message for the room and queue them in one CHAT frame (several
        only if they cannot fit one). Only after Welcomed. Raises :class:`LocalProtocolError`,
        sending nothing, if a text exceeds :meth:`message_limit`, an id is not 16 bytes, or a
        text or content type has no UTF-8 form (lone surrogates) or does not fit its field."""
        self._require(ClientState.JOINED)
        keys = self._keys
        if keys is None:  # unreachable: JOINED implies a finished PAKE with keys
            raise LocalProtocolError("no room keys")
        pending = [m if isinstance(m, PendingMessage) else PendingMessage(*m) for m in messages]
        if not pending:
            return
        checked = []
        for message in pending:  # validate everything before sealing anything
            try:
                data = message.wire_body()
                type_size = len(message.content_type.encode("utf-8"))
            except UnicodeEncodeError:
                raise LocalProtocolError("text or content type is not valid Unicode") from None
            if type_size > 255:
                raise LocalProtocolError("content type longer than 255 bytes")
            limit = self.message_limit(message.content_type)
            if len(data) > limit:
                raise LocalProtocolError(
                    f"The message is {len(data)} bytes long; this room accepts at most {limit}."
                )
            if len(message.message_id) != MESSAGE_ID_SIZE:
                raise LocalProtocolError(f"message_id must be {MESSAGE_ID_SIZE} bytes")
            if not 0 <= message.timestamp_ms < 2**64:
                raise LocalProtocolError("timestamp out of range")
            checked.append((message, data))
        epoch, message_key, counter, shares = self.keyring.prepare_send(
            room_id=self._room_id,
            member_key=keys.member,
            recipients=lambda: [Recipient(m.signing_key, m.dh_key) for m in self.members.values()],
            count=len(checked),
            now_ms=max(message.timestamp_ms for message, _ in checked),
        )
        self._send_shares(shares)
        batch: list[bytes] = []
        size = _CHAT_FRAME_OVERHEAD
        for message, data in checked:
            envelope = seal_message(
                message_key,
                identity=self.identity,
                room_id=self._room_id,
                sender=self.username,
                message_id=bytes(message.message_id),
                epoch=epoch,
                counter=counter,
                timestamp_ms=message.timestamp_ms,
                content_type=message.content_type,
                body=data,
                nonce=self._random_bytes(XNONCE_SIZE),
            )
            counter += 1
            if batch and size + _PER_MESSAGE + len(envelope) > MAX_CLIENT_FRAME:
                self._send_sealed(_T.CHAT, encode_chat(batch))
                batch, size = [], _CHAT_FRAME_OVERHEAD
            batch.append(envelope)
            size += _PER_MESSAGE + len(envelope)
        if batch:
            self._send_sealed(_T.CHAT, encode_chat(batch))
        # Our messages count among the recent ones from the moment they are sealed, not when
        # they come back: one whose echo is lost (a drop) may be in the room's history under
        # this key, and we must still be able to hand the key to a member who asks for it.
        self.keyring.seen(self.identity.signing_public, epoch, count=len(checked))

    def _send_shares(self, shares: list[tuple[bytes, bytes]]) -> None:
        for start in range(0, len(shares), _SHARES_PER_FRAME):
            self._send_sealed(_T.SHARES, encode_shares(shares[start : start + _SHARES_PER_FRAME]))

    def message_limit(self, content_type: str = "text/plain") -> int:
        """The largest message (UTF-8 bytes) that may be sent now: the room's limit, or what
        fits one CHAT frame if that is smaller."""
        type_bytes = len(content_type.encode("utf-8"))
        fits = MAX_CLIENT_FRAME - _CHAT_FRAME_OVERHEAD - _PER_MESSAGE - MAX_OVERHEAD
        return min(self.max_message_bytes, fits + 255 - type_bytes)

    # -- handshake -------------------------------------------------------------------------

    def _on_refused(self, payload: bytes) -> None:
        refusal = Refusal.decode(payload)
        self._emit(
            ev.Refused(code=refusal.code, text=refusal.text, retry_after_ms=refusal.retry_after_ms)
        )
        self._state = ClientState.CLOSED

    def _on_queued(self, payload: bytes) -> None:
        queued = Queued.decode(payload)
        self._emit(ev.Queued(position=queued.position, wait_ms=queued.wait_ms))

    def _on_relay_hello(self, payload: bytes) -> None:
        hello = RelayHello.decode(payload)
        if hello.version != PROTOCOL_VERSION:
            raise RemoteProtocolError(
                f"relay chose version {hello.version}, which we did not offer"
            )
        unsigned = bytes((_T.RELAY_HELLO,)) + hello.unsigned()
        try:
            verify(
                hello.relay_key,
                relay_hello_signed(self._hello_body, self._open_body, unsigned),
                hello.signature,
                context=RELAY_HELLO_CONTEXT,
            )
        except AuthenticationError:
            raise RemoteProtocolError(
                "the relay's signature over the handshake does not verify"
            ) from None
        expected = self._expected_relay_key
        if expected is not None and hello.relay_key != expected:
            # Stop here: nothing that depends on the password has left this machine.
            self._emit(
                ev.RelayKeyMismatch(
                    room_id=hello.room_id, expected=expected, presented=hello.relay_key
                )
            )
            self._state = ClientState.CLOSED
            return
        if self._requested_room != DEFAULT_ROOM and hello.room_id != self._requested_room:
            # Checked after the key: a relay that is not the one we pinned is reported as such.
            raise RemoteProtocolError("relay answered for another room than we asked for")
        self.relay_key = hello.relay_key
        self._room_id = hello.room_id
        self._relay_share = hello.share
        self._aad = pake_aad(self._hello_body, self._open_body, bytes((_T.RELAY_HELLO,)) + payload)
        self._emit(ev.RelayIdentified(room_id=hello.room_id, relay_key=hello.relay_key))
        if self._keys is not None and self._keys.room_id == hello.room_id:
            self._start_pake(self._keys)
        else:
            # A different room id means another room (or a recreated one): a new scrypt salt.
            self._state = ClientState.AWAIT_KEYS
            self._emit(ev.KeysRequired(room_id=hello.room_id))

    def _start_pake(self, keys: RoomKeys) -> None:
        identity_a, identity_b = identities(self._room_id)
        pake = Spake2(
            Spake2Secret.from_access_key(keys.access),
            role=Role.A,
            identity_a=identity_a,
            identity_b=identity_b,
            aad=self._aad,
            random_scalar=self._random_scalar,
        )
        share = pake.start()
        try:
            confirmation = pake.finish(self._relay_share)
        except AuthenticationError:
            # Nothing was sent: an invalid share costs us no guess.
            self._auth_failed(ev.AuthFailure.INVALID_SHARE)
            return
        self._pake = pake
        self._send_plain(
            _T.CLIENT_PAKE, ClientPake(share=share, confirmation=confirmation).encode()
        )
        self._confirmation_sent = True
        self._state = ClientState.AWAIT_RELAY_CONFIRM

    def _on_relay_confirm(self, payload: bytes) -> None:
        confirmation = decode_fixed(payload, CONFIRMATION_SIZE, "relay confirmation")
        pake = self._pake
        if pake is None:  # unreachable while the state table is right
            raise RemoteProtocolError("confirmation without a handshake in progress")
        try:
            session_key = pake.verify(confirmation)
        except AuthenticationError:
            self._auth_failed(ev.AuthFailure.RELAY_UNPROVEN)
            return
        self._relay_confirmed = True
        to_relay, to_client = session_transport_keys(pake, session_key)
        self._start_encryption(FrameSealer(to_relay), FrameOpener(to_client), MAX_RELAY_FRAME)
        self._transcript = transcript_hash(pake)
        self._pake = None
        self._state = ClientState.AWAIT_WELCOME
        self._emit(ev.HandshakeComplete())
        self._send_sealed(_T.JOIN, self._join_payload())

    def _join_payload(self) -> bytes:
        signing_key, dh_key = self.identity.signing_public, self.identity.dh_public
        proof = self.identity.sign(
            join_signed(
                transcript=self._transcript,
                room_id=self._room_id,
                name=self.username,
                signing_key=signing_key,
                dh_key=dh_key,
            ),
            context=JOIN_CONTEXT,
        )
        keys = self._keys
        if keys is None:  # unreachable: the PAKE that got us here needed the keys
            raise LocalProtocolError("no room keys")
        tag = sender_keys.membership_tag(
            keys.member, room_id=self._room_id, signing_key=signing_key, dh_key=dh_key
        )
        return Join(
            name=self.username,
            signing_key=signing_key,
            dh_key=dh_key,
            proof=proof,
            tag=tag,
            resume_after=self._resume_after,
        ).encode()

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

    def _check_authority(self, genesis: bytes, actions: tuple[bytes, ...]) -> Authority | None:
        if not genesis:
            if actions:
                raise RemoteProtocolError("room actions without an owner")
            return None
        try:
            parsed = Genesis.decode(genesis)
            parsed.check(self._room_id)
        except (ValueError, AuthenticationError):
            raise RemoteProtocolError("the room's genesis does not match its id") from None
        authority = Authority(parsed)
        try:
            authority.apply_all(Action.decode(action) for action in actions)
        except ActionRefused as exc:
            raise RemoteProtocolError(f"the relay's room actions break the rules: {exc}") from None
        return authority

    def _emit_roles(self, action: Action | None) -> None:
        authority = self.authority
        if authority is None:
            self._emit(ev.RolesChanged(owner=None, admins=frozenset(), action=None))
            return
        self._emit(
            ev.RolesChanged(
                owner=authority.owner, admins=frozenset(authority.admins), action=action
            )
        )

    def take_action(self, kind: ActionKind, target: bytes = bytes(32), detail: str = "") -> None:
        """Sign our next room action and send it (ACT). Only after Welcomed. It takes effect
        when the relay passes it back (RolesChanged with it); NOTICE(ACTION_REFUSED) if another
        action came first or it breaks the rules. :class:`ActionRefused` (nothing sent) if we
        may not take it, or the room has no owner."""
        self._require(ClientState.JOINED)
        if self.authority is None:
            raise ActionRefused("this room has no owner, so nobody can take actions in it")
        action = self.authority.sign(self.identity, kind, target, detail)
        self._send_sealed(_T.ACT, action.encode())

    def _proven(self, member: MemberInfo) -> bool:
        """True if ``member``'s tag proves the room password (a relay cannot make one)."""
        keys = self._keys
        if keys is None:  # unreachable: JOINED implies a finished PAKE with keys
            return False
        try:
            sender_keys.check_membership(
                keys.member,
                member.tag,
                room_id=self._room_id,
                signing_key=member.signing_key,
                dh_key=member.dh_key,
            )
        except (AuthenticationError, ValueError):
            return False
        return True

    def _on_broadcast(self, sealed: bytes) -> None:
        if self._broadcast is None:  # unreachable: BROADCAST is accepted only when JOINED
            raise RemoteProtocolError("BROADCAST before WELCOME")
        try:
            payload = self._broadcast.open(_T.BROADCAST, sealed)
        except AuthenticationError:
            raise RemoteProtocolError("BROADCAST failed authentication or was replayed") from None
        ask = again = False
        self._since_asked += 1
        for item in decode_items(payload):
            if isinstance(item, ChatItem):
                position = self._next_position
                self._next_position += 1
                self._newest = position
                if not self._gap_above:
                    self.last_position = position
                event = self._open_chat(item, from_history=False, position=position)
                if event is not None:
                    ask = ask or isinstance(event, ev.ChatLocked)
                    self._emit(event)
            # Presence items are flushed together after a short wait, so one that was queued
            # before our WELCOME may repeat what its member list told us: our own JOINED, a
            # JOINED of a member listed as it is, the LEFT of one never listed. No news.
            elif isinstance(item, JoinedItem):
                member = item.member
                if self.members.get(member.name) == member:
                    continue
                if not self._proven(member):
                    self._emit(ev.MemberUnproven(member=member))
                    continue
                self._drop(member.name)
                self.members[member.name] = member
                self._by_key[member.signing_key] = member
                self.keyring.member_joined(member.signing_key)
                # Ask everyone again when the owner of a key we wait for is back, or (anyone
                # else who arrived may have seen those messages) now and then: not once per
                # presence broadcast, which in a join storm would run into the rate limit.
                owners = {owner for owner, _ in self.keyring.waiting_for()}
                if member.signing_key in owners or self._since_asked >= _ASK_AGAIN_AFTER:
                    again = True
                self._emit(ev.MemberArrived(member=member))
            elif isinstance(item, WantedItem):
                self._answer(item)
            elif isinstance(item, ActionItem):
                self._on_action(item.action)
            elif self._drop(item.name):
                self._emit(ev.MemberDeparted(name=item.name, code=item.code))
        if ask or again:  # a key did not come with its message, or a newcomer may hold one
            self._ask_for_keys(again=again)

    def change_password(
        self, password: str, new_keys: RoomKeys, *, remove: bytes | None = None
    ) -> None:
        """Change the room password to ``password`` (whose keys for this room, derived off the
        I/O thread, are ``new_keys``), first removing the member whose key is ``remove`` if
        given. Seals the password to every other proven member (SECRETS), gives the relay its
        new verifier (VERIFIER), then sends the action(s) (ACT). When the action comes back:
        PasswordChanged; the relay then closes every connection. :class:`ActionRefused`
        (nothing sent) if we may not."""
        self._require(ClientState.JOINED)
        keys, authority = self._keys, self.authority
        if authority is None or keys is None:
            raise ActionRefused("this room has no owner, so nobody can take actions in it")
        if new_keys.room_id != self._room_id:
            raise LocalProtocolError("the new keys are for another room")
        plan = Authority(authority.genesis)
        plan.apply_all(authority.actions)
        actions = []
        if remove is not None:
            actions.append(plan.sign(self.identity, ActionKind.REMOVE, remove))
            plan.apply(actions[-1])
        change = plan.sign(self.identity, ActionKind.CHANGE_PASSWORD)
        actions.append(change)
        secrets = []
        for member in self._by_key.values():
            if member.signing_key in (self.identity.signing_public, remove):
                continue
            try:
                blob = password_share.seal_password(
                    password,
                    distributor=self.identity,
                    recipient_signing=member.signing_key,
                    recipient_dh=member.dh_key,
                    room_id=self._room_id,
                    seq=change.seq,
                    member_key=keys.member,
                )
            except AuthenticationError:
                continue  # a key no device has: it gets nothing
            secrets.append((member.signing_key, blob))
        self._new_passwords[(self.identity.signing_public, change.seq)] = password
        for start in range(0, len(secrets), 100):
            self._send_sealed(_T.SECRETS, encode_secrets(secrets[start : start + 100]))
        self._send_sealed(_T.VERIFIER, encode_verifier(change.seq, new_keys.access))
        for action in actions:
            self._send_sealed(_T.ACT, action.encode())

    def _on_secret(self, payload: bytes) -> None:
        distributor, blob = decode_secret(payload)
        keys = self._keys
        if keys is None or distributor not in self._by_key:
            return  # from proven members only
        try:
            seq, password = password_share.open_password(
                self.identity,
                blob,
                distributor=distributor,
                room_id=self._room_id,
                member_key=keys.member,
            )
        except AuthenticationError:
            return  # not ours, altered, or from someone without the password: ignored
        if len(self._new_passwords) < 16:
            self._new_passwords[(distributor, seq)] = password

    def _on_action(self, encoded: bytes) -> None:
        if self.authority is None:
            raise RemoteProtocolError("a room action in a room without an owner")
        try:
            action = Action.decode(encoded)
            self.authority.apply(action)
        except ActionRefused as exc:
            raise RemoteProtocolError(
                f"the relay passed on an action that breaks the rules: {exc}"
            ) from None
        self._emit_roles(action)
        if action.kind is ActionKind.CHANGE_PASSWORD:
            password = self._new_passwords.pop((action.actor, action.seq), None)
            self._emit(ev.PasswordChanged(password=password, actor=action.actor))

    def _drop(self, name: str) -> bool:
        member = self.members.pop(name, None)
        if member is None:
            return False
        self._by_key.pop(member.signing_key, None)
        self.keyring.member_left(member.signing_key)
        return True

    # -- sender keys -----------------------------------------------------------------------

    def _ask_for_keys(self, *, again: bool = False) -> None:
        """Ask the members present for the keys held messages wait for (WANT): each once per
        connection, or ``again`` when members arrived (one of them may hold it)."""
        waiting = self.keyring.waiting_for()
        if again:
            self._asked.clear()
        wanted = [key_id for key_id in waiting if key_id not in self._asked][-64:]
        if wanted:
            self._asked.update(wanted)
            self._since_asked = 0
            self._send_sealed(_T.WANT, encode_wanted(wanted))

    def _answer(self, item: WantedItem) -> None:
        requester = self._by_key.get(item.requester)
        keys = self._keys
        if requester is None or keys is None or item.requester == self.identity.signing_public:
            return  # only proven members get keys
        given = self.keyring.answer(item.requester, item.wanted, present=set(self._by_key))
        shares = []
        for (owner, epoch), key in given:
            try:
                blob = sender_keys.seal_share(
                    key,
                    distributor=self.identity,
                    owner=owner,
                    epoch=epoch,
                    recipient_signing=requester.signing_key,
                    recipient_dh=requester.dh_key,
                    room_id=self._room_id,
                    member_key=keys.member,
                )
            except AuthenticationError:
                return  # a member key no device has: nothing for it
            shares.append((requester.signing_key, blob))
        self._send_shares(shares)

    def _on_share(self, payload: bytes) -> None:
        distributor, blob = decode_share(payload)
        keys = self._keys
        if keys is None or distributor not in self._by_key:
            return  # keys come from proven members only
        try:
            opened = sender_keys.open_share(
                self.identity,
                blob,
                distributor=distributor,
                room_id=self._room_id,
                member_key=keys.member,
            )
        except AuthenticationError:
            return  # not ours, altered, or from someone without the password: ignored
        from_owner = distributor == opened.owner
        if not from_owner and (
            opened.owner in self._by_key or not self.keyring.waiting(opened.owner, opened.epoch)
        ):
            return  # others pass on only keys we wait for, of members who are away
        if not self.keyring.remember(
            opened.owner, opened.epoch, opened.sender_key, from_owner=from_owner
        ):
            return
        for held in self.keyring.release(opened.owner):
            assert isinstance(held, tuple)
            item, from_history, position, floor = held
            event = self._open_chat(
                item, from_history=from_history, position=position, held=True, floor=floor
            )
            if event is not None and not isinstance(event, ev.ChatLocked):
                self._emit(event)

    def _open_chat(
        self,
        item: ChatItem,
        *,
        from_history: bool,
        position: int,
        held: bool = False,
        floor: tuple[int, int] | None = None,
    ) -> ev.ChatOpened | ev.ChatForged | ev.ChatLocked | None:
        """Open and verify one relayed message as sent by the attested sender; None if seen."""
        try:
            header = envelope_header(item.envelope)
        except ValueError:
            raise RemoteProtocolError("relay forwarded a runt envelope") from None
        message_id, owner, epoch = header.message_id, header.signing_key, header.epoch
        if message_id in self.seen_ids:
            return None  # a duplicate is dropped without a word

        def forged(why: ev.Forgery) -> ev.ChatForged:
            # Not our connection's fault (another member or the relay): report, do not fail.
            return ev.ChatForged(
                sender=item.sender,
                message_id=message_id,
                from_history=from_history,
                why=why,
                position=position,
            )

        member = self.members.get(item.sender)
        if member is not None and member.signing_key != owner:
            return forged(ev.Forgery.WRONG_KEY)
        if member is None and not from_history:
            return forged(ev.Forgery.NOT_A_MEMBER)
        if epoch == 0:
            return forged(ev.Forgery.UNREADABLE)
        found = self.keyring.sender_key(owner, epoch, room_id=self._room_id)
        if found is None:
            return self._hold(
                item, message_id, (owner, epoch), from_history=from_history, position=position
            )
        sender_key, proven = found
        key = self.keyring.message_key(owner, epoch, sender_key, room_id=self._room_id)
        try:
            opened = open_message(key, item.envelope, room_id=self._room_id, sender=item.sender)
        except SignatureError:
            return forged(ev.Forgery.BAD_SIGNATURE)
        except AuthenticationError:
            if proven:
                return forged(ev.Forgery.UNREADABLE)
            # A ratchet step that is not it (a fresh key, not here yet), or a key another member
            # passed on that is wrong: wait for the right one.
            self.keyring.forget(owner, epoch)
            return self._hold(
                item, message_id, (owner, epoch), from_history=from_history, position=position
            )
        if not proven:
            self.keyring.confirm(owner, epoch, sender_key)
        text = ""
        if opened.content_type == "text/plain":
            try:
                text = opened.body.decode("utf-8")
            except UnicodeDecodeError:
                return forged(ev.Forgery.UNREADABLE)
        if from_history:
            self.keyring.fresh_live(owner, epoch, opened.counter)  # noted; history is history
        elif held:
            # Held for its key while later messages of this sender opened: it is fresh if it
            # came after what was accepted from the sender when it *arrived* (``floor``).
            if not self.keyring.fresh_held(owner, epoch, opened.counter, floor):
                return forged(ev.Forgery.REPLAYED)
        elif not self.keyring.fresh_live(owner, epoch, opened.counter):
            return forged(ev.Forgery.REPLAYED)
        if owner != self.identity.signing_public:  # ours were counted when sealed
            self.keyring.seen(owner, epoch)
        self.seen_ids.add(message_id)
        return ev.ChatOpened(
            sender=item.sender,
            signing_key=opened.signing_key,
            text=text,
            message_id=message_id,
            timestamp_ms=opened.timestamp_ms,
            content_type=opened.content_type,
            body=opened.body,
            epoch=opened.epoch,
            counter=opened.counter,
            from_history=from_history,
            position=position,
        )

    def _hold(
        self,
        item: ChatItem,
        message_id: bytes,
        key_id: tuple[bytes, int],
        *,
        from_history: bool,
        position: int,
    ) -> ev.ChatLocked:
        """Keep a message until its key comes (or for good, if the room keeps it from us)."""
        self.keyring.hold(
            message_id,
            key_id,
            (item, from_history, position, self.keyring.accepted_from(key_id[0])),
            from_history=from_history,
            rank=position,
        )
        return ev.ChatLocked(
            sender=item.sender,
            message_id=message_id,
            from_history=from_history,
            withheld=self.keyring.withheld(from_history=from_history),
            position=position,
        )

    # -- what the room stores --------------------------------------------------------------

    def returning_from(self, resume_after: int) -> None:
        """Right after Welcomed, if the device learnt only then that it was in this room
        before (its archive is keyed by the room id, which the relay's answer told): resume
        after ``resume_after`` as if the JOIN had said so. The WELCOME's history is newer than
        that point; if it does not reach down to it, the resume point waits for the pages
        (:meth:`request_history`) as it would have."""
        self._require(ClientState.JOINED)
        if self._returning or not 0 <= resume_after < self._next_position - 1:
            return  # told already, or nothing missed (or a relay that started over)
        self._returning = True
        self._resume_after = resume_after
        start = self._history_start
        if start > resume_after + 1:
            self._gap_above = start
            self.last_position = resume_after

    def request_history(self, *, before: int, limit: int = 500) -> None:
        """Ask for up to ``limit`` (1–1000) stored messages older than position ``before``
        (HISTORY). Only after Welcomed; the answer is history events, then
        :class:`~net.proto.HistoryPageReceived`. Use it to close the gap between the
        position you resumed after and the WELCOME's ``history_start``."""
        self._require(ClientState.JOINED)
        self._send_sealed(_T.HISTORY, encode_history_request(before, limit))

    def _on_history_page(self, payload: bytes) -> None:
        first, items = decode_history_page(payload)
        if self._gap_above and items and first < self._gap_above:
            self._gap_above = first
        if self._gap_above and (not items or first <= self._resume_after + 1):
            self._gap_above = 0  # the gap is closed (or what it held is gone for good)
            self.last_position = self._newest
        ask = False
        for offset, item in enumerate(items):
            event = self._open_chat(item, from_history=True, position=first + offset)
            if event is not None:
                ask = ask or isinstance(event, ev.ChatLocked)
                self._emit(event)
        self._emit(ev.HistoryPageReceived(first_position=first, count=len(items)))
        if ask:
            self._ask_for_keys()

    # -- files: sealed chunks through the relay (PROTOCOL.md 3.6) ----------------------------
    #
    # Only the frames: sealing chunks (crypto.filechunk), reading files, pacing (at most
    # MAX_PUTS_AHEAD puts unanswered, MAX_GET_CHUNKS chunks asked for and not received) and
    # resuming after a reconnect are the client library's.

    def open_file(self, file_id: bytes, count: int, stored_size: int) -> None:
        """Start (or, after a reconnect, resume) uploading a file of ``count`` sealed chunks,
        ``stored_size`` bytes in all (``sealed_size(size)``): FILE_OPEN. The answer is
        :class:`~net.proto.FileStateReceived`: OK with ``have`` (send chunks from ``have``
        on; ``have == count``: complete already), or why not (TOO_LARGE, NO_SPACE, TOO_MANY,
        NOT_YOURS, FILES_OFF). Only after Welcomed; :class:`LocalProtocolError` (nothing
        sent) if ``stored_size`` cannot be ``count`` sealed chunks or a value does not fit."""
        self._require(ClientState.JOINED)
        self._send_sealed(_T.FILE_OPEN, encode_file_open(file_id, count, stored_size))

    def put_file_chunk(self, file_id: bytes, index: int, sealed: bytes) -> None:
        """Send chunk ``index`` of a file opened with :meth:`open_file`, as
        ``crypto.filechunk.seal_chunk`` sealed it (41 to CHUNK_SIZE + 40 bytes): FILE_PUT.
        Chunks go in index order from the ``have`` the relay answered; the relay answers each
        stored one with FileStateReceived(OK, have). Keep at most ``MAX_PUTS_AHEAD`` (16)
        unanswered. A chunk out of order, or more bytes than ``stored_size``, ends the
        connection (PROTOCOL_ERROR). Only after Welcomed; :class:`LocalProtocolError` (nothing
        sent) for a sealed chunk of the wrong length."""
        self._require(ClientState.JOINED)
        self._send_sealed(_T.FILE_PUT, encode_file_chunk(file_id, index, sealed))

    def drop_file(self, file_id: bytes) -> None:
        """Give up an upload (or take back a file not offered yet): the relay deletes what it
        holds of it (FILE_DROP) and answers FileStateReceived(NOT_FOUND), or NOT_YOURS if
        another identity uploaded it. Only after Welcomed."""
        self._require(ClientState.JOINED)
        self._send_sealed(_T.FILE_DROP, encode_file_drop(file_id))

    def get_file_chunks(self, file_id: bytes, from_index: int, count: int) -> None:
        """Ask for ``count`` (1–64) chunks of a file from ``from_index`` on (FILE_GET). The
        relay sends :class:`~net.proto.FileDataReceived` for each one it holds, in order; if
        it has none from ``from_index`` on, FileStateReceived instead (OK with ``have``:
        not uploaded that far yet; NOT_FOUND: the file is gone). Keep at most
        ``MAX_GET_CHUNKS`` (64) asked for and not received (the relay ends a connection that
        asks for more); after a reconnect, ask again from the first chunk not received. Each
        request counts against the member's message rate: ask for many at a time. Only after
        Welcomed; :class:`LocalProtocolError` (nothing sent) for a count out of range."""
        self._require(ClientState.JOINED)
        self._send_sealed(_T.FILE_GET, encode_file_get(file_id, from_index, count))

    def _on_file_state(self, payload: bytes) -> None:
        state = decode_file_state(payload)
        self._emit(ev.FileStateReceived(file_id=state.file_id, code=state.code, have=state.have))

    def _on_file_data(self, payload: bytes) -> None:
        chunk = decode_file_chunk(payload)
        self._emit(
            ev.FileDataReceived(file_id=chunk.file_id, index=chunk.index, sealed=chunk.sealed)
        )

    def _on_ack(self, payload: bytes) -> None:
        self._emit(ev.MessagesStored(message_ids=decode_ack(payload)))

    def _on_notice(self, payload: bytes) -> None:
        code, text = decode_code_text(payload)
        self._emit(ev.NoticeReceived(code=code, text=text))
