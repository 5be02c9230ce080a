"""Stored messages in the protocol cores (PROTOCOL.md 3.5): the positions a client counts from
its WELCOME on, what it resumes after, ACKs, HISTORY and HISTORY_PAGE, on both sides.

Client and relay cores wired through memory (tests/net/helpers.py), with the product's Room
deciding what is stored, acknowledged and paged; malformed frames are written by hand into
an authentic connection, as a broken or hostile peer would.
"""

from __future__ import annotations

import pytest

from crypto.kdf import RoomKeys
from crypto.spake2 import Spake2Secret
from net import proto
from net.proto import ClientState, LocalProtocolError, RelayState, WelcomeArgs
from net.proto._frames import FrameType, Reason
from net.proto._history import MemoryHistory
from net.proto._messages import (
    ChatItem,
    JoinedItem,
    MemberInfo,
    PendingMessage,
    Welcome,
    decode_items,
    encode_ack,
    encode_history_page,
    encode_history_request,
    encode_item,
)
from tests.net.helpers import (
    BROADCAST_KEY,
    MAX_MESSAGE_BYTES,
    Pair,
    Room,
    credentials,
    make_client,
    make_relay,
    member_info,
    split_frames,
    types_of,
)
from tests.net.raw_client import Goodbye, RawClient

Chat = proto.ChatOpened | proto.ChatForged | proto.ChatLocked


def send(pair: Pair, *texts: str) -> list[bytes]:
    """``pair``'s member sends ``texts`` in one CHAT frame; returns their message ids."""
    ids = [pair.client.new_message_id() for _ in texts]
    pair.client.send_messages([PendingMessage(t, i, 1) for t, i in zip(texts, ids, strict=True)])
    return ids


def chats(events: list[proto.Event]) -> list[Chat]:
    return [e for e in events if isinstance(e, Chat)]


def positions(events: list[proto.Event]) -> list[tuple[int, str, bool]]:
    """(position, text or "locked", from_history) of each chat event, in order."""
    return [
        (e.position, e.text if isinstance(e, proto.ChatOpened) else "locked", e.from_history)
        for e in chats(events)
    ]


def welcomed(events: list[proto.Event]) -> proto.Welcomed:
    (event,) = [e for e in events if isinstance(e, proto.Welcomed)]
    return event


@pytest.fixture
def room(relay_secret: Spake2Secret) -> Room:
    return Room(relay_secret)


@pytest.fixture
def alice(room: Room, room_keys: RoomKeys) -> Pair:
    pair = room.connect(make_client("alice", room_keys))
    pair.take()
    return pair


# -- positions, counted by the client --------------------------------------------------------


def test_positions_count_from_the_welcome_history_on_through_every_broadcast(
    room: Room, room_keys: RoomKeys, alice: Pair
) -> None:
    assert alice.client.last_position == 0
    send(alice, "one", "two", "three")
    room.pump()
    assert positions(alice.take()[0]) == [(1, "one", False), (2, "two", False), (3, "three", False)]
    assert alice.client.last_position == 3
    bob = room.connect(make_client("bob", room_keys))
    welcome = welcomed(bob.client_events)
    # Its history holds next_position - 3 … next_position - 1; alice's key comes next.
    assert (welcome.history_start, welcome.next_position) == (1, 4)
    assert [(e.position, e.from_history) for e in welcome.history] == [
        (1, True),
        (2, True),
        (3, True),
    ]
    assert bob.client.last_position == 3
    room.pump()
    assert positions(bob.take()[0]) == [(1, "one", True), (2, "two", True), (3, "three", True)]
    send(alice, "four")
    send(alice, "five")
    room.pump()
    assert positions(bob.take()[0]) == [(4, "four", False), (5, "five", False)]
    assert bob.client.last_position == alice.client.last_position == 5


def test_positions_go_on_across_the_frames_of_a_split_broadcast(
    relay_secret: Spake2Secret, room_keys: RoomKeys
) -> None:
    room = Room(relay_secret, frame_cap=2000)  # a relay that splits above 2,000 bytes
    alice = room.connect(make_client("alice", room_keys))
    bob = room.connect(make_client("bob", room_keys))
    room.pump()
    alice.take()
    bob.take()
    texts = [f"message {n}" for n in range(1, 21)]
    send(alice, *texts)
    room.pump()
    assert len(split_frames(room.broadcasts[-1])) >= 3  # one flush, several frames
    for pair in (alice, bob):
        assert positions(pair.take()[0]) == [(n, f"message {n}", False) for n in range(1, 21)]
        assert pair.client.last_position == 20


def test_a_duplicate_the_client_drops_still_takes_its_position(
    room: Room, room_keys: RoomKeys, alice: Pair
) -> None:
    bob = room.connect(make_client("bob", room_keys))
    room.pump()
    bob.take()
    send(alice, "first")
    room.pump()
    assert positions(bob.take()[0]) == [(1, "first", False)]
    (stored,) = room.room.history
    (first,) = decode_items(b"\x00\x01" + stored)
    # Alice's next message, held back from the room by hand; the relay (this harness) then
    # stores "first" a second time in front of it: bob drops the copy, and counts it.
    send(alice, "second")
    alice.shuttle()
    (submitted,) = [e for e in alice.relay_events if isinstance(e, proto.MessagesSubmitted)]
    alice.relay_events.clear()
    second = ChatItem(sender="alice", envelope=bytes(submitted.envelopes[0]))
    bob.client.receive_data(room.seal(first, second))
    assert positions(bob.client.events_received()) == [(3, "second", False)]
    assert bob.client.last_position == 3


# -- resuming --------------------------------------------------------------------------------


def test_a_device_resumes_after_what_it_holds(room: Room, room_keys: RoomKeys, alice: Pair) -> None:
    send(alice, *(f"m{n}" for n in range(1, 6)))
    room.pump()
    bob = room.connect(make_client("bob", room_keys, resume_after=3))
    welcome = welcomed(bob.client_events)
    assert [e.position for e in welcome.history] == [4, 5]  # only what it does not hold
    assert (welcome.history_start, welcome.next_position) == (4, 6)
    assert bob.client.last_position == 5


def test_join_says_where_the_device_resumes(
    relay_secret: Spake2Secret, room_keys: RoomKeys
) -> None:
    for resume_after in (0, 1, 2**64 - 1):
        pair = Pair(
            make_client(keys=room_keys, resume_after=resume_after),
            make_relay(),
            credentials=credentials(relay_secret),
        )
        assert pair.client.last_position == resume_after  # until something newer comes
        pair.handshake()
        (request,) = [e for e in pair.relay_events if isinstance(e, proto.JoinRequested)]
        assert request.resume_after == resume_after
    for bad in (-1, 2**64):
        with pytest.raises(LocalProtocolError):
            make_client(keys=room_keys, resume_after=bad)


def test_welcome_history_holds_the_positions_below_next_position(
    relay_secret: Spake2Secret, room_keys: RoomKeys
) -> None:
    # By hand: a relay says next_position 10 with two history items (8 and 9); the device
    # resumed after 7. Another says 10 with none: the device holds nothing newer than before.
    item = encode_item(ChatItem(sender="zed", envelope=b"Z" * 16 + bytes(200)))
    other = encode_item(ChatItem(sender="zed", envelope=b"Y" * 16 + bytes(200)))
    for history, start, last in (((item, other), 8, 9), ((), 10, 7)):
        pair = _welcomed_by_hand(
            relay_secret, room_keys, resume_after=7, next_position=10, history=history
        )
        welcome = welcomed(pair.client_events)
        assert (welcome.history_start, welcome.next_position) == (start, 10)
        assert [e.position for e in welcome.history] == list(range(start, 10))
        assert pair.client.last_position == last


def test_the_resume_point_waits_until_the_gap_is_filled(
    relay_secret: Spake2Secret, room_keys: RoomKeys
) -> None:
    # A WELCOME with no room for history (a huge member list, say): the device resumed after
    # 7, the room is at 9. Until a page brings 8 and 9 the resume point stays at 7, so a
    # connection lost before the page asks for them again; once the gap is closed it moves on.
    pair = _welcomed_by_hand(relay_secret, room_keys, resume_after=7, next_position=10)
    assert welcomed(pair.client_events).history_start == 10
    assert pair.client.last_position == 7
    pair.take()
    pair.client.request_history(before=10, limit=100)
    pair.shuttle()
    assert pair.take()[1] == [proto.HistoryRequested(before=10, limit=100)]
    items = [encode_item(ChatItem(sender="zed", envelope=bytes([n]) * 216)) for n in (9,)]
    assert pair.relay.send_history_page(9, items)  # a page that does not reach the bottom
    pair.shuttle()
    assert pair.take()[0][-1] == proto.HistoryPageReceived(first_position=9, count=1)
    assert pair.client.last_position == 7
    item = encode_item(ChatItem(sender="zed", envelope=bytes([8]) * 216))
    assert pair.relay.send_history_page(8, [item])
    pair.shuttle()
    events = pair.take()[0]
    assert [(e.position, e.from_history) for e in chats(events)] == [(8, True)]
    assert events[-1] == proto.HistoryPageReceived(first_position=8, count=1)
    assert pair.client.last_position == 9


def test_an_empty_page_closes_the_gap_for_good(
    relay_secret: Spake2Secret, room_keys: RoomKeys
) -> None:
    # The relay's retention removed what the device missed: nothing older is stored, so the
    # resume point moves on instead of asking for the same lost gap for ever.
    pair = _welcomed_by_hand(relay_secret, room_keys, resume_after=3, next_position=50)
    assert pair.client.last_position == 3
    pair.client.request_history(before=50, limit=100)
    pair.shuttle()
    assert pair.relay.send_history_page(50, [])
    pair.shuttle()
    assert pair.take()[0][-1] == proto.HistoryPageReceived(first_position=50, count=0)
    assert pair.client.last_position == 49


def test_a_device_that_was_there_before_the_first_message_fills_the_gap(
    relay_secret: Spake2Secret, room_keys: RoomKeys
) -> None:
    # Joined the room while it was empty (resume point 0), away for 300 messages: not a
    # newcomer, so the resume point waits for the pages; a newcomer's moves on at once.
    returning = _welcomed_by_hand(relay_secret, room_keys, returning=True, next_position=301)
    assert returning.client.last_position == 0
    newcomer = _welcomed_by_hand(relay_secret, room_keys, next_position=301)
    assert newcomer.client.last_position == 300


def test_a_device_that_learns_late_it_was_here_resumes_as_if_its_join_had_said_so(
    relay_secret: Spake2Secret, room_keys: RoomKeys
) -> None:
    # Joined by address: the archive knew the room only once the relay named it. The WELCOME
    # brought the newest messages after 0; the device held everything up to 40.
    pair = _welcomed_by_hand(relay_secret, room_keys, next_position=301)
    assert pair.client.last_position == 300
    pair.client.returning_from(40)
    assert pair.client.last_position == 40  # until the pages reach 41
    assert pair.relay.send_history_page(41, [])  # retention removed them: the gap is closed
    pair.shuttle()
    assert pair.client.last_position == 300
    pair.client.returning_from(10)  # told once: later calls change nothing
    assert pair.client.last_position == 300


def test_a_relay_that_started_over_is_resumed_from_its_own_newest(
    relay_secret: Spake2Secret, room_keys: RoomKeys
) -> None:
    pair = _welcomed_by_hand(relay_secret, room_keys, resume_after=900, next_position=5)
    assert pair.client.last_position == 4


def _welcomed_by_hand(
    relay_secret: Spake2Secret,
    room_keys: RoomKeys,
    *,
    resume_after: int = 0,
    returning: bool = False,
    **welcome: object,
) -> Pair:
    """alice alone, welcomed by a relay core driven by hand with ``welcome``'s fields."""
    pair = Pair(
        make_client(keys=room_keys, resume_after=resume_after, returning=returning),
        make_relay(),
        credentials=credentials(relay_secret),
    )
    pair.handshake()
    fields: dict[str, object] = dict(
        name="alice",
        members=(member_info("alice"),),
        broadcast_key=BROADCAST_KEY,
        next_seq=1,
        next_position=1,
        history=(),
        max_message_bytes=MAX_MESSAGE_BYTES,
    )
    pair.relay.accept_join(WelcomeArgs(**(fields | welcome)))  # type: ignore[arg-type]
    pair.shuttle()
    return pair


# -- acknowledgements ----------------------------------------------------------------------------


def test_the_senders_ack_is_messages_stored_after_its_echo(
    room: Room, room_keys: RoomKeys, alice: Pair
) -> None:
    bob = room.connect(make_client("bob", room_keys))
    room.pump()
    alice.take()
    bob.take()
    ids = send(alice, "one", "two")
    room.pump()
    events = alice.take()[0]
    assert [type(e) for e in events] == [proto.ChatOpened, proto.ChatOpened, proto.MessagesStored]
    assert events[-1] == proto.MessagesStored(message_ids=tuple(ids))
    assert not any(isinstance(e, proto.MessagesStored) for e in bob.take()[0])
    # Sent again (the ACK was lost): acknowledged again, shown to nobody again.
    alice.client.send_messages([PendingMessage("one", ids[0], 1)])
    room.pump()
    assert alice.take()[0] == [proto.MessagesStored(message_ids=(ids[0],))]
    assert bob.take()[0] == []
    assert alice.client.last_position == bob.client.last_position == 2


def test_the_relay_splits_a_long_ack(alice: Pair) -> None:
    ids = [n.to_bytes(16, "big") for n in range(1500)]
    assert alice.relay.send_ack(ids)
    data = alice.relay.data_to_send()
    assert types_of(data) == [FrameType.ACK] * 2  # 1,000 ids at most in one
    alice.client.receive_data(data)
    assert alice.client.events_received() == [
        proto.MessagesStored(message_ids=tuple(ids[:1000])),
        proto.MessagesStored(message_ids=tuple(ids[1000:])),
    ]


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        pytest.param(b"\x00\x00", "1 to 1000", id="no ids"),
        pytest.param(b"\x03\xe9" + bytes(16 * 1001), "1 to 1000", id="1001 ids"),
        pytest.param(b"\x00\x02" + bytes(16), "truncated", id="one id missing"),
        pytest.param(encode_ack([bytes(16)]) + b"\x00", "trailing", id="trailing"),
    ],
)
def test_a_malformed_ack_is_a_protocol_violation(alice: Pair, payload: bytes, words: str) -> None:
    alice.relay._send_sealed(FrameType.ACK, payload)
    alice.shuttle()
    client_events, relay_events = alice.take()
    (violation,) = client_events
    assert isinstance(violation, proto.ProtocolViolation) and words in violation.reason
    assert alice.client.state is ClientState.FAILED
    assert relay_events == [
        proto.GoodbyeReceived(code=Reason.PROTOCOL_ERROR, text="protocol error")
    ]


def test_an_ack_before_the_welcome_is_a_violation(
    relay_secret: Spake2Secret, room_keys: RoomKeys
) -> None:
    pair = Pair(make_client(keys=room_keys), make_relay(), credentials=credentials(relay_secret))
    pair.handshake()
    pair.take()
    pair.relay._send_sealed(FrameType.ACK, encode_ack([bytes(16)]))
    pair.shuttle()
    (violation,) = pair.take()[0]
    assert isinstance(violation, proto.ProtocolViolation)
    assert "unexpected ACK in state AWAIT_WELCOME" in violation.reason


# -- history pages ---------------------------------------------------------------------------


def test_a_page_comes_as_history_events_with_their_positions(
    relay_secret: Spake2Secret, room_keys: RoomKeys
) -> None:
    # WELCOME carries 2 items; the relay keeps 100.
    room = Room(relay_secret, history_limit=2, history=MemoryHistory(100, max_bytes=10**7))
    alice = room.connect(make_client("alice", room_keys))
    bob = room.connect(make_client("bob", room_keys))
    room.pump()
    send(alice, "m1", "m2", "m3")
    room.pump()
    assert bob.client.last_position == 3
    device = bob.client  # its keyring and the ids it has seen outlive the connection
    bob.client.send_goodbye(Reason.LEAVING, "bye")
    room.pump()
    for n in range(4, 9):  # while bob is away
        send(alice, f"m{n}")
    room.pump()
    # Back, resuming after 3: WELCOME has 7 and 8 (alice hands him her new key for them).
    bob = room.connect(
        make_client(
            "bob",
            room_keys,
            resume_after=3,
            keyring=device.keyring,
            seen_ids=device.seen_ids,
            label=b"bob again",
        )
    )
    welcome = welcomed(bob.client_events)
    assert (welcome.history_start, [e.position for e in welcome.history]) == (7, [7, 8])
    room.pump()
    assert positions(bob.take()[0]) == [(7, "m7", True), (8, "m8", True)]
    # He pages back for 4 … 6, two at a time: the newest two below 7 first.
    bob.client.request_history(before=welcome.history_start, limit=2)
    room.pump()
    events = bob.take()[0]
    assert events == [
        *_opened_at(events, 5, 6),
        proto.HistoryPageReceived(first_position=5, count=2),
    ]
    bob.client.request_history(before=5, limit=500)
    room.pump()
    # The relay does not know what bob holds: the page has 1 … 4, and 1 … 3, seen before,
    # come to nothing (they still hold their positions: the page says where it starts).
    events = bob.take()[0]
    assert events == [*_opened_at(events, 4), proto.HistoryPageReceived(first_position=1, count=4)]
    assert bob.client.last_position == 8  # pages fill in below what the WELCOME reached


def _opened_at(events: list[proto.Event], *wanted: int) -> list[proto.ChatOpened]:
    """The messages opened in ``events``, checked to be m{n} from history at position n for
    each of ``wanted``, in order."""
    found = [e for e in events if isinstance(e, proto.ChatOpened)]
    assert [(e.position, e.text, e.from_history) for e in found] == [
        (n, f"m{n}", True) for n in wanted
    ]
    return found


def test_a_page_with_nothing_older_says_so(relay_secret: Spake2Secret, room_keys: RoomKeys) -> None:
    room = Room(relay_secret, history_limit=2, history=MemoryHistory(3, max_bytes=10**7))
    alice = room.connect(make_client("alice", room_keys))
    for n in range(1, 6):  # positions 1 … 5; the relay keeps 3 … 5
        send(alice, f"m{n}")
    room.pump()
    bob = room.connect(make_client("bob", room_keys))
    room.pump()
    bob.take()
    bob.client.request_history(before=4, limit=10)
    room.pump()
    events = bob.take()[0]
    assert [e.position for e in chats(events)] == [3]
    assert events[-1] == proto.HistoryPageReceived(first_position=3, count=1)
    bob.client.request_history(before=3, limit=10)
    room.pump()
    assert bob.take()[0] == [proto.HistoryPageReceived(first_position=3, count=0)]


def test_a_locked_item_in_a_page_keeps_its_position_when_its_key_comes(
    relay_secret: Spake2Secret, room_keys: RoomKeys
) -> None:
    room = Room(relay_secret, history_limit=1, history=MemoryHistory(100, max_bytes=10**7))
    alice = room.connect(make_client("alice", room_keys))
    send(alice, "one", "two", "three")  # alone: her key went to nobody
    room.pump()
    room.hold_shares = True
    bob = room.connect(make_client("bob", room_keys))
    assert [(e.position, type(e)) for e in welcomed(bob.client_events).history] == [
        (3, proto.ChatLocked)
    ]
    bob.take()
    bob.client.request_history(before=3, limit=10)
    room.pump()
    events = bob.take()[0]
    assert [e for e in events if not isinstance(e, proto.MemberArrived)] == [
        proto.ChatLocked(sender="alice", message_id=e.message_id, from_history=True, position=n)
        for n, e in zip((1, 2), chats(events), strict=True)
    ] + [proto.HistoryPageReceived(first_position=1, count=2)]
    room.hold_shares = False
    room.release_shares()
    opened = sorted(positions(bob.take()[0]))
    assert opened == [(1, "one", True), (2, "two", True), (3, "three", True)]


def test_history_can_be_asked_for_only_once_joined(
    relay_secret: Spake2Secret, room_keys: RoomKeys
) -> None:
    pair = Pair(make_client(keys=room_keys), make_relay(), credentials=credentials(relay_secret))
    with pytest.raises(LocalProtocolError):
        pair.client.request_history(before=5, limit=10)  # not even connected
    pair.handshake()
    assert pair.client.state is ClientState.AWAIT_WELCOME
    with pytest.raises(LocalProtocolError):
        pair.client.request_history(before=5, limit=10)  # not welcomed yet
    assert pair.client.data_to_send() == b""
    assert pair.relay.send_history_page(1, []) is False  # nor does the relay answer yet
    assert pair.relay.send_ack([bytes(16)]) is False
    assert pair.relay.data_to_send() == b""
    pair.relay.accept_join(
        WelcomeArgs(
            name="alice",
            members=(member_info("alice"),),
            broadcast_key=BROADCAST_KEY,
            next_seq=1,
            next_position=1,
            history=(),
            max_message_bytes=MAX_MESSAGE_BYTES,
        )
    )
    pair.shuttle()
    pair.take()
    for before, limit in ((1, 10), (0, 10), (5, 0), (5, 1001)):
        with pytest.raises(LocalProtocolError):
            pair.client.request_history(before=before, limit=limit)
    assert pair.client.data_to_send() == b""
    pair.client.request_history(before=2**64 - 1, limit=1000)
    pair.shuttle()
    assert pair.take()[1] == [proto.HistoryRequested(before=2**64 - 1, limit=1000)]


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        pytest.param(
            encode_history_page(0, [encode_item(ChatItem(sender="a", envelope=bytes(200)))]),
            "positions start at 1",
            id="first position 0",
        ),
        pytest.param(
            (3).to_bytes(8, "big")
            + b"\x00\x01"
            + encode_item(
                JoinedItem(member=MemberInfo(name="x", signing_key=bytes(32), dh_key=bytes(32)))
            ),
            "non-chat",
            id="a JOINED item",
        ),
        pytest.param(encode_history_page(3, []) + b"\x00", "trailing", id="trailing"),
        pytest.param((3).to_bytes(8, "big") + b"\x00\x01", "truncated", id="an item missing"),
    ],
)
def test_a_malformed_page_is_a_protocol_violation(alice: Pair, payload: bytes, words: str) -> None:
    alice.relay._send_sealed(FrameType.HISTORY_PAGE, payload)
    alice.shuttle()
    (violation,) = alice.take()[0]
    assert isinstance(violation, proto.ProtocolViolation) and words in violation.reason
    assert alice.client.state is ClientState.FAILED


def test_a_welcome_whose_history_reaches_below_position_1_is_a_violation(
    relay_secret: Spake2Secret, room_keys: RoomKeys
) -> None:
    pair = Pair(make_client(keys=room_keys), make_relay(), credentials=credentials(relay_secret))
    pair.handshake()
    pair.take()
    item = encode_item(ChatItem(sender="zed", envelope=b"Z" * 16 + bytes(200)))
    welcome = Welcome(
        your_name="alice",
        members=(),
        broadcast_key=BROADCAST_KEY,
        next_seq=1,
        next_position=2,
        max_message_bytes=MAX_MESSAGE_BYTES,
        history=(item,),
    ).encode()
    offset = 1 + len("alice") + 2 + 32 + 8  # your_name, member count, key, next_seq
    assert welcome[offset : offset + 8] == (2).to_bytes(8, "big")
    pair.relay._send_sealed(
        FrameType.WELCOME, welcome[:offset] + (1).to_bytes(8, "big") + welcome[offset + 8 :]
    )
    pair.shuttle()
    (violation,) = pair.take()[0]
    assert isinstance(violation, proto.ProtocolViolation)
    assert "next_position" in violation.reason


# -- the relay core --------------------------------------------------------------------------


def test_history_before_join_is_a_violation(
    relay_secret: Spake2Secret, room_keys: RoomKeys
) -> None:
    raw, relay = RawClient("alice", room_keys, join=False), make_relay()
    creds = credentials(relay_secret)
    raw.initiate()
    events: list[proto.Event] = []
    for _ in range(10):
        relay.receive_data(raw.data_to_send())
        for event in relay.events_received():
            events.append(event)
            if isinstance(event, proto.RoomRequested):
                relay.select_room(creds)
        raw.receive_data(relay.data_to_send())
    assert raw.handshake_done and relay.state is RelayState.AWAIT_JOIN
    raw.send_history(5, 10)
    relay.receive_data(raw.data_to_send())
    (violation,) = [e for e in relay.events_received() if isinstance(e, proto.ProtocolViolation)]
    assert "unexpected HISTORY in state AWAIT_JOIN" in violation.reason
    raw.receive_data(relay.data_to_send())
    assert raw.goodbye == Goodbye(Reason.PROTOCOL_ERROR, "protocol error")
    assert relay.state is RelayState.FAILED


def test_history_while_the_join_is_pending_is_a_violation(
    relay_secret: Spake2Secret, room_keys: RoomKeys
) -> None:
    pair = Pair(make_client(keys=room_keys), make_relay(), credentials=credentials(relay_secret))
    pair.handshake()
    pair.take()
    pair.client._send_sealed(FrameType.HISTORY, encode_history_request(5, 10))
    pair.shuttle()
    (violation,) = pair.take()[1]
    assert isinstance(violation, proto.ProtocolViolation)
    assert "unexpected HISTORY in state JOIN_PENDING" in violation.reason


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        pytest.param((1).to_bytes(8, "big") + b"\x00\x01", "position", id="before 1"),
        pytest.param((9).to_bytes(8, "big") + b"\x00\x00", "1 to 1000", id="limit 0"),
        pytest.param((9).to_bytes(8, "big") + b"\x03\xe9", "1 to 1000", id="limit 1001"),
        pytest.param(encode_history_request(9, 1) + b"\x00", "trailing", id="trailing"),
        pytest.param(b"\x00" * 9, "truncated", id="short"),
    ],
)
def test_a_malformed_history_request_is_a_violation(
    alice: Pair, payload: bytes, words: str
) -> None:
    alice.client._send_sealed(FrameType.HISTORY, payload)
    alice.shuttle()
    (violation,) = alice.take()[1]
    assert isinstance(violation, proto.ProtocolViolation) and words in violation.reason


@pytest.mark.parametrize(
    ("frame_type", "payload"),
    [
        (FrameType.ACK, encode_ack([bytes(16)])),
        (FrameType.HISTORY_PAGE, encode_history_page(1, [])),
    ],
)
def test_relay_frames_sent_to_a_relay_are_violations(
    alice: Pair, frame_type: FrameType, payload: bytes
) -> None:
    alice.client._send_sealed(frame_type, payload)
    alice.shuttle()
    (violation,) = alice.take()[1]
    assert isinstance(violation, proto.ProtocolViolation)
    assert f"unexpected {frame_type.name}" in violation.reason
