"""Resuming through a real relay on 127.0.0.1 (PROTOCOL.md 3.5): a member that comes back
says the newest position it holds and gets only what it missed, in its WELCOME and, past what
one WELCOME carries, in HISTORY pages; a message sent again after a lost ACK is acknowledged
again and reaches nobody twice.

Clients are :class:`tests.net.wire.WireClient` (the client core over a blocking socket); a
member that comes back is the same device: the same identity and keyring.
"""

from __future__ import annotations

import pytest

from crypto.identity import Identity
from net import proto
from net.proto import Keyring
from net.proto._history import MemoryHistory
from net.proto._messages import PendingMessage
from tests.net.relay.support import RelayFactory
from tests.net.wire import WireClient

pytestmark = pytest.mark.timeout(60)

Chat = proto.ChatOpened | proto.ChatForged | proto.ChatLocked


def opened(client: WireClient) -> dict[int, str]:
    """Every message ``client`` opened so far: position → text."""
    return {e.position: e.text for e in client.events if isinstance(e, proto.ChatOpened)}


def welcomed(client: WireClient) -> proto.Welcomed:
    (welcome,) = [e for e in client.events if isinstance(e, proto.Welcomed)]
    return welcome


def stored(client: WireClient, message_ids: list[bytes]) -> None:
    """Wait until the relay has acknowledged every one of ``message_ids`` to ``client``."""
    waiting = set(message_ids)
    while waiting:
        event = client.wait_type(proto.MessagesStored)
        waiting -= set(event.message_ids)


class Device:
    """One member's device: the identity and keyring every connection of it uses."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.identity = Identity.generate()
        self.keyring = Keyring(self.identity)

    def join(self, relays: RelayFactory, resume_after: int = 0) -> WireClient:
        return relays.member(
            self.name, identity=self.identity, keyring=self.keyring, resume_after=resume_after
        )


def _away(alice: WireClient, bob: WireClient) -> int:
    """Bob leaves (alice sees it); returns the newest position he held."""
    held = bob.proto.last_position
    bob.leave()
    alice.wait_for(lambda e: isinstance(e, proto.MemberDeparted) and e.name == "bob")
    return held


def test_a_member_back_gets_only_what_it_missed(relays: RelayFactory) -> None:
    relays.start()
    alice = relays.member("alice")
    device = Device("bob")
    bob = device.join(relays)
    alice.wait_type(proto.MemberArrived)
    alice.say("m1", "m2", "m3")
    bob.hear("m3")
    assert opened(bob) == {1: "m1", 2: "m2", 3: "m3"}
    held = _away(alice, bob)
    assert held == 3
    stored(alice, alice.say("m4", "m5"))  # stored before bob comes back
    bob = device.join(relays, resume_after=held)
    welcome = welcomed(bob)
    assert [e.position for e in welcome.history] == [4, 5]  # nothing it holds
    assert (welcome.history_start, welcome.next_position) == (4, 6)
    bob.hear("m5")  # alice's key for them comes when bob asks (he left: a fresh one)
    assert opened(bob) == {4: "m4", 5: "m5"}
    assert all(e.from_history for e in bob.events if isinstance(e, Chat))
    alice.say("m6")
    assert bob.hear("m6").position == 6
    assert bob.proto.last_position == 6


def test_a_member_that_missed_more_than_a_welcome_holds_pages_back(
    relays: RelayFactory,
) -> None:
    # A WELCOME carries 5 stored messages at most; the relay keeps 1,000.
    relays.start(store=MemoryHistory(1000, max_bytes=10**7), history=5)
    alice = relays.member("alice")
    device = Device("bob")
    bob = device.join(relays)
    alice.wait_type(proto.MemberArrived)
    alice.say("m1", "m2", "m3")
    bob.hear("m3")
    held = _away(alice, bob)
    stored(alice, alice.say(*(f"m{n}" for n in range(4, 16))))  # 12 while bob is away
    bob = device.join(relays, resume_after=held)
    welcome = welcomed(bob)
    assert [e.position for e in welcome.history] == [11, 12, 13, 14, 15]
    assert welcome.history_start == 11
    # Page back, four at a time, until the page reaches what bob held (PROTOCOL.md 3.5).
    before, pages = welcome.history_start, []
    while before > held + 1:
        bob.proto.request_history(before=before, limit=4)
        bob.flush()
        page = bob.wait_type(proto.HistoryPageReceived)
        pages.append((page.first_position, page.count))
        before = page.first_position
    assert pages == [(7, 4), (3, 4)]  # 7 … 10, then 3 … 6 (3, which bob held, comes again)
    bob.hear("m15")
    bob.wait_for(lambda e: isinstance(e, proto.ChatOpened) and e.position == 4)
    got = opened(bob)
    assert {n: got[n] for n in range(4, 16)} == {n: f"m{n}" for n in range(4, 16)}
    assert all(e.from_history for e in bob.events if isinstance(e, Chat))
    # The relay keeps the room's first message too: the page that reaches it ends there.
    bob.proto.request_history(before=2, limit=4)
    bob.flush()
    assert bob.wait_type(proto.HistoryPageReceived) == proto.HistoryPageReceived(
        first_position=1, count=1
    )


def test_a_message_sent_again_is_acknowledged_again_and_reaches_nobody_twice(
    relays: RelayFactory,
) -> None:
    relays.start()
    alice = relays.member("alice")
    bob = relays.member("bob")
    alice.wait_type(proto.MemberArrived)
    (message_id,) = alice.say("once")
    stored(alice, [message_id])
    assert bob.hear("once").position == 1
    # The ACK was lost, say: alice sends it again, with the same id.
    alice.proto.send_messages([PendingMessage("once", message_id, 1)])
    alice.flush()
    assert alice.wait_type(proto.MessagesStored).message_ids == (message_id,)
    # Nothing was broadcast for it: the next message takes position 2, for both.
    alice.say("next")
    assert bob.hear("next").position == 2
    assert alice.hear("next").position == 2
    assert [p for p, text in opened(bob).items() if text == "once"] == [1]
