"""How often a member asks the room for keys it waits for (WANT): once, again when the key's
owner comes back, and otherwise only now and then, so arrivals never flood the relay."""

from __future__ import annotations

from net import proto
from net.proto._frames import FrameType
from tests.net.helpers import Room, make_client


def join(room: Room, keys, name: str, **kwargs):
    pair = room.connect(make_client(name, keys, **kwargs))
    room.pump()
    return pair


def wants(pair) -> int:
    return pair.sent_by_client().count(FrameType.WANT)


def test_arrivals_do_not_make_a_member_ask_again_but_the_owner_s_return_does(
    relay_secret, room_keys
):
    room = Room(relay_secret)
    alice = join(room, room_keys, "alice")
    alice.client.send_messages([("said while alone", alice.client.new_message_id(), 1)])
    room.pump()
    keyring = alice.client.keyring
    room.disconnect("alice")
    room.pump()
    carol = join(room, room_keys, "carol")
    assert [type(e) for e in carol.client_events if isinstance(e, proto.Welcomed)]
    assert wants(carol) == 1  # once, after its WELCOME: nobody here holds alice's key
    for name in ("dave", "erin", "frank"):
        join(room, room_keys, name)
    assert wants(carol) == 1  # newcomers do not hold it: no WANT per arrival
    join(room, room_keys, "alice", keyring=keyring)  # the key's owner is back
    assert wants(carol) == 2
    opened = [e.text for e in carol.client_events if isinstance(e, proto.ChatOpened)]
    assert opened == ["said while alone"]
