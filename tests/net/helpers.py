"""In-memory wiring for protocol tests (h11's ConnectionPair idea): no sockets, no clocks.

:class:`Pair` shuttles ``data_to_send()`` between one client core and one relay core until
both are quiet. :class:`Room` drives the product's :class:`net.proto.Room` for several such
pairs, as the asyncio relay does for its sockets.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable

from crypto.kdf import RoomKeys
from crypto.spake2 import Spake2Secret
from net import proto
from net.proto import ClientProtocol, RelayProtocol
from net.proto._frames import FrameReader, FrameType, Reason, encode_frame
from net.proto._messages import BroadcastItem
from net.proto._replay import RecentIds

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


def make_client(
    name: str = "alice",
    keys: RoomKeys | None = None,
    seen_ids: RecentIds | None = None,
    scalar: int = 0x1111,
) -> ClientProtocol:
    return ClientProtocol(
        username=name,
        keys=keys,
        seen_ids=seen_ids,
        random_bytes=CountingRandom(name.encode()),
        random_scalar=fixed_scalar(scalar),
    )


def make_relay(
    secret: Spake2Secret, room_id: bytes = ROOM_ID, scalar: int = 0x2222
) -> RelayProtocol:
    return RelayProtocol(secret=secret, room_id=room_id, random_scalar=fixed_scalar(scalar))


def frame(frame_type: int, payload: bytes = b"") -> bytes:
    """A complete plaintext frame, as a peer (or a man in the middle) would write it."""
    return encode_frame(bytes((frame_type,)) + payload)


def split_frames(data: bytes) -> list[bytes]:
    """The frame bodies in ``data`` (type byte first)."""
    return list(FrameReader(2**21).feed(data))


def types_of(data: bytes) -> list[FrameType]:
    return [FrameType(body[0]) for body in split_frames(data)]


class Pair:
    """One client core wired to one relay core through memory.

    ``tamper_to_relay`` / ``tamper_to_client`` may rewrite each chunk in flight (a man in the
    middle). Events accumulate in ``client_events`` / ``relay_events`` until taken.
    """

    def __init__(
        self,
        client: ClientProtocol,
        relay: RelayProtocol,
        *,
        tamper_to_relay: Callable[[bytes], bytes] | None = None,
        tamper_to_client: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.client = client
        self.relay = relay
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
            self.relay_events += self.relay.events_received()
            down = self.relay.data_to_send()
            if down:
                self.to_client_log.append(down)
                self.client.receive_data(self.tamper_to_client(down))
            self.client_events += self.client.events_received()
            if not up and not down:
                return
        raise AssertionError("the two sides never went quiet")

    def take(self) -> tuple[list[proto.Event], list[proto.Event]]:
        """Return and forget (client events, relay events)."""
        client_events, relay_events = self.client_events, self.relay_events
        self.client_events, self.relay_events = [], []
        return client_events, relay_events

    def handshake(self) -> None:
        """initiate() and run until the relay is waiting for the join decision."""
        self.client.initiate()
        self.shuttle()


class Room:
    """An in-memory relay driver for several members, built on the product's own room.

    Membership, history, WELCOME contents and broadcast sealing are :class:`net.proto.Room`'s
    (the object :mod:`net.relay` drives), so this double cannot drift from the relay; what it
    adds is what the asyncio driver does with sockets, done with :class:`Pair` instead: join
    requests are checked and answered, submitted messages and goodbyes go to the room, and each
    :meth:`flush` is written to every joined member's relay core.
    """

    def __init__(self, secret: Spake2Secret, *, history_limit: int = 100) -> None:
        self.secret = secret
        self.room: proto.Room[Pair] = proto.Room(
            broadcast_key=BROADCAST_KEY,
            history_limit=history_limit,
            max_message_bytes=MAX_MESSAGE_BYTES,
        )
        self.broadcasts: list[bytes] = []  # every flushed broadcast, in order
        self._connections = 0

    @property
    def pairs(self) -> dict[str, Pair]:
        """The members' connections by name, in the order they joined."""
        return dict(zip(self.room.members, self.room.handles(), strict=True))

    def connect(self, client: ClientProtocol) -> Pair:
        """Handshake and join ``client`` as the relay does (see ``net.relay.server.Relay.join``):
        the others learn of the joiner first, then the joiner gets its WELCOME."""
        pair = Pair(client, make_relay(self.secret, scalar=0x3333 + self._connections))
        self._connections += 1
        pair.handshake()
        requests = [e for e in pair.relay_events if isinstance(e, proto.JoinRequested)]
        if len(requests) != 1:  # explicit: helpers are not assert-rewritten and -O strips asserts
            raise AssertionError(f"expected one JoinRequested, got {pair.relay_events}")
        try:
            name = self.room.check_join(requests[0].username)
        except proto.JoinRejected as rejected:
            pair.relay.reject_join(rejected.code, rejected.text)
            pair.shuttle()
            return pair
        others = self.room.handles()
        data = self.room.join(name, pair)
        if data:
            self._write(others, data)
        pair.relay.accept_join(self.room.welcome(name))
        pair.shuttle()
        return pair

    def disconnect(self, name: str) -> None:
        """``name``'s connection is lost (as the relay's ``connection_lost``)."""
        self.room.leave(name, Reason.CONNECTION_LOST, handle=self.pairs.get(name))

    def flush(self) -> bytes | None:
        """Seal what the room has pending and write it to every member; return the bytes."""
        data = self.room.flush()
        if data:
            self._write(self.room.handles(), data)
        return data

    def seal(self, *items: BroadcastItem) -> bytes:
        """Seal ``items`` as the room's next broadcast and send it to nobody: for a test to
        deliver by hand, replay, reorder or tamper with."""
        for item in items:
            self.room.queue(item)
        data = self.room.flush()
        if data is None:
            raise AssertionError("nothing to seal")
        return data

    def pump(self) -> None:
        """Deliver everything pending; relay submitted messages to the whole room."""
        for _ in range(20):
            for name, pair in list(self.pairs.items()):
                pair.shuttle()
                for event in pair.relay_events:
                    if isinstance(event, proto.MessagesSubmitted):
                        self.room.submit(name, event.messages)
                    elif isinstance(event, proto.GoodbyeReceived):
                        self.room.leave(name, Reason.LEAVING, handle=pair)
                    elif isinstance(event, proto.ProtocolViolation):
                        self.room.leave(name, Reason.PROTOCOL_ERROR, handle=pair)
                pair.relay_events.clear()
            if not self.flush():
                return
        raise AssertionError("the room never went quiet")

    def _write(self, pairs: list[Pair], data: bytes) -> None:
        self.broadcasts.append(data)
        for pair in pairs:
            pair.relay.send_raw(data)
