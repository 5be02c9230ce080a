"""ChatClient in an owned room against a real relay: roles, removal, and a password change
that the members who stay follow by themselves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crypto.identity import Identity
from net.client import Role
from net.client import events as ce
from net.relay import RelayConfig, RelayThread, create_owned_room
from tests.net.client_support import CHEAP, ClientFactory
from tests.net.client_support import is_ as _is
from tests.net.helpers import PASSWORD

ALICE = Identity.generate()


def failed(kind: ce.ErrorKind):
    return lambda event: isinstance(event, ce.Failed) and event.kind is kind


@pytest.fixture
def owned() -> Iterator[tuple[RelayThread, object]]:
    keys, secret = create_owned_room(PASSWORD, ALICE, n=CHEAP)
    thread = RelayThread(secret, RelayConfig(host="127.0.0.1", port=0))
    thread.port = thread.start()
    yield thread, keys
    thread.stop()


@pytest.fixture
def clients() -> Iterator[ClientFactory]:
    factory = ClientFactory()
    yield factory
    factory.close()


def test_the_owner_removes_and_changes_the_password_and_the_others_follow(owned, clients):
    relay, keys = owned
    alice, alice_events = clients(relay.port, "alice", keys=keys, identity=ALICE)
    alice_events.wait_for(_is(ce.Joined))
    bob, bob_events = clients(relay.port, "bob", password=PASSWORD)
    _carol, carol_events = clients(relay.port, "carol", password=PASSWORD)
    alice_events.wait_for(_is(ce.MemberJoined, name="carol"))
    assert alice.my_role is Role.OWNER and bob.my_role is Role.MEMBER
    with pytest.raises(ValueError, match="Only the room's owner"):
        bob.change_password()

    new_password = alice.change_password(remove="carol")
    carol_events.wait_for(failed(ce.ErrorKind.REMOVED))
    told = bob_events.wait_for(_is(ce.PasswordChanged))
    assert (told.by, told.password, told.own) == ("alice", new_password, False)
    mine = alice_events.wait_for(_is(ce.PasswordChanged))
    assert (mine.password, mine.own) == (new_password, True)
    # Everyone is closed and comes back with the new password, without anyone typing it.
    bob_events.wait_for(_is(ce.Joined, reconnected=True), timeout=30)
    alice_events.wait_for(_is(ce.Joined, reconnected=True), timeout=30)
    sent = alice.send("after the change")
    bob_events.wait_for(_is(ce.MessageReceived, message_id=sent.message_id))
    # The old password opens nothing any more, whoever tries it.
    _, old_events = clients(relay.port, "carol2", password=PASSWORD)
    old_events.wait_for(failed(ce.ErrorKind.WRONG_PASSWORD), timeout=30)
    _, new_events = clients(relay.port, "dave", password=new_password)
    new_events.wait_for(_is(ce.Joined))
