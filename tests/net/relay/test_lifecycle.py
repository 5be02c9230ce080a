"""How a relay stops and what its members' clients make of it, through real sockets and real
relay processes: every way of stopping sends its own GOODBYE before the connection closes
(SIGTERM: RELAY_RESTARTING; Ctrl-C: ROOM_CLOSING; the app's hosted room: ROOM_CLOSED), and the
client reconnects by itself after the first two and stops for good after the third.

The clients' clocks are :class:`ManualClock` objects the test moves (then ``client.wake()``),
so no test waits for a backoff in real time.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator

import pytest

from net import proto
from net.client import events as ce
from net.client import texts
from net.proto import Reason
from net.relay import RelayThread
from net.relay.roomfile import RoomSecret
from tests.net.client_support import ClientFactory, advance_until, nth
from tests.net.client_support import is_ as _is
from tests.net.relay.support import BASE, ManualClock, wait_until
from tests.net.relay.test_relay_cli import RelayProcess
from tests.net.wire import WireClient

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.fixture
def clients() -> Iterator[ClientFactory]:
    factory = ClientFactory()
    yield factory
    factory.close()


def _goodbye_then_close(member: WireClient) -> proto.GoodbyeReceived:
    """Read until the relay closes ``member``'s connection: the GOODBYE must be the last
    thing before the close (nothing after it, and it came before the socket closed)."""
    events = member.wait_closed()
    *_, goodbye, closed = events
    assert isinstance(closed, proto.ConnectionClosed)
    assert isinstance(goodbye, proto.GoodbyeReceived), events[-4:]
    return goodbye


# -- the relay: each way of stopping says why ------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        (Reason.RELAY_RESTARTING, "The relay is restarting."),
        (Reason.ROOM_CLOSING, "The relay is shutting down."),
        (Reason.ROOM_CLOSED, "The host closed the room."),
    ],
)
def test_stop_sends_its_reason_to_every_member_before_closing(relays, reason, text) -> None:
    relay = relays.start()
    alice, bob = relays.member("alice"), relays.member("bob")
    relay.stop(reason=reason)
    for member in (alice, bob):
        assert _goodbye_then_close(member) == proto.GoodbyeReceived(code=reason, text=text)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", relays.port), timeout=5).close()


def test_a_hosted_room_that_closes_says_room_closed(relays) -> None:
    relay = relays.start()  # RelayThread: what "Host a room" runs
    alice = relays.member("alice")
    relay.stop()
    assert _goodbye_then_close(alice).code is Reason.ROOM_CLOSED


@pytest.fixture
def spawn(tmp_path) -> Iterator[Callable[..., RelayProcess]]:
    started: list[RelayProcess] = []

    def _spawn(*args: str) -> RelayProcess:
        process = RelayProcess(*args, cwd=tmp_path)
        started.append(process)
        return process

    yield _spawn
    for process in started:
        process.kill()


@posix_only
@pytest.mark.parametrize(
    ("sig", "reason", "words"),
    [
        (signal.SIGTERM, Reason.RELAY_RESTARTING, "the relay is restarting"),
        (signal.SIGINT, Reason.ROOM_CLOSING, "the relay is shutting down"),
    ],
)
def test_the_headless_relay_says_why_it_stops_on_a_signal_and_exits_0(
    spawn, tmp_path, room_keys, sig, reason, words
) -> None:
    room_file = tmp_path / "room.json"
    RoomSecret.from_room_keys(room_keys).save(room_file)
    relay = spawn("--room-file", str(room_file))
    port = relay.port()
    alice = WireClient(port, "alice", room_keys)
    bob = WireClient(port, "bob", room_keys)
    try:
        alice.join()
        bob.join()
        relay.wait_line(r"user bob \(127\.0\.0\.1:\d+\) connected")
        assert relay.stop(sig) == 0
        for member in (alice, bob):
            assert _goodbye_then_close(member).code is reason
        relay.wait_line(rf"stopping on {signal.Signals(sig).name}: members are told {words}")
    finally:
        alice.close()
        bob.close()


# -- the client: what it makes of each ---------------------------------------------------------


def _relay(secret: RoomSecret, port: int = 0) -> RelayThread:
    relay = RelayThread(secret, BASE, port=port)
    relay.start()
    return relay


def test_a_restarting_relay_is_rejoined_by_itself_soon_and_nothing_is_lost(
    clients, secret, room_keys
) -> None:
    relay = _relay(secret)
    port = relay.port
    clock = ManualClock()
    alice, events = clients(port, "alice", keys=room_keys, clock=clock)
    events.wait_for(_is(ce.Joined))
    try:
        relay.stop(reason=Reason.RELAY_RESTARTING)
        lost = events.wait_for(_is(ce.Disconnected))
        assert lost.reason == texts.RELAY_RESTARTING
        assert 0.5 <= lost.retry_in <= 1.5  # soon, spread over a second
        sent = alice.send("typed while it restarted")  # kept, not refused
        relay = _relay(secret, port)  # back on the same port, the same room
        clock.advance(lost.retry_in)
        alice.wake()
        assert events.wait_for(nth(ce.Joined, 2)).reconnected
        events.wait_for(_is(ce.MessageStored, message_id=sent.message_id))
        assert not events.of(ce.Failed) and not events.of(ce.NotSent)
    finally:
        relay.stop()


def test_a_relay_that_shuts_down_is_retried_with_backoff(clients, secret, room_keys) -> None:
    relay = _relay(secret)
    port = relay.port
    clock = ManualClock()
    alice, events = clients(port, "alice", keys=room_keys, clock=clock)
    events.wait_for(_is(ce.Joined))
    relay.stop(reason=Reason.ROOM_CLOSING)
    lost = events.wait_for(_is(ce.Disconnected))
    assert lost.reason == texts.RELAY_SHUTTING_DOWN
    assert 0.25 <= lost.retry_in <= 0.5  # the usual first backoff
    # Nobody there yet: it keeps trying, waiting longer each time, and never gives up by
    # itself.
    clock.advance(lost.retry_in)
    alice.wake()
    again = events.wait_for(nth(ce.Disconnected, 2))
    assert again.retry_in > lost.retry_in / 2 and again.retry_in >= 0.5
    relay = _relay(secret, port)
    try:
        clock.advance(again.retry_in)
        alice.wake()
        assert events.wait_for(nth(ce.Joined, 2)).reconnected
        assert not events.of(ce.Failed)
    finally:
        relay.stop()


def test_a_hosted_room_that_closes_is_final_with_words_for_a_host(
    clients, secret, room_keys
) -> None:
    relay = _relay(secret)
    alice, events = clients(relay.port, "alice", keys=room_keys, clock=ManualClock())
    events.wait_for(_is(ce.Joined))
    relay.stop()  # the host closes its room
    failed = events.wait_for(_is(ce.Failed))
    assert failed == ce.Failed(kind=ce.ErrorKind.ROOM_CLOSED, message=texts.HOST_CLOSED)
    assert "rejoin once they host it again" in failed.message
    assert not events.of(ce.Disconnected)
    wait_until(lambda: not alice.is_alive(), what="the client to stop")


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (Reason.ROOM_CLOSING, texts.RELAY_SHUTTING_DOWN),
        (Reason.ROOM_CLOSED, texts.RELAY_SHUTTING_DOWN),
        (Reason.RELAY_RESTARTING, texts.RELAY_RESTARTING),
    ],
)
def test_a_refusal_while_the_relay_stops_is_retried_not_final(
    clients, room_keys, code, words
) -> None:
    # A relay that stops refuses those still in the handshake with its reason; but REFUSED
    # comes before any key, and anyone on the path could forge it, so it never stops a client
    # for good by itself. A listener that refuses every hello so.
    with socket.create_server(("127.0.0.1", 0)) as server:
        threading.Thread(target=_refuse_every_hello, args=(server, code), daemon=True).start()
        clock = ManualClock()
        client, events = clients(server.getsockname()[1], "alice", keys=room_keys, clock=clock)
        advance_until(clock, client, events, nth(ce.Connecting, 2), step=1.0)
        # Before a first join it tries a few times, then says why (not "the host closed it").
        failed = advance_until(clock, client, events, _is(ce.Failed), step=1.0)
        assert failed.message == words
        assert failed.kind is not ce.ErrorKind.ROOM_CLOSED
        assert len(events.of(ce.Connecting)) > 2


def _refuse_every_hello(server: socket.socket, code: Reason) -> None:
    while True:
        try:
            conn, _ = server.accept()
        except OSError:  # the test is over
            return
        with conn:
            conn.recv(4096)
            core = proto.RelayProtocol()
            core.refuse(code, "The room is closing.")
            conn.sendall(core.data_to_send())
