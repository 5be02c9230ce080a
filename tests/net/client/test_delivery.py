"""What happens to a message sent with the real client library, when connections break.

A real relay on 127.0.0.1; the sender goes through a :class:`FaultProxy` that loses the message
on its way to the relay, or the relay's ACK and echo on their way back, and then cuts the
connection, as a network failure between send and ACK would. Each test checks the promise
(PROTOCOL.md 3.5): the outbox keeps a message until the relay confirms it stored it, resends it
with the same id after the reconnect, and every member gets it exactly once. Clocks are
injected: the reconnect waits end with ``retry_now()`` or a moved clock, never a sleep.
"""

from __future__ import annotations

import threading

import pytest

from bench.faultproxy import FaultProxy
from net.client import ClientStopped
from net.client import events as ce
from net.client.errors import CLIENT_CLOSED, LEFT_BEFORE_SENT
from net.proto import Reason
from net.relay import RelayConfig, RelayThread
from tests.net.client_support import Recorder, nth
from tests.net.client_support import is_ as _is
from tests.net.relay.support import ManualClock, wait_until


def _goodbye_everyone(relay: RelayThread, code: Reason, text: str) -> None:
    """The relay ends every connection with GOODBYE ``code`` (as its stop or a restart does)."""

    def run() -> None:
        for member in list(relay.relay._connections):
            member.end(code, text, announce=False)

    relay.call(run)


def _room(clients, relay, proxy, room_keys, **alice_options):
    """alice through the proxy (on a manual clock), bob straight to the relay; both joined."""
    clock = ManualClock()
    alice, alice_events = clients(proxy.port, "alice", keys=room_keys, clock=clock, **alice_options)
    alice_events.wait_for(_is(ce.Joined))
    bob, bob_events = clients(relay.port, "bob", keys=room_keys)
    bob_events.wait_for(_is(ce.Joined))
    alice_events.wait_for(_is(ce.MemberJoined, name="bob"))
    return alice, alice_events, bob, bob_events


def _sync(bob, bob_events: Recorder, *others: Recorder, text: str = "sync") -> None:
    """A marker from bob: once everyone has it, everything sent before it was fanned out."""
    bob.send(text)
    for events in (bob_events, *others):
        events.wait_for(_is(ce.MessageReceived, text=text))


def _reconnect_now(relay, client, events: Recorder, n: int) -> None:
    """After the ``n``-th Disconnected, once the relay let the old connection go: retry at
    once (no clock moved) and expect the ``n + 1``-th Joined."""
    events.wait_for(nth(ce.Disconnected, n))
    wait_until(lambda: client.username not in relay.stats().members, what="the old connection")
    client.retry_now()
    joined = events.wait_for(nth(ce.Joined, n + 1))
    assert joined.reconnected


def test_a_message_whose_ack_is_lost_stays_in_the_outbox_and_arrives_once(
    relay, proxy, clients, room_keys
):
    alice, alice_events, bob, bob_events = _room(clients, relay, proxy, room_keys)
    proxy.lose_to_clients()  # the relay stores and fans out; its ACK and echo never come back
    sent = alice.send("stored, but the ACK is lost")
    bob_events.wait_for(_is(ce.MessageReceived, message_id=sent.message_id))
    _sync(bob, bob_events)  # the relay has long since acknowledged it
    assert alice.pending() == (sent,)  # kept: alice never heard that the room has it
    assert not alice_events.of(ce.MessageStored)

    proxy.lose_to_clients(False)
    proxy.cut()
    _reconnect_now(relay, alice, alice_events, 1)
    stored = alice_events.wait_for(_is(ce.MessageStored, message_id=sent.message_id))
    alice.wait_sent(5.0)
    assert alice.pending() == ()
    _sync(bob, bob_events, alice_events, text="after")
    # The relay knew the id: it only acknowledged again, it did not store or send it twice.
    assert bob_events.texts().count("stored, but the ACK is lost") == 1
    assert len([e for e in alice_events.of(ce.MessageStored) if e == stored]) == 1
    # Positions count on without a hole or a copy.
    positions = [e.position for e in bob_events.of(ce.MessageReceived)]
    assert positions == sorted(set(positions))


def test_a_message_lost_on_its_way_to_the_relay_is_resent_with_its_id_and_arrives_once(
    relay, proxy, clients, room_keys
):
    alice, alice_events, bob, bob_events = _room(clients, relay, proxy, room_keys)
    first = alice.send("first")
    alice_events.wait_for(_is(ce.MessageStored, message_id=first.message_id))
    proxy.lose_to_relay()
    lost = alice.send("never reached the relay")
    later = alice.send("nor this one")
    _sync(bob, bob_events, alice_events)  # alice still hears the room
    assert "never reached the relay" not in bob_events.texts()
    assert alice.pending() == (lost, later)

    proxy.lose_to_relay(False)
    proxy.cut()
    _reconnect_now(relay, alice, alice_events, 1)
    for message in (lost, later):
        alice_events.wait_for(_is(ce.MessageStored, message_id=message.message_id))
        bob_events.wait_for(_is(ce.MessageReceived, message_id=message.message_id))
    _sync(bob, bob_events, alice_events, text="after")
    received = [e for e in bob_events.of(ce.MessageReceived) if e.sender == "alice"]
    # Once each, in the order written, with the ids and timestamps send() returned.
    assert [(e.message_id, e.timestamp_ms) for e in received] == [
        (m.message_id, m.timestamp_ms) for m in (first, lost, later)
    ]


def test_receivers_drop_a_copy_the_relay_no_longer_recognises(secret, clients, room_keys):
    # A relay that keeps one message: by the time the resend comes, it has forgotten the id
    # and forwards the message again. Receivers drop it by id.
    relay = RelayThread(secret, RelayConfig(host="127.0.0.1", port=0, history=1))
    relay.port = relay.start()
    proxy = FaultProxy(("127.0.0.1", relay.port))
    try:
        alice, alice_events, bob, bob_events = _room(clients, relay, proxy, room_keys)
        proxy.lose_to_clients()
        sent = alice.send("forwarded twice, shown once")
        bob_events.wait_for(_is(ce.MessageReceived, message_id=sent.message_id))
        _sync(bob, bob_events)  # the relay now keeps "sync" and has forgotten alice's id
        proxy.lose_to_clients(False)
        proxy.cut()
        _reconnect_now(relay, alice, alice_events, 1)
        alice_events.wait_for(_is(ce.MessageStored, message_id=sent.message_id))
        _sync(bob, bob_events, alice_events, text="after")
        assert bob_events.texts().count("forwarded twice, shown once") == 1
        # The relay did forward the copy: two positions for one id, and bob showed one.
        assert bob_events.texts() == ["forwarded twice, shown once", "sync", "after"]
    finally:
        proxy.close()
        relay.stop()


def test_close_hands_back_what_the_relay_never_confirmed_and_send_then_raises(
    relay, proxy, clients, room_keys
):
    alice, alice_events, _, bob_events = _room(clients, relay, proxy, room_keys)
    stored = alice.send("confirmed")
    alice_events.wait_for(_is(ce.MessageStored, message_id=stored.message_id))
    proxy.lose_to_clients()
    waiting = alice.send("unconfirmed")
    bob_events.wait_for(_is(ce.MessageReceived, message_id=waiting.message_id))
    alice.close()
    assert not alice.is_alive()
    not_sent = alice_events.wait_for(_is(ce.NotSent))
    # No archive: the messages exist only in this event now.
    assert not_sent == ce.NotSent(messages=(waiting,), reason=LEFT_BEFORE_SENT, kept=False)
    assert not alice_events.of(ce.Failed)
    with pytest.raises(ClientStopped) as raised:
        alice.send("after close")
    assert raised.value.kind is None
    assert str(raised.value) == CLIENT_CLOSED
    assert isinstance(raised.value, ValueError)  # what callers showing send()'s errors catch
    assert alice.pending() == (waiting,)  # what it was, never what came after


def test_close_with_nothing_waiting_says_nothing(relay, clients, room_keys):
    alice, events = clients(relay.port, "alice", keys=room_keys)
    sent = alice.send("hello")
    events.wait_for(_is(ce.MessageStored, message_id=sent.message_id))
    alice.close()
    assert not events.of(ce.NotSent)
    assert not events.of(ce.Failed)


def test_a_final_failure_hands_back_the_outbox_before_failed_and_send_raises_its_kind(
    relay, clients
):
    alice, events = clients(relay.port, "alice", password="not the room password", start=False)
    early = alice.send("typed while joining")
    alice.start()
    failed = events.wait_for(_is(ce.Failed))
    assert failed.kind is ce.ErrorKind.WRONG_PASSWORD
    not_sent = events.of(ce.NotSent)
    assert not_sent == [ce.NotSent(messages=(early,), reason=failed.message, kept=False)]
    assert events.events.index(not_sent[0]) < events.events.index(failed)
    for attempt in range(2):  # every time, never an id
        with pytest.raises(ClientStopped) as raised:
            alice.send(f"after the failure {attempt}")
        assert raised.value.kind is ce.ErrorKind.WRONG_PASSWORD
        assert str(raised.value) == failed.message
    assert alice.stopped is not None and alice.stopped.kind is ce.ErrorKind.WRONG_PASSWORD
    assert alice.pending() == (early,)
    assert alice.wait_sent(0.1) is False  # stopped: nothing will confirm it


def test_room_closed_is_final_and_hands_back_the_outbox(relay, proxy, clients, room_keys):
    alice, alice_events, bob, bob_events = _room(clients, relay, proxy, room_keys)
    proxy.lose_to_relay()
    waiting = alice.send("typed as the room closed")
    _sync(bob, bob_events, alice_events)
    _goodbye_everyone(relay, Reason.ROOM_CLOSED, "The room was closed.")
    failed = alice_events.wait_for(_is(ce.Failed))
    assert failed.kind is ce.ErrorKind.ROOM_CLOSED
    assert alice_events.of(ce.NotSent) == [
        ce.NotSent(messages=(waiting,), reason=failed.message, kept=False)
    ]
    assert not alice_events.of(ce.Disconnected)  # no automatic reconnect
    with pytest.raises(ClientStopped) as raised:
        alice.send("too late")
    assert raised.value.kind is ce.ErrorKind.ROOM_CLOSED


def test_a_relay_restarting_is_reconnected_by_itself_and_the_outbox_goes_out(
    relay, proxy, clients, room_keys
):
    alice, alice_events, bob, bob_events = _room(clients, relay, proxy, room_keys)
    proxy.lose_to_relay()
    waiting = alice.send("typed as the relay said it restarts")
    _sync(bob, bob_events, alice_events)
    proxy.lose_to_relay(False)
    _goodbye_everyone(relay, Reason.RELAY_RESTARTING, "The relay is restarting.")
    for client, events in ((alice, alice_events), (bob, bob_events)):
        disconnected = events.wait_for(_is(ce.Disconnected))
        assert 0.5 <= disconnected.retry_in <= 1.5  # soon, jittered: it is coming back
        if client is bob:
            client.retry_now()  # bob runs on the real clock: this only skips ~1 s
    _reconnect_now(relay, alice, alice_events, 1)
    bob_events.wait_for(nth(ce.Joined, 2))
    alice_events.wait_for(_is(ce.MessageStored, message_id=waiting.message_id))
    # alice left and came back: her next message is under a new sender key, which may reach
    # bob after the message (it shows locked, then opens by itself).
    bob_events.wait_for(_is(ce.MessageReceived, message_id=waiting.message_id))
    _sync(bob, bob_events, alice_events, text="after")
    assert bob_events.texts().count("typed as the relay said it restarts") == 1
    assert not alice_events.of(ce.Failed) and not alice_events.of(ce.NotSent)


def test_retry_now_ends_the_wait_at_once_and_only_that_wait(relay, proxy, clients, room_keys):
    alice, alice_events, _, _ = _room(clients, relay, proxy, room_keys)
    alice.retry_now()  # while connected: nothing to skip, and nothing remembered for later
    proxy.cut()
    alice_events.wait_for(_is(ce.Disconnected))
    wait_until(lambda: "alice" not in relay.stats().members, what="the old connection")
    # The clock does not move: without retry_now the wait would never end.
    with pytest.raises(AssertionError, match="no matching event"):
        alice_events.wait_for(nth(ce.Connecting, 2), timeout=0.3)
    alice.retry_now()
    alice_events.wait_for(nth(ce.Joined, 2))


def test_wait_sent_returns_once_everything_is_confirmed(relay, proxy, clients, room_keys):
    alice, alice_events, _, _ = _room(clients, relay, proxy, room_keys)
    proxy.lose_to_clients()
    alice.send("one")
    alice.send("two")
    assert alice.wait_sent(0.2) is False
    done = threading.Event()
    threading.Thread(target=lambda: alice.wait_sent(10.0) and done.set(), daemon=True).start()
    proxy.lose_to_clients(False)
    proxy.cut()
    _reconnect_now(relay, alice, alice_events, 1)
    assert done.wait(10.0)
    assert alice.pending() == ()
