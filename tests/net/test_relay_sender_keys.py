"""The relay core and sender keys: SHARES and WANT from a joined member only, checked and
reported as events; SHARE handed to a joined member only; the membership tag in JoinRequested.

The client side is tests/net/raw_client.py (a bare core, not ClientProtocol): it sends these
frames in any state, as a broken or hostile client could.
"""

from __future__ import annotations

import pytest

from crypto.kdf import RoomKeys
from crypto.spake2 import Spake2Secret
from net import proto
from net.proto import RelayProtocol, RelayState, WelcomeArgs
from net.proto._frames import FrameType, Reason
from net.proto._messages import MAX_WANTED, SHARE_BLOB_SIZE, encode_shares, encode_wanted
from tests.net.helpers import credentials, identity, make_relay
from tests.net.raw_client import Goodbye, RawClient, Share

KEY_B, KEY_C = identity("bob").signing_public, identity("carol").signing_public
BLOB_1, BLOB_2 = bytes([1]) * SHARE_BLOB_SIZE, bytes(range(SHARE_BLOB_SIZE))
SHARES = encode_shares([(KEY_B, BLOB_1), (KEY_C, BLOB_2)])
WANT = encode_wanted([(KEY_B, 7), (KEY_C, 1)])
TAG = bytes(range(200, 232))


class _Link:
    """A raw client and a relay core in memory; the relay side answers as the driver would
    (its room, and a welcome to an empty room) unless told to hold the join."""

    def __init__(self, secret: Spake2Secret, keys: RoomKeys, *, join: bool, accept: bool) -> None:
        self.client = RawClient("alice", keys, identity=identity("alice"), tag=TAG, join=join)
        self.relay: RelayProtocol = make_relay()
        self.credentials = credentials(secret)
        self.accept = accept
        self.events: list[proto.Event] = []
        self.client.initiate()
        self.shuttle()

    def shuttle(self) -> None:
        for _ in range(20):
            up = self.client.data_to_send()
            if up:
                self.relay.receive_data(up)
            for event in self.relay.events_received():
                self.events.append(event)
                if isinstance(event, proto.RoomRequested):
                    self.relay.select_room(self.credentials)
                elif isinstance(event, proto.JoinRequested) and self.accept:
                    self.relay.accept_join(
                        WelcomeArgs(
                            name=event.username,
                            members=(),
                            broadcast_key=bytes(32),
                            next_seq=0,
                            next_position=1000,
                            history=(),
                            max_message_bytes=4000,
                        )
                    )
            down = self.relay.data_to_send()
            if down:
                self.client.receive_data(down)
            if not up and not down:
                return
        raise AssertionError("never quiet")

    def send(self, frame_type: FrameType, payload: bytes) -> list[proto.Event]:
        """Send one sealed frame; return the relay's events for it."""
        seen = len(self.events)
        self.client.send_sealed(frame_type, payload)
        self.shuttle()
        return self.events[seen:]


@pytest.fixture
def joined(relay_secret: Spake2Secret, room_keys: RoomKeys) -> _Link:
    link = _Link(relay_secret, room_keys, join=True, accept=True)
    assert link.relay.state is RelayState.JOINED
    return link


@pytest.mark.parametrize(
    ("frame_type", "payload"), [(FrameType.SHARES, SHARES), (FrameType.WANT, WANT)]
)
@pytest.mark.parametrize(
    ("join", "state"), [(False, "AWAIT_JOIN"), (True, "JOIN_PENDING")], ids=["no-join", "pending"]
)
def test_shares_and_want_before_the_welcome_are_violations(
    relay_secret, room_keys, frame_type: FrameType, payload: bytes, join: bool, state: str
) -> None:
    link = _Link(relay_secret, room_keys, join=join, accept=False)
    assert link.relay.state is RelayState[state]
    (violation,) = link.send(frame_type, payload)
    assert isinstance(violation, proto.ProtocolViolation)
    assert f"unexpected {frame_type.name} in state {state}" in violation.reason
    assert link.relay.state is RelayState.FAILED
    assert link.client.goodbye == Goodbye(Reason.PROTOCOL_ERROR, "protocol error")


def test_a_joined_member_hands_out_shares(joined: _Link) -> None:
    assert joined.send(FrameType.SHARES, SHARES) == [
        proto.SharesSubmitted(shares=((KEY_B, BLOB_1), (KEY_C, BLOB_2)))
    ]


def test_a_joined_member_asks_for_keys_and_the_payload_is_kept_as_sent(joined: _Link) -> None:
    assert joined.send(FrameType.WANT, WANT) == [proto.KeysWanted(payload=WANT)]
    most = encode_wanted([(KEY_B, n) for n in range(1, MAX_WANTED + 1)])
    assert joined.send(FrameType.WANT, most) == [proto.KeysWanted(payload=most)]


@pytest.mark.parametrize(
    ("frame_type", "payload"),
    [
        pytest.param(FrameType.SHARES, b"\x00\x00", id="no-shares"),
        pytest.param(FrameType.SHARES, SHARES + b"\x00", id="shares-trailing"),
        pytest.param(FrameType.SHARES, SHARES[:-1], id="shares-short"),
        pytest.param(FrameType.SHARES, b"\x00\x03" + SHARES[2:], id="shares-miscounted"),
        pytest.param(FrameType.WANT, b"\x00\x00", id="want-nothing"),
        pytest.param(
            FrameType.WANT,
            (MAX_WANTED + 1).to_bytes(2, "big") + (KEY_B + bytes(4)) * (MAX_WANTED + 1),
            id="want-too-many",
        ),
        pytest.param(FrameType.WANT, WANT + b"\x00", id="want-trailing"),
        pytest.param(FrameType.WANT, WANT[:-1], id="want-short"),
    ],
)
def test_malformed_shares_and_wants_are_violations(
    joined: _Link, frame_type: FrameType, payload: bytes
) -> None:
    events = joined.send(frame_type, payload)
    assert [type(e) for e in events] == [proto.ProtocolViolation]
    assert joined.client.goodbye == Goodbye(Reason.PROTOCOL_ERROR, "protocol error")


def test_a_share_is_handed_to_a_joined_member_only(relay_secret, room_keys) -> None:
    link = _Link(relay_secret, room_keys, join=True, accept=False)
    assert link.relay.state is RelayState.JOIN_PENDING
    assert link.relay.send_share(KEY_B, BLOB_1) is False
    assert link.relay.data_to_send() == b""
    link.accept = True
    link.relay.accept_join(
        WelcomeArgs(
            name="alice",
            members=(),
            broadcast_key=bytes(32),
            next_seq=0,
            next_position=1000,
            history=(),
            max_message_bytes=4000,
        )
    )
    assert link.relay.send_share(KEY_B, BLOB_2) is True
    link.shuttle()
    assert link.client.shares == [Share(distributor=KEY_B, blob=BLOB_2)]
    link.relay.send_goodbye(Reason.ROOM_CLOSING, "closing")
    assert link.relay.send_share(KEY_B, BLOB_1) is False


def test_the_join_request_carries_the_membership_tag(joined: _Link) -> None:
    (request,) = [e for e in joined.events if isinstance(e, proto.JoinRequested)]
    assert request == proto.JoinRequested(
        username="alice",
        signing_key=identity("alice").signing_public,
        dh_key=identity("alice").dh_public,
        tag=TAG,
    )
