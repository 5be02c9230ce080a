"""The asyncio relay over real sockets on 127.0.0.1: joins, chat fan-out, presence, history,
refusals, the room's relay key and room selection, deadlines, idle reaping, the message rate
limit, stopping, and RelayThread."""

from __future__ import annotations

import errno
import logging
import socket

import pytest

import net.proto._relay
from crypto.identity import Identity
from crypto.spake2 import Spake2
from net import proto
from net.proto import DEFAULT_ROOM, MemberInfo
from net.proto._frames import Reason
from net.proto._messages import ClientHello, Refusal
from net.relay import RelayConfig, RelayThread
from net.relay.roomfile import RoomSecret
from tests.net.helpers import frame, split_frames
from tests.net.relay.support import ManualClock, wait_until
from tests.net.wire import WireClient

pytestmark = pytest.mark.timeout(60)


def texts(events) -> list[str]:
    return [e.text for e in events if isinstance(e, proto.ChatOpened)]


def listed(client: WireClient, name: str | None = None) -> MemberInfo:
    """``client`` as the relay lists it: its name and the identity keys it proved."""
    return MemberInfo(
        name=name or client.proto.username,
        signing_key=client.identity.signing_public,
        dh_key=client.identity.dh_public,
        tag=client.tag,  # as its JOIN carried it: the relay lists it unchanged
    )


class _CountingSpake2(Spake2):
    """The relay's SPAKE2, counting the handshakes it starts (its share goes in RELAY_HELLO)."""

    runs = 0

    def start(self) -> bytes:
        type(self).runs += 1
        return super().start()


def read_refusal(sock: socket.socket) -> Refusal:
    """Read one REFUSED frame and the EOF after it from a raw socket."""
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    (body,) = split_frames(data)
    assert body[0] == 0x08
    return Refusal.decode(body[1:])


# -- joining and chatting -------------------------------------------------------------------


def test_members_chat_and_everyone_gets_every_message_once(relays) -> None:
    relays.start()
    alice, bob, carol = (relays.member(name) for name in ("alice", "bob", "carol"))
    alice.say("hello", "anyone?")
    bob.say("hi alice")
    for member in (alice, bob, carol):
        member.hear("hi alice")
        member.hear("anyone?")
    for member in (alice, bob, carol):
        heard = texts(member.events)
        assert sorted(heard) == ["anyone?", "hello", "hi alice"]  # own echo included, once
        assert heard.index("hello") < heard.index("anyone?")
    own = [e for e in alice.events if isinstance(e, proto.ChatOpened) and e.sender == "alice"]
    assert [e.text for e in own] == ["hello", "anyone?"]


def test_one_chat_frame_is_relayed_as_one_sealed_broadcast(relays) -> None:
    relay = relays.start()
    alice = relays.member("alice")
    before = relay.stats().broadcasts
    alice.say("one", "two", "three")
    alice.hear("three")
    assert relay.stats().broadcasts == before + 1


def test_every_accepted_socket_has_nodelay(relays) -> None:
    relay = relays.start()
    relays.member("alice")

    def nodelay() -> list[int]:
        return [
            member.transport.get_extra_info("socket").getsockopt(
                socket.IPPROTO_TCP, socket.TCP_NODELAY
            )
            for member in relay.relay._connections
        ]

    assert relay.call(nodelay) == [1]


def test_presence_joins_and_leaves_with_reasons(relays) -> None:
    relays.start()
    alice = relays.member("alice")
    bob = relays.client("bob")
    welcome = bob.join()
    # Everyone with the keys it proved, in the order they joined, the joiner last.
    assert welcome.members == (listed(alice), listed(bob))
    assert alice.wait_type(proto.MemberArrived) == proto.MemberArrived(member=listed(bob))
    carol = relays.member("carol")
    assert alice.wait_type(proto.MemberArrived) == proto.MemberArrived(member=listed(carol))
    assert bob.wait_type(proto.MemberArrived) == proto.MemberArrived(member=listed(carol))
    # The joiner is never told about itself: its WELCOME already lists it.
    assert not [e for e in carol.events if isinstance(e, proto.MemberArrived)]
    bob.leave()
    assert alice.wait_type(proto.MemberDeparted) == proto.MemberDeparted(
        name="bob", code=Reason.LEAVING
    )
    carol.close()  # no goodbye: the connection is simply gone
    assert alice.wait_type(proto.MemberDeparted) == proto.MemberDeparted(
        name="carol", code=Reason.CONNECTION_LOST
    )


def test_a_late_joiner_gets_the_history_once(relays) -> None:
    relay = relays.start(history=3)
    alice = relays.member("alice")
    for n in range(5):
        alice.say(f"message {n}")
    alice.hear("message 4")
    dave = relays.client("dave")
    welcome = dave.join()
    # Alice's key has not reached dave: the history is locked until she answers his WANT.
    assert [type(m) for m in welcome.history] == [proto.ChatLocked] * 3
    assert all(m.from_history for m in welcome.history)
    for n in (2, 3, 4):
        opened = dave.hear(f"message {n}")
        assert opened.from_history
    alice.say("after")
    dave.hear("after")
    assert texts(dave.events) == [f"message {n}" for n in (2, 3, 4)] + ["after"]
    assert relay.stats().history == 3


def test_names_clash_ignoring_case(relays) -> None:
    relay = relays.start()
    relays.member("Alice")
    other = relays.client("aLICE")  # another identity
    goodbye = other.wait_type(proto.GoodbyeReceived)
    assert goodbye.code is Reason.NAME_TAKEN
    other.wait_closed()
    assert relay.stats().members == ("Alice",)


def test_room_full(relays) -> None:
    relays.start(max_members=2)
    relays.member("a")
    relays.member("b")
    third = relays.client("c")
    assert third.wait_type(proto.GoodbyeReceived).code is Reason.ROOM_FULL


def test_wrong_password_is_auth_failed_and_logged(relays, wrong_keys, caplog) -> None:
    caplog.set_level(logging.INFO, logger="socketchat.relay")
    relay = relays.start()
    mallory = relays.client("mallory", wrong_keys)
    failed = mallory.wait_type(proto.AuthenticationFailed)
    assert failed.cause is proto.AuthFailure.WRONG_PASSWORD
    mallory.wait_closed()
    wait_until(lambda: relay.stats().connections == 0)
    assert (
        relay.call(lambda: relay.relay.admission.logins.failures("127.0.0.1", relay.relay.now()))
        == 1
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "socketchat.relay"]
    assert any(
        line.startswith("login refused from 127.0.0.1:")
        and line.endswith(": wrong password (1 recent failures)")
        for line in lines
    ), lines


def test_incompatible_version_is_refused(relays) -> None:
    relays.start()
    with socket.create_connection(("127.0.0.1", relays.port), timeout=10) as sock:
        sock.sendall(frame(0x01, ClientHello(versions=(1, 3)).encode()))  # version 1 and a future
        refusal = read_refusal(sock)
    assert refusal.code is Reason.INCOMPATIBLE_VERSION
    assert "version 2" in refusal.text


def test_log_lines_name_user_and_address_and_nothing_secret(
    relays, caplog, room_keys, relay_identity
) -> None:
    caplog.set_level(logging.INFO, logger="socketchat.relay")
    relay = relays.start()
    alice = relays.member("alice")
    alice.say("top secret plaintext")
    alice.hear("top secret plaintext")
    port = alice.sock.getsockname()[1]
    alice.leave()
    wait_until(lambda: relay.stats().connections == 0)
    lines = [r.getMessage() for r in caplog.records if r.name == "socketchat.relay"]
    assert f"user alice (127.0.0.1:{port}) connected" in lines
    assert f"user alice (127.0.0.1:{port}) disconnected (left the room)" in lines
    everything = "\n".join(lines)
    for secret_text in (
        "top secret plaintext",
        room_keys.access.hex(),
        room_keys.member.hex(),
        relay.relay.room.broadcast_key.hex(),
        relay_identity.to_secret().hex(),
        relay_identity.to_secret()[:32].hex(),  # the signing seed alone
    ):
        assert secret_text not in everything


# -- the room's relay key and room selection ------------------------------------------------


def test_every_connection_is_shown_the_rooms_relay_key(relays, secret, wrong_keys) -> None:
    # Members pin the key they are shown: it must be the room's, the same on every connection
    # (members, a wrong password, a room asked for by its id), never one made per connection.
    relays.start()
    clients = [
        relays.member("alice"),
        relays.member("bob", room_id=secret.room_id),
        relays.client("mallory", wrong_keys),
    ]
    for client in clients:
        shown = client.wait_type(proto.RelayIdentified)
        assert shown == proto.RelayIdentified(room_id=secret.room_id, relay_key=secret.relay_key)
        assert client.proto.relay_key == secret.relay_key
    assert len(secret.relay_key) == 32


def test_a_member_who_pinned_the_relay_key_gets_in(relays, secret) -> None:
    relays.start()
    relays.client("alice", expected_relay_key=secret.relay_key).join()


def test_a_relay_with_another_key_gets_no_guess_and_counts_none(relays, room_keys) -> None:
    # The same room (id and verifier) hosted with another relay identity: a member who pinned
    # the first key stops at RELAY_HELLO, before sending anything that depends on the password.
    pinned = Identity.generate().signing_public
    relay = relays.start()
    client = relays.client("alice", expected_relay_key=pinned)
    mismatch = client.wait_type(proto.RelayKeyMismatch)
    assert mismatch.expected == pinned and mismatch.presented == relays.secret.relay_key
    assert not client.proto.confirmation_sent
    client.close()
    wait_until(lambda: relay.stats().connections == 0, what="the connection to go")
    assert (
        relay.call(lambda: relay.relay.admission.logins.failures("127.0.0.1", relay.relay.now()))
        == 0
    )


def test_a_room_file_keeps_the_relay_key_across_restarts(relays, secret, tmp_path) -> None:
    path = tmp_path / "office.room"
    secret.save(path)
    shown = []
    for _ in range(2):  # a relay, stopped, then another one from the same file
        relay = relays.start(secret=RoomSecret.load(path))
        member = relays.client("alice", expected_relay_key=secret.relay_key)
        member.join()
        shown.append(member.proto.relay_key)
        member.close()
        relay.stop()
    assert shown == [secret.relay_key, secret.relay_key]


def test_a_client_asking_for_another_room_is_refused_before_any_pake_work(
    relays, secret, monkeypatch, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="socketchat.relay")
    monkeypatch.setattr(net.proto._relay, "Spake2", _CountingSpake2)
    _CountingSpake2.runs = 0
    relay = relays.start()
    other_room = bytes(reversed(secret.room_id))
    client = relays.client("alice", room_id=other_room)
    refused = client.wait_type(proto.Refused)
    assert refused.code is Reason.NO_SUCH_ROOM
    client.wait_closed()
    assert _CountingSpake2.runs == 0  # no share computed, nothing signed for that room
    assert not client.proto.confirmation_sent
    assert not [e for e in client.events if isinstance(e, proto.RelayIdentified)]
    wait_until(lambda: relay.stats().connections == 0, what="the connection to go")
    assert relay.stats().handshakes == 0  # its handshake slot is free again
    assert (
        relay.call(lambda: relay.relay.admission.logins.failures("127.0.0.1", relay.relay.now()))
        == 0
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "socketchat.relay"]
    assert any(f"asked for room {other_room.hex()[:8]}, not served here" in line for line in lines)
    # The relay's own room is still served, by its id and as the default.
    relays.member("alice", room_id=secret.room_id)
    assert _CountingSpake2.runs == 1


def test_the_default_room_and_the_rooms_own_id_both_work(relays, secret) -> None:
    relay = relays.start()
    by_default = relays.member("alice", room_id=DEFAULT_ROOM)
    by_id = relays.member("bob", room_id=secret.room_id)
    for member in (by_default, by_id):
        assert member.proto.room_id == secret.room_id
    by_default.say("same room")
    by_id.hear("same room")
    assert relay.stats().members == ("alice", "bob")


# -- deadlines ------------------------------------------------------------------------------


def test_handshake_deadline(relays) -> None:
    relay = relays.start(handshake_timeout=0.3)
    with socket.create_connection(("127.0.0.1", relays.port), timeout=10) as sock:
        refusal = read_refusal(sock)  # we never say hello
    assert refusal.code is Reason.HANDSHAKE_TIMEOUT
    wait_until(lambda: relay.stats().connections == 0)
    assert relay.stats().handshakes == 0


def test_silent_members_are_pinged_then_reaped(relays) -> None:
    relays.start(idle_ping=0.2, idle_timeout=0.6)
    alice = relays.member("alice")
    bob = relays.member("bob", serves=False)  # bob never reads again, never answers a ping
    left = alice.wait_for(lambda e: isinstance(e, proto.MemberDeparted), timeout=10)
    assert left == proto.MemberDeparted(name="bob", code=Reason.IDLE_TIMEOUT)
    bob_events = bob.wait_closed()
    assert any(isinstance(e, proto.PingReceived) for e in bob_events)
    assert bob_events[-2] == proto.GoodbyeReceived(
        code=Reason.IDLE_TIMEOUT, text=bob_events[-2].text
    )
    # alice answered every ping while she read (the core answers PING by itself): still in.
    assert any(isinstance(e, proto.PingReceived) for e in alice.events)
    alice.say("still here")
    alice.hear("still here")


# -- message rate ---------------------------------------------------------------------------


def test_flooding_member_is_told_to_slow_down_and_paused_not_dropped(relays) -> None:
    clock = ManualClock()
    relay = relays.start(message_rate=10.0, message_burst=5.0, clock=clock)
    flooder = relays.member("flooder")
    listener = relays.member("listener")
    flooder.wait_type(proto.MemberArrived)  # so that its first frame hands the listener its key
    for n in range(8):
        flooder.say(f"flood {n}")
    notice = flooder.wait_type(proto.NoticeReceived)
    assert notice.code is Reason.RATE_LIMITED
    assert "slow down" in notice.text
    assert relay.stats().throttled == 1  # what it sends now waits its turn
    for n in range(8, 12):
        flooder.say(f"flood {n}")
    wait_until(lambda: relay.stats().history == 5, what="the burst")
    # The bucket refills to its burst and no further, however long the wait: 5 at a time.
    clock.advance(60.0)
    wait_until(lambda: relay.stats().history == 10, what="the next burst")
    clock.advance(60.0)
    listener.hear("flood 11")
    assert texts(listener.events) == [f"flood {n}" for n in range(12)]  # none lost, in order
    clock.advance(60.0)
    wait_until(lambda: relay.stats().throttled == 0)


# -- stopping -------------------------------------------------------------------------------


def test_stop_tells_members_the_room_is_closed(relays) -> None:
    relay = relays.start()  # a RelayThread, as the app's "Host a room" runs it
    alice = relays.member("alice")
    bob = relays.member("bob")
    relay.stop()
    for member in (alice, bob):
        events = member.wait_closed()
        assert proto.GoodbyeReceived(code=Reason.ROOM_CLOSED, text=events[-2].text) in events
    relay.stop()  # idempotent
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", relays.port), timeout=5).close()


def test_relay_thread_reports_a_port_in_use(secret) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        relay = RelayThread(secret, RelayConfig(host="127.0.0.1", port=port))
        with pytest.raises(OSError) as info:
            relay.start()
        assert info.value.errno == errno.EADDRINUSE
        relay.stop()  # harmless after a failed start


def test_relay_thread_host_and_port_overrides(secret, room_keys) -> None:
    relay = RelayThread(secret, host="127.0.0.1", port=0)
    port = relay.start()
    try:
        assert port > 0 and relay.running
        assert relay.stats().port == port
    finally:
        relay.stop()
    assert not relay.running
