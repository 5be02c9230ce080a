"""Names on a running relay, over real sockets: a name belongs to the identity that first used
it (also while its holder is away, and across restarts through the names file), look-alikes
of other identities' names are refused, and the same identity joining again replaces its old
connection instead of being listed twice."""

from __future__ import annotations

import json
import logging
import os
import stat
import sys

import pytest

from crypto.identity import Identity
from net import proto
from net.proto import MemberInfo, Reason
from net.relay import Relay, RelayConfig
from net.relay.bindings import bindings_path
from tests.net.relay.support import wait_until
from tests.net.wire import WireClient

pytestmark = pytest.mark.timeout(60)
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


def refused_name(relays, name: str, identity: Identity | None = None) -> Reason | int:
    """The code of the GOODBYE a join as ``name`` gets (a new identity unless given). The name
    is sent as it is, even one the client's own check would refuse, as a hostile client may."""
    client = relays.client("placeholder", identity=identity or Identity.generate(), start=False)
    client.proto.username = name
    client.proto.initiate()
    client.flush()
    answer = client.wait_for(lambda e: isinstance(e, proto.GoodbyeReceived | proto.Welcomed))
    assert isinstance(answer, proto.GoodbyeReceived), f"{name!r} was let in"
    client.wait_closed()
    return answer.code


def listed(client: WireClient, name: str | None = None) -> MemberInfo:
    return MemberInfo(
        name=name or client.proto.username,
        signing_key=client.identity.signing_public,
        dh_key=client.identity.dh_public,
        tag=client.tag,  # as its JOIN carried it: the relay lists it unchanged
    )


# -- a name belongs to an identity --------------------------------------------------------------


def test_a_name_stays_with_its_identity_while_its_holder_is_away(relays, caplog) -> None:
    caplog.set_level(logging.INFO, logger="socketchat.relay")
    relay = relays.start()
    alice = Identity.generate()
    relays.member("alice", identity=alice).leave()
    wait_until(lambda: relay.stats().members == (), what="alice to leave")
    for asked in ("alice", "ALICE"):
        assert refused_name(relays, asked) is Reason.NAME_TAKEN
    lines = [r.getMessage() for r in caplog.records if r.name == "socketchat.relay"]
    assert any("belongs to another member" in line for line in lines)
    back = relays.member("alice", identity=alice)  # hers to come back to
    assert back.proto.members["alice"].signing_key == alice.signing_public
    assert relay.stats().members == ("alice",)


@pytest.mark.parametrize("present", [True, False], ids=["present", "away"])
@pytest.mark.parametrize(
    ("held", "asked"),
    [
        pytest.param("alice", "ａｌｉｃｅ", id="fullwidth"),
        pytest.param("alice", "a1ice", id="digit-one"),
        pytest.param("ace", "асе", id="all-cyrillic"),
    ],
)
def test_a_look_alike_of_another_identitys_name_is_refused(
    relays, held: str, asked: str, present: bool
) -> None:
    relay = relays.start()
    holder = relays.member(held)
    if not present:
        holder.leave()
        wait_until(lambda: relay.stats().members == (), what="the holder to leave")
    assert refused_name(relays, asked) is Reason.NAME_LOOKALIKE


@pytest.mark.parametrize("asked", ["аlice", "alice\u034f"], ids=["cyrillic-a", "grapheme-joiner"])
def test_look_alikes_that_break_the_name_rules_are_refused_as_invalid(relays, asked) -> None:
    relays.start()
    relays.member("alice")
    assert refused_name(relays, asked) is Reason.NAME_INVALID


def test_the_holder_of_a_name_may_use_it_in_another_case(relays) -> None:
    relay = relays.start()
    alice = Identity.generate()
    relays.member("alice", identity=alice).leave()
    wait_until(lambda: relay.stats().members == (), what="alice to leave")
    relays.member("Alice", identity=alice)
    assert relay.stats().members == ("Alice",)


# -- one identity, one member ---------------------------------------------------------------


@pytest.mark.parametrize("again_as", ["alice", "Alice", "ally"])
def test_the_same_identity_joining_again_replaces_its_old_connection(relays, again_as) -> None:
    relay = relays.start()
    identity = Identity.generate()
    bob = relays.member("bob")
    old = relays.member("alice", identity=identity)
    assert bob.wait_type(proto.MemberArrived).member == listed(old)
    new = relays.client(again_as, identity=identity)
    welcome = new.join()
    goodbye = old.wait_type(proto.GoodbyeReceived)
    assert goodbye.code is Reason.REPLACED
    old.wait_closed()
    # Listed once, under the new connection's name, by everyone.
    assert welcome.members == (listed(bob), listed(new))
    assert bob.wait_type(proto.MemberDeparted) == proto.MemberDeparted(
        name="alice", code=Reason.REPLACED
    )
    assert bob.wait_type(proto.MemberArrived).member == listed(new)
    wait_until(lambda: relay.stats().connections == 2, what="the old connection to go")
    assert relay.stats().members == ("bob", again_as)
    # The old connection's end removed nothing: the member is there, and speaks.
    new.say("still me")
    bob.hear("still me")
    assert [e for e in bob.events if isinstance(e, proto.MemberDeparted)] == [
        proto.MemberDeparted(name="alice", code=Reason.REPLACED)
    ]


# -- bindings across restarts: the names file ------------------------------------------------


def test_names_survive_a_restart_through_the_names_file(relays, tmp_path) -> None:
    names_file = bindings_path(tmp_path / "office.room")
    alice = Identity.generate()
    first = relays.start(names_file=names_file)
    relays.member("alice", identity=alice).leave()
    wait_until(lambda: first.stats().members == (), what="alice to leave")
    first.stop()
    relays.start(names_file=names_file)  # a new relay process, as it were
    assert refused_name(relays, "alice") is Reason.NAME_TAKEN
    assert refused_name(relays, "a1ice") is Reason.NAME_LOOKALIKE
    relays.member("alice", identity=alice)


def _saved(path) -> dict[str, str]:
    document = json.loads(path.read_text())
    assert set(document) == {"format", "version", "names"}
    assert (document["format"], document["version"]) == ("socketchat-room-names", 1)
    names: dict[str, str] = document["names"]
    return names


@posix_only
def test_the_names_file_is_private_and_holds_names_and_public_keys_only(
    relays, tmp_path, room_keys, relay_identity
) -> None:
    names_file = bindings_path(tmp_path / "office.room")
    old = os.umask(0)  # even with a permissive umask
    try:
        relays.start(names_file=names_file)
        alice, bob = Identity.generate(), Identity.generate()
        relays.member("Alice", identity=alice)
        relays.member("bob", identity=bob)
    finally:
        os.umask(old)
    assert stat.S_IMODE(names_file.stat().st_mode) == 0o600
    assert _saved(names_file) == {
        "alice": alice.signing_public.hex(),  # keyed as names are compared: ignoring case
        "bob": bob.signing_public.hex(),
    }
    text = names_file.read_text()
    for secret_text in (
        room_keys.access.hex(),
        relay_identity.to_secret().hex(),
        alice.to_secret().hex(),
        alice.dh_public.hex(),  # public, but not needed to hold a name
    ):
        assert secret_text not in text
    assert sorted(os.listdir(tmp_path)) == ["office.room.names"]  # no temporary file left


def test_a_returning_member_does_not_rewrite_the_names_file(relays, tmp_path) -> None:
    names_file = bindings_path(tmp_path / "office.room")
    alice = Identity.generate()
    relay = relays.start(names_file=names_file)
    relays.member("alice", identity=alice).leave()
    wait_until(lambda: relay.stats().members == (), what="alice to leave")
    names_file.write_text(names_file.read_text() + "\n")  # a mark a rewrite would wipe
    relays.member("alice", identity=alice)
    assert names_file.read_text().endswith("}\n")
    relays.member("bob")  # a new name: written at once
    assert set(_saved(names_file)) == {"alice", "bob"}


def test_a_damaged_names_file_stops_the_relay(secret, tmp_path) -> None:
    names_file = bindings_path(tmp_path / "office.room")
    names_file.write_text('{"format": "socketchat-room-names", "version": 1, "names": []}')
    with pytest.raises(ValueError, match=r"is damaged\. Restore it from a backup, or delete it"):
        Relay(secret, RelayConfig(port=0), names_file=names_file)
