"""Property tests: no input, however split, makes a protocol core raise or buffer past its cap.

Two strategies: plain random bytes (exercises framing and the first frame), and mutations of a
recorded, valid session (gets deep into the encrypted phase, where plain noise never reaches).
"""

from __future__ import annotations

import functools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto.kdf import derive_room_keys
from crypto.spake2 import Spake2Secret
from crypto.transport import BroadcastSealer
from net import proto
from net.proto import WelcomeArgs, encode_broadcast
from net.proto._frames import MAX_HANDSHAKE_FRAME, MAX_RELAY_FRAME, Reason
from net.proto._messages import ChatItem, JoinedItem
from tests.net.helpers import BROADCAST_KEY, PASSWORD, ROOM_ID, Pair, make_client, make_relay

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def _keys():
    keys = derive_room_keys(PASSWORD, room_id=ROOM_ID, n=2**10)
    return keys, Spake2Secret.from_access_key(keys.access)


@functools.cache
def recorded_session() -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """(the client's chunks, the relay's chunks) in one deterministic session."""
    keys, secret = _keys()
    pair = Pair(make_client(keys=keys), make_relay(secret))
    pair.handshake()
    sealer = BroadcastSealer(BROADCAST_KEY)
    pair.relay.accept_join(
        WelcomeArgs(
            name="alice",
            members=("alice", "bob"),
            broadcast_key=BROADCAST_KEY,
            next_seq=sealer.next_seq,
            history=(),
            max_message_bytes=1000,
        )
    )
    pair.shuttle()
    pair.client.send_messages([("hello", bytes(16), 1), ("again", bytes(range(16)), 2)])
    pair.client.send_ping(3)
    pair.relay.send_notice(Reason.RATE_LIMITED, "slow down")
    pair.shuttle()
    submitted = [e for e in pair.relay_events if isinstance(e, proto.MessagesSubmitted)]
    items = [ChatItem.from_outgoing(m, sender="alice") for m in submitted[0].messages]
    pair.relay.send_raw(encode_broadcast(sealer, [JoinedItem(name="bob"), *items]))
    pair.client.send_goodbye(Reason.LEAVING, "bye")
    pair.shuttle()
    return tuple(pair.to_relay_log), tuple(pair.to_client_log)


def _boundaries(chunks) -> list[int]:
    """Where the recorded chunks ended: a client never sends CHAT in the JOIN's chunk."""
    ends, total = [], 0
    for chunk in chunks:
        total += len(chunk)
        ends.append(total)
    return ends


def _feed(core, data: bytes, cuts: list[int], cap: int) -> list:
    events = []
    points = sorted({c % (len(data) + 1) for c in cuts})
    for start, end in zip([0, *points], [*points, len(data)], strict=True):
        core.receive_data(data[start:end])  # must never raise
        assert core._reader.buffered <= max(4, cap)
        events += core.events_received()
        core.data_to_send()
    core.receive_eof()
    events += core.events_received()
    assert events[-1] == proto.ConnectionClosed()
    violations = [i for i, e in enumerate(events) if isinstance(e, proto.ProtocolViolation)]
    # After a violation, nothing but the final ConnectionClosed.
    assert all(i >= len(events) - 2 for i in violations)
    return events


def _fresh_client():
    client = make_client(keys=_keys()[0])
    client.initiate()
    client.data_to_send()
    return client


def _fresh_relay():
    return make_relay(_keys()[1])


@SETTINGS
@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 3000), max_size=8))
def test_random_bytes_to_the_relay(data: bytes, cuts: list[int]) -> None:
    _feed(_fresh_relay(), data, cuts, MAX_HANDSHAKE_FRAME)


@SETTINGS
@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 3000), max_size=8))
def test_random_bytes_to_the_client(data: bytes, cuts: list[int]) -> None:
    _feed(_fresh_client(), data, cuts, MAX_HANDSHAKE_FRAME)


mutations = st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=0, max_size=3)


def _mutate(data: bytes, edits: list[tuple[int, int]], cut_at: int | None) -> bytes:
    out = bytearray(data)
    for position, mask in edits:
        out[position % len(out)] ^= mask
    if cut_at is not None:
        del out[cut_at % len(out) :]
    return bytes(out)


@SETTINGS
@given(
    edits=mutations,
    cut_at=st.none() | st.integers(0, 10**6),
    cuts=st.lists(st.integers(0, 10**6), max_size=6),
)
def test_mutated_session_to_the_client(edits, cut_at, cuts) -> None:
    _, chunks = recorded_session()
    data = _mutate(b"".join(chunks), edits, cut_at)
    events = _feed(_fresh_client(), data, cuts, MAX_RELAY_FRAME)
    if not edits and cut_at is None:
        assert not any(isinstance(e, proto.ProtocolViolation) for e in events)


@SETTINGS
@given(
    edits=mutations,
    cut_at=st.none() | st.integers(0, 10**6),
    cuts=st.lists(st.integers(0, 10**6), max_size=6),
)
def test_mutated_session_to_the_relay(edits, cut_at, cuts) -> None:
    chunks, _ = recorded_session()
    relay = _fresh_relay()
    data = _mutate(b"".join(chunks), edits, cut_at)
    # Replay the relay's decisions so the session can get past the join.
    events = []
    points = sorted({c % (len(data) + 1) for c in [*cuts, *_boundaries(chunks)]} - {len(data)})
    for start, end in zip([0, *points], [*points, len(data)], strict=True):
        relay.receive_data(data[start:end])
        new = relay.events_received()
        events += new
        if (
            any(isinstance(e, proto.JoinRequested) for e in new)
            and relay.state.name == "JOIN_PENDING"
        ):
            relay.accept_join(
                WelcomeArgs(
                    name="alice",
                    members=("alice",),
                    broadcast_key=BROADCAST_KEY,
                    next_seq=1,
                    history=(),
                    max_message_bytes=1000,
                )
            )
        assert relay._reader.buffered <= 65536
        relay.data_to_send()
    relay.receive_eof()
    events += relay.events_received()
    assert events[-1] == proto.ConnectionClosed()
    if not edits and cut_at is None:
        assert not any(isinstance(e, proto.ProtocolViolation) for e in events)
        assert proto.GoodbyeReceived(code=Reason.LEAVING, text="bye") in events
