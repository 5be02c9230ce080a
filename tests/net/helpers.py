"""In-memory wiring for protocol tests (h11's ConnectionPair idea): no sockets, no clocks.

:class:`Pair` shuttles ``data_to_send()`` between one client core and one relay core until
both are quiet. :class:`Room` is a tiny in-memory relay driver for several members: it answers
joins, attests submitted messages and seals each broadcast once for everybody.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable

from crypto.kdf import RoomKeys
from crypto.spake2 import Spake2Secret
from crypto.transport import BroadcastSealer
from net import proto
from net.proto import ClientProtocol, RelayProtocol, WelcomeArgs, encode_broadcast
from net.proto._frames import FrameReader, FrameType, encode_frame
from net.proto._messages import BroadcastItem, ChatItem, JoinedItem, LeftItem
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
    """A minimal in-memory relay driver: members, history, one sealer for every broadcast."""

    def __init__(self, secret: Spake2Secret, *, history_limit: int = 100) -> None:
        self.secret = secret
        self.sealer = BroadcastSealer(BROADCAST_KEY)
        self.pairs: dict[str, Pair] = {}
        self.history: list[ChatItem] = []
        self.history_limit = history_limit
        self.broadcasts: list[bytes] = []

    def connect(self, client: ClientProtocol) -> Pair:
        """Handshake, join and welcome ``client``; announce it to the others."""
        pair = Pair(client, make_relay(self.secret, scalar=0x3333 + len(self.pairs)))
        pair.handshake()
        requests = [e for e in pair.relay_events if isinstance(e, proto.JoinRequested)]
        if len(requests) != 1:  # explicit: helpers are not assert-rewritten and -O strips asserts
            raise AssertionError(f"expected one JoinRequested, got {pair.relay_events}")
        name = requests[0].username
        pair.relay.accept_join(
            WelcomeArgs(
                name=name,
                members=(*self.pairs, name),
                broadcast_key=BROADCAST_KEY,
                next_seq=self.sealer.next_seq,
                history=tuple(self.history[-self.history_limit :]),
                max_message_bytes=MAX_MESSAGE_BYTES,
            )
        )
        self.pairs[name] = pair
        self.broadcast([JoinedItem(name=name)], exclude=name)
        pair.shuttle()
        return pair

    def broadcast(self, items: list, *, exclude: str | None = None) -> bytes:
        frame = encode_broadcast(self.sealer, items)
        self.broadcasts.append(frame)
        for name, pair in self.pairs.items():
            if name != exclude:
                pair.relay.send_raw(frame)
        return frame

    def pump(self) -> None:
        """Deliver everything pending; relay submitted messages to the whole room."""
        for _ in range(20):
            items: list[BroadcastItem] = []
            for name, pair in list(self.pairs.items()):
                pair.shuttle()
                for event in pair.relay_events:
                    if isinstance(event, proto.MessagesSubmitted):
                        attested = [ChatItem.from_outgoing(m, sender=name) for m in event.messages]
                        items += attested
                        self.history += attested
                    elif isinstance(event, proto.GoodbyeReceived):
                        del self.pairs[name]
                        items.append(LeftItem(name=name, code=event.code))
                pair.relay_events.clear()
            if not items:
                return
            self.broadcast(items)
        raise AssertionError("the room never went quiet")
