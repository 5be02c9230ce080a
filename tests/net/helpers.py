"""In-memory wiring for protocol tests (h11's ConnectionPair idea): no sockets, no clocks.

:class:`Pair` shuttles ``data_to_send()`` between one client core and one relay core until
both are quiet, answering the relay's RoomRequested as the relay driver does. :class:`Room`
drives the product's :class:`net.proto.Room` for several such pairs, as the asyncio relay does
for its sockets: it also hands out sender key shares (SHARES → one SHARE per recipient) and
broadcasts requests for keys (WANT → a WANTED item). Every random input is fixed: identities
come from labels, nonces and sender keys from :class:`CountingRandom`, SPAKE2 scalars from
:func:`fixed_scalar`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
from collections.abc import Callable
from typing import NamedTuple

from crypto import epoch as sender_keys
from crypto.identity import Identity
from crypto.kdf import RoomKeys, derive_room_keys
from crypto.spake2 import Spake2Secret
from net import proto
from net.proto import DEFAULT_ROOM, ClientProtocol, Keyring, RelayCredentials, RelayProtocol
from net.proto._frames import MAX_RELAY_FRAME, FrameReader, FrameType, Reason, encode_frame
from net.proto._history import HistoryStore
from net.proto._messages import BroadcastItem, MemberInfo, RelayHello, encode_item
from net.proto._replay import RecentIds
from net.proto._transcript import RELAY_HELLO_CONTEXT, relay_hello_signed

PASSWORD = "correct horse battery staple"
ROOM_ID = bytes(range(16))
BROADCAST_KEY = bytes(range(100, 132))
MAX_MESSAGE_BYTES = 4000


def fixed_scalar(value: int) -> Callable[[], int]:
    """A SPAKE2 scalar source that always returns ``value`` (tests only)."""
    return lambda: value


class CountingRandom:
    """Deterministic stand-in for get_random_bytes: SHA-256 of a label and a counter."""

    def __init__(self, label: bytes = b"test") -> None:
        self._label = label
        self._counter = itertools.count()

    def __call__(self, size: int) -> bytes:
        out = b""
        while len(out) < size:
            out += hashlib.sha256(self._label + str(next(self._counter)).encode()).digest()
        return out[:size]


@functools.cache
def identity(label: str) -> Identity:
    """The device identity called ``label`` in these tests: the same keys in every run."""
    return Identity.from_secret(
        hashlib.sha512(b"SocketChat test identity|" + label.encode()).digest()
    )


#: The relay's long-term key in these tests (what a member would pin).
RELAY_IDENTITY = identity("relay")


@functools.cache
def cheap_room_keys() -> RoomKeys:
    """The test room's keys (the ``room_keys`` fixture's: scrypt with n=2**10, tests only)."""
    return derive_room_keys(PASSWORD, room_id=ROOM_ID, n=2**10)


def member_info(
    name: str,
    *,
    device: Identity | None = None,
    keys: RoomKeys | None = None,
    tag: bytes | None = None,
) -> MemberInfo:
    """``name``'s entry in a member list, as the relay lists it: the identity ``device`` (else
    the one called ``name``) with the membership tag its client sends in JOIN for ``keys``
    (default: the test room's), unless ``tag`` says otherwise (a tag a relay made up)."""
    device = device or identity(name)
    if tag is None:
        keys = keys or cheap_room_keys()
        tag = sender_keys.membership_tag(
            keys.member,
            room_id=keys.room_id,
            signing_key=device.signing_public,
            dh_key=device.dh_public,
        )
    return MemberInfo(
        name=name, signing_key=device.signing_public, dh_key=device.dh_public, tag=tag
    )


def seal_share_to(
    recipient: Identity,
    sender_key: bytes,
    *,
    owner: Identity,
    epoch: int,
    distributor: Identity | None = None,
    keys: RoomKeys | None = None,
) -> bytes:
    """A share of ``owner``'s sender key of ``epoch``, sealed to ``recipient`` and signed by
    ``distributor`` (default: the owner), as a member's client makes it (crypto.epoch)."""
    keys = keys or cheap_room_keys()
    return sender_keys.seal_share(
        sender_key,
        distributor=distributor or owner,
        owner=owner.signing_public,
        epoch=epoch,
        recipient_signing=recipient.signing_public,
        recipient_dh=recipient.dh_public,
        room_id=keys.room_id,
        member_key=keys.member,
    )


def credentials(
    secret: Spake2Secret, *, room_id: bytes = ROOM_ID, relay_identity: Identity | None = None
) -> RelayCredentials:
    """What ``RelayProtocol.select_room`` needs for the test room."""
    return RelayCredentials(
        room_id=room_id, secret=secret, relay_identity=relay_identity or RELAY_IDENTITY
    )


def make_client(
    name: str = "alice",
    keys: RoomKeys | None = None,
    seen_ids: RecentIds | None = None,
    scalar: int = 0x1111,
    *,
    device: Identity | None = None,
    room_id: bytes = DEFAULT_ROOM,
    expected_relay_key: bytes | None = None,
    keyring: Keyring | None = None,
    label: bytes | None = None,
    resume_after: int = 0,
    returning: bool = False,
) -> ClientProtocol:
    """A client core whose identity (``device``, else the one named ``name``), nonces, sender
    keys and SPAKE2 scalar are fixed; ``label`` seeds its nonces (default: the name).
    ``keyring`` is the device's (give every connection of one device the same one); by
    default a new one, whose sender keys come from the label too. ``resume_after``: the
    newest stored position the device holds (its JOIN says so)."""
    device = device or identity(name)
    label = label if label is not None else name.encode()
    if keyring is None:
        new_key = CountingRandom(label + b" sender keys")
        keyring = Keyring(device, new_key=lambda: new_key(sender_keys.SENDER_KEY_SIZE))
    return ClientProtocol(
        username=name,
        identity=device,
        keys=keys,
        room_id=room_id,
        expected_relay_key=expected_relay_key,
        seen_ids=seen_ids,
        keyring=keyring,
        resume_after=resume_after,
        returning=returning,
        random_bytes=CountingRandom(label),
        random_scalar=fixed_scalar(scalar),
    )


def make_relay(scalar: int = 0x2222, *, label: bytes = b"relay") -> RelayProtocol:
    """A relay core with fixed nonces and SPAKE2 scalar (the room comes with select_room)."""
    return RelayProtocol(random_bytes=CountingRandom(label), random_scalar=fixed_scalar(scalar))


def frame(frame_type: int, payload: bytes = b"") -> bytes:
    """A complete plaintext frame, as a peer (or a man in the middle) would write it."""
    return encode_frame(bytes((frame_type,)) + payload)


def split_frames(data: bytes) -> list[bytes]:
    """The frame bodies in ``data`` (type byte first)."""
    return list(FrameReader(2**21).feed(data))


def types_of(data: bytes) -> list[FrameType]:
    return [FrameType(body[0]) for body in split_frames(data)]


def signed_relay_hello(
    opening: bytes,
    *,
    share: bytes,
    version: int = 2,
    room_id: bytes = ROOM_ID,
    nonce: bytes = bytes(32),
    signer: Identity = RELAY_IDENTITY,
    relay_key: bytes | None = None,
) -> bytes:
    """A RELAY_HELLO frame answering the client's ``opening`` (its CLIENT_HELLO and
    CLIENT_OPEN frames), correctly signed by ``signer`` whatever the fields say: what a relay
    that holds its key (honest or not) can send. ``relay_key`` defaults to the signer's key."""
    client_hello, client_open = split_frames(opening)
    hello = RelayHello(
        version=version,
        room_id=room_id,
        relay_key=relay_key if relay_key is not None else signer.signing_public,
        nonce=nonce,
        share=share,
        signature=b"",
    )
    unsigned = bytes((FrameType.RELAY_HELLO,)) + hello.unsigned()
    signature = signer.sign(
        relay_hello_signed(client_hello, client_open, unsigned), context=RELAY_HELLO_CONTEXT
    )
    return encode_frame(unsigned + signature)


class Pair:
    """One client core wired to one relay core through memory.

    With ``credentials``, the relay side answers RoomRequested as the relay driver does:
    ``select_room`` for the default room or the credentials' room, REFUSED(NO_SUCH_ROOM) for
    any other. ``tamper_to_relay`` / ``tamper_to_client`` may rewrite each chunk in flight (a
    man in the middle). Events accumulate in ``client_events`` / ``relay_events`` until taken.
    """

    def __init__(
        self,
        client: ClientProtocol,
        relay: RelayProtocol,
        *,
        credentials: RelayCredentials | None = None,
        tamper_to_relay: Callable[[bytes], bytes] | None = None,
        tamper_to_client: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.client = client
        self.relay = relay
        self.credentials = credentials
        self.tamper_to_relay = tamper_to_relay or (lambda data: data)
        self.tamper_to_client = tamper_to_client or (lambda data: data)
        self.client_events: list[proto.Event] = []
        self.relay_events: list[proto.Event] = []
        self.to_relay_log: list[bytes] = []
        self.to_client_log: list[bytes] = []

    def shuttle(self) -> None:
        """Move bytes both ways until neither side has anything to send."""
        for _ in range(100):
            up = self.client.data_to_send()
            if up:
                self.to_relay_log.append(up)
                self.relay.receive_data(self.tamper_to_relay(up))
            for event in self.relay.events_received():
                self.relay_events.append(event)
                if isinstance(event, proto.RoomRequested) and self.credentials is not None:
                    self._select_room(event.room_id, self.credentials)
            down = self.relay.data_to_send()
            if down:
                self.to_client_log.append(down)
                self.client.receive_data(self.tamper_to_client(down))
            self.client_events += self.client.events_received()
            if not up and not down:
                return
        raise AssertionError("the two sides never went quiet")

    def _select_room(self, room_id: bytes, chosen: RelayCredentials) -> None:
        if room_id in (DEFAULT_ROOM, chosen.room_id):
            self.relay.select_room(chosen)
        else:
            self.relay.refuse(Reason.NO_SUCH_ROOM, "This relay does not host that room.")

    def take(self) -> tuple[list[proto.Event], list[proto.Event]]:
        """Return and forget (client events, relay events)."""
        client_events, relay_events = self.client_events, self.relay_events
        self.client_events, self.relay_events = [], []
        return client_events, relay_events

    def sent_by_client(self) -> list[FrameType]:
        """The types of every frame the client wrote so far, in order."""
        return [t for chunk in self.to_relay_log for t in types_of(chunk)]

    def sent_by_relay(self) -> list[FrameType]:
        """The types of every frame the relay wrote so far, in order."""
        return [t for chunk in self.to_client_log for t in types_of(chunk)]

    def handshake(self) -> None:
        """initiate() and run until the relay is waiting for the join decision."""
        self.client.initiate()
        self.shuttle()


class Addressed(NamedTuple):
    """One share a member handed out (a pair of a SHARES frame), as the relay saw it."""

    sender: str  # the member that sent the SHARES frame (the distributor)
    distributor: bytes  # its signing key, as the relay attests it in SHARE
    recipient: bytes  # the signing key the share is addressed to
    blob: bytes  # the share, opaque to the relay

    @property
    def owner(self) -> bytes:
        """Whose sender key it carries (the share's first field, in the clear)."""
        return self.blob[:32]

    @property
    def epoch(self) -> int:
        return int.from_bytes(self.blob[32:36], "big")


class Room:
    """An in-memory relay driver for several members, built on the product's own room.

    Membership, names, history, WELCOME contents and broadcast sealing are
    :class:`net.proto.Room`'s (the object :mod:`net.relay` drives), so this double cannot drift
    from the relay; what it adds is what the asyncio driver does with sockets, done with
    :class:`Pair` instead: rooms are selected, join requests are checked and answered (the same
    identity joining again replaces its old connection; the WELCOME's history starts after the
    JOIN's ``resume_after``), submitted messages and goodbyes go to the room, sender key
    shares go to their recipients (SHARE, attested with the distributor's signing key; a
    recipient that is not a joined member, or the sender itself, is skipped), a WANT becomes a
    WANTED item, HISTORY is answered with a page, and each :meth:`flush` is written to every
    joined member's relay core, followed by the ACKs of what it stored to their senders.

    Every share a member addressed is kept in :attr:`addressed`, delivered or not. With
    :attr:`hold_shares` set, shares are kept in :attr:`held` instead of being delivered, until
    :meth:`release_shares` (a relay that is slow to hand them on).
    """

    def __init__(
        self,
        secret: Spake2Secret,
        *,
        history_limit: int = 100,
        room_id: bytes = ROOM_ID,
        authority: proto.Authority | None = None,
        history: HistoryStore | None = None,
        frame_cap: int = MAX_RELAY_FRAME,
    ) -> None:
        """``history``: the room's message store (in memory, ``history_limit`` items, unless
        given); ``frame_cap``: the largest frame it sends (broadcasts above it are split)."""
        self.credentials = credentials(secret, room_id=room_id)
        self.room: proto.Room[Pair] = proto.Room(
            broadcast_key=BROADCAST_KEY,
            history_limit=history_limit,
            max_message_bytes=MAX_MESSAGE_BYTES,
            authority=authority,
            history=history,
            frame_cap=frame_cap,
        )
        self.broadcasts: list[bytes] = []  # every flushed broadcast, in order
        self.addressed: list[Addressed] = []  # every share a member handed out, in order
        self.hold_shares = False
        self.verifiers: dict[str, tuple[int, bytes]] = {}  # VERIFIER by member, as the relay
        self.held: list[Addressed] = []
        self._connections = 0
        self._handed_out = False

    @property
    def pairs(self) -> dict[str, Pair]:
        """The members' connections by name, in the order they joined."""
        return dict(zip(self.room.members, self.room.handles(), strict=True))

    def connect(self, client: ClientProtocol) -> Pair:
        """Handshake and join ``client`` as the relay does (see ``net.relay.server.Relay.join``):
        the others learn of the joiner first, then the joiner gets its WELCOME. The relay
        core's events of the join are acted on and forgotten; the client's are kept."""
        relay = make_relay(0x3333 + self._connections, label=b"relay %d" % self._connections)
        pair = Pair(client, relay, credentials=self.credentials)
        self._connections += 1
        pair.handshake()
        requests = [e for e in pair.relay_events if isinstance(e, proto.JoinRequested)]
        if len(requests) != 1:  # explicit: helpers are not assert-rewritten and -O strips asserts
            raise AssertionError(f"expected one JoinRequested, got {pair.relay_events}")
        (request,) = requests
        try:
            name = self.room.check_join(request.username, request.signing_key)
        except proto.JoinRejected as rejected:
            pair.relay.reject_join(rejected.code, rejected.text)
            pair.shuttle()
            return pair
        old = self.room.handle_of(name)
        if old is not None:  # the same identity again: the new connection wins
            self.room.leave(name, Reason.REPLACED, handle=old)
            with contextlib.suppress(proto.LocalProtocolError):  # unless it already ended
                old.relay.send_goodbye(Reason.REPLACED, "You joined this room again.")
            old.shuttle()
        info = MemberInfo(
            name=name, signing_key=request.signing_key, dh_key=request.dh_key, tag=request.tag
        )
        self.room.join(info, pair)
        pair.relay.accept_join(self.room.welcome(name, resume_after=request.resume_after))
        pair.shuttle()
        self.flush()  # as the relay does a moment later: the JOINED item, to everyone
        pair.shuttle()  # the joiner's copy, no news to it
        # What the joiner sent once welcomed (WANT, if its history waits for keys) reaches the
        # room; it goes out with the next flush (pump).
        self._dispatch(name, pair)
        return pair

    def disconnect(self, name: str) -> None:
        """``name``'s connection is lost (as the relay's ``connection_lost``)."""
        self.room.leave(name, Reason.CONNECTION_LOST, handle=self.pairs.get(name))

    def flush(self) -> bytes | None:
        """Seal what the room has pending and write it to every member, then ACK each sender
        what was stored of its messages (as the relay does, after the broadcast); return the
        broadcast's bytes."""
        data = self.room.flush()
        if data:
            self._write(self.room.handles(), data)
        for sender, message_ids in self.room.take_acks():
            if sender.relay.send_ack(message_ids):
                self._handed_out = True  # a resend's ACK may come with no broadcast
        return data

    def seal(self, *items: BroadcastItem) -> bytes:
        """Seal ``items`` as the room's next broadcast and send it to nobody: for a test to
        deliver by hand, replay, reorder or tamper with. CHAT items enter the history, as
        every flushed one does."""
        for item in items:
            self.room.queue(encode_item(item))
        data = self.room.flush()
        if data is None:
            raise AssertionError("nothing to seal")
        return data

    def pump(self) -> None:
        """Deliver everything pending: submitted messages to the whole room (one broadcast per
        round), shares to their recipients, requests for keys to everyone."""
        for _ in range(20):
            self._handed_out = False
            for name, pair in list(self.pairs.items()):
                pair.shuttle()
                self._dispatch(name, pair)
            # A share handed to a member shuttled earlier this round still waits in its relay
            # core: go round again, as a flushed broadcast does.
            if not self.flush() and not self._handed_out:
                return
        raise AssertionError("the room never went quiet")

    def _dispatch(self, name: str, pair: Pair) -> None:
        """Act on what ``name``'s relay core reported, as the relay driver does; forget it."""
        for event in pair.relay_events:
            if isinstance(event, proto.MessagesSubmitted):
                self.room.submit(name, event.envelopes)
            elif isinstance(event, proto.SharesSubmitted):
                self._hand_out(name, event.shares)
            elif isinstance(event, proto.KeysWanted):
                self.room.want(name, event.payload)
            elif isinstance(event, proto.HistoryRequested):
                first, items = self.room.page(event.before, event.limit)
                pair.relay.send_history_page(first, items)
                self._handed_out = True  # the page waits in the relay core: go round again
            elif isinstance(event, proto.SecretsSubmitted):
                self._hand_out_secrets(name, event.secrets)
            elif isinstance(event, proto.VerifierSubmitted):
                self.verifiers[name] = (event.seq, event.access)
            elif isinstance(event, proto.ActionSubmitted):
                self._act(pair, event.action)
            elif isinstance(event, proto.GoodbyeReceived):
                self.room.leave(name, Reason.LEAVING, handle=pair)
            elif isinstance(event, proto.ProtocolViolation):
                self.room.leave(name, Reason.PROTOCOL_ERROR, handle=pair)
        pair.relay_events.clear()

    def _hand_out_secrets(self, name: str, secrets: tuple[tuple[bytes, bytes], ...]) -> None:
        distributor = self.room.signing_key_of(name)
        for recipient, blob in secrets:
            target = self.room.handle_of_identity(recipient)
            if (
                distributor is not None
                and target is not None
                and target.relay.send_secret(distributor, blob)
            ):
                target.shuttle()

    def _act(self, pair: Pair, encoded: bytes) -> None:
        """ActionSubmitted: the room checks and applies it, as the relay driver does; a
        password change swaps the verifier and closes every connection (PASSWORD_CHANGED)."""
        name = next((n for n, p in self.pairs.items() if p is pair), "")
        try:
            action = proto.Action.decode(encoded)
            verifier = None
            if action.kind is proto.ActionKind.CHANGE_PASSWORD:
                verifier = self.verifiers.get(name)
                if verifier is None or verifier[0] != action.seq:
                    raise proto.ActionRefused("a password change without the new verifier")
            removed = self.room.act(action)
        except proto.ActionRefused as refused:
            pair.relay.send_notice(Reason.ACTION_REFUSED, str(refused))
            pair.shuttle()
            return
        if verifier is not None:
            self.credentials = credentials(
                Spake2Secret.from_access_key(verifier[1]), room_id=self.credentials.room_id
            )
            self.flush()
            for member, handle in list(self.pairs.items()):
                handle.relay.send_goodbye(Reason.PASSWORD_CHANGED, "The room password changed.")
                handle.shuttle()
                self.room.leave(member, Reason.PASSWORD_CHANGED, handle=handle)
            return
        if removed is not None:
            removed.relay.send_goodbye(Reason.REMOVED, "You were removed from the room.")
            removed.shuttle()
            for name, handle in self.pairs.items():
                if handle is removed:
                    self.room.leave(name, Reason.REMOVED, handle=removed)

    def _hand_out(self, name: str, shares: tuple[tuple[bytes, bytes], ...]) -> None:
        """SharesSubmitted from ``name``: each share to the member it names (as the relay)."""
        distributor = self.room.signing_key_of(name)
        if distributor is None:  # explicit: a driver bug, not a test outcome
            raise AssertionError(f"shares from {name!r}, who is not a member")
        for recipient, blob in shares:
            addressed = Addressed(name, distributor, bytes(recipient), bytes(blob))
            self.addressed.append(addressed)
            if self.hold_shares:
                self.held.append(addressed)
            else:
                self._deliver(addressed)

    def _deliver(self, addressed: Addressed) -> None:
        target = self.room.handle_of_identity(addressed.recipient)
        if target is None or addressed.recipient == addressed.distributor:
            return  # left meanwhile, or its own: skipped without a word
        if target.relay.send_share(addressed.distributor, addressed.blob):
            self._handed_out = True

    def release_shares(self) -> None:
        """Deliver the shares held back (:attr:`hold_shares`), then everything pending."""
        held, self.held = self.held, []
        for addressed in held:
            self._deliver(addressed)
        self.pump()

    def shares_to(self, recipient: bytes) -> list[Addressed]:
        """Every share addressed to the identity ``recipient`` so far."""
        return [a for a in self.addressed if a.recipient == recipient]

    def _write(self, pairs: list[Pair], data: bytes) -> None:
        self.broadcasts.append(data)
        for pair in pairs:
            pair.relay.send_raw(data)
