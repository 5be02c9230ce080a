"""The relay under bad input and load: garbage, oversize frames, stalls, password guessing,
half-open connections and a member that never reads — each closes only the offending
connection while a live conversation carries on."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import time

import pytest

import net.proto._relay
from crypto.identity import Identity
from crypto.spake2 import Spake2
from net import proto
from net.proto import ClientProtocol, ClientState
from net.proto._frames import FrameType, Reason, encode_frame
from net.proto._messages import Refusal
from net.relay.server import Relay
from tests.net.helpers import split_frames
from tests.net.relay.memory import MemoryPeer
from tests.net.relay.support import BASE, ManualClock, wait_until

pytestmark = pytest.mark.timeout(120)


def conversation_goes_on(alice, bob, text: str) -> None:
    alice.say(text)
    bob.hear(text)


def raw(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def read_to_eof(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


@pytest.mark.parametrize(
    "junk",
    [
        pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", id="http"),
        pytest.param(b"\xff\xff\xff\xff" + b"A" * 100, id="4GiB-length-prefix"),
        pytest.param(b"\x00\x00\x00\x00", id="empty-frame"),
        pytest.param(b"\x00\x00\x00\x05\x42junk", id="unknown-type"),
        pytest.param(b"\x00\x00\x00\x0b\x01NotSocketC\x01", id="bad-magic"),
    ],
)
def test_bad_bytes_close_only_that_connection(relays, junk) -> None:
    relay = relays.start()
    alice, bob = relays.member("alice"), relays.member("bob")
    with raw(relays.port) as sock:
        sock.sendall(junk)
        (body,) = split_frames(read_to_eof(sock))  # one fixed refusal, then EOF
    assert Refusal.decode(body[1:]).code is Reason.PROTOCOL_ERROR
    conversation_goes_on(alice, bob, "unbothered")
    wait_until(lambda: relay.stats().connections == 2)
    assert relay.stats().members == ("alice", "bob")


def test_a_stall_in_the_middle_of_a_frame_meets_the_handshake_deadline(relays) -> None:
    relay = relays.start(handshake_timeout=0.3)
    alice, bob = relays.member("alice"), relays.member("bob")
    with raw(relays.port) as sock:
        sock.sendall(b"\x00\x00\x00\x40\x01Socket")  # 64 bytes announced, 7 sent
        (body,) = split_frames(read_to_eof(sock))
    assert Refusal.decode(body[1:]).code is Reason.HANDSHAKE_TIMEOUT
    conversation_goes_on(alice, bob, "still chatting")
    assert relay.stats().connections == 2


def test_a_member_breaking_the_protocol_is_dropped_and_the_others_are_told(relays) -> None:
    relays.start()
    alice, bob = relays.member("alice"), relays.member("bob")
    mallory = relays.member("mallory")
    mallory.sock.sendall(b"\x00\x00\x00\x20\x12" + b"\x00" * 31)  # a CHAT that fails its tag
    goodbye = mallory.wait_type(proto.GoodbyeReceived)
    assert goodbye.code is Reason.PROTOCOL_ERROR
    left = alice.wait_for(lambda e: isinstance(e, proto.MemberDeparted))
    assert left == proto.MemberDeparted(name="mallory", code=Reason.PROTOCOL_ERROR)
    conversation_goes_on(alice, bob, "good riddance")


def test_an_oversized_frame_from_a_member_is_refused_unread(relays) -> None:
    relays.start()
    alice, bob = relays.member("alice"), relays.member("bob")
    mallory = relays.member("mallory")
    mallory.sock.sendall((2**31).to_bytes(4, "big"))  # 2 GiB announced: nothing is allocated
    assert mallory.wait_type(proto.GoodbyeReceived).code is Reason.PROTOCOL_ERROR
    conversation_goes_on(alice, bob, "fine")


class _CountingSpake2(Spake2):
    runs = 0

    def start(self) -> bytes:
        type(self).runs += 1
        return super().start()


def test_a_password_guesser_is_throttled_before_any_pake_work(
    relays, wrong_keys, monkeypatch, caplog
) -> None:
    caplog.set_level("INFO", logger="socketchat.relay")
    clock = ManualClock()  # frozen: the backoff cannot expire during the test
    monkeypatch.setattr(net.proto._relay, "Spake2", _CountingSpake2)
    _CountingSpake2.runs = 0
    relay = relays.start(clock=clock, login_free_failures=5, login_base_delay=4.0)
    alice, bob = relays.member("alice"), relays.member("bob")
    assert _CountingSpake2.runs == 2
    outcomes = []
    for _ in range(100):
        guesser = relays.client("mallory", wrong_keys)
        outcome = guesser.wait_for(
            lambda e: isinstance(e, proto.AuthenticationFailed | proto.Refused)
        )
        outcomes.append(outcome)
        guesser.close()
    failed = [o for o in outcomes if isinstance(o, proto.AuthenticationFailed)]
    refused = [o for o in outcomes if isinstance(o, proto.Refused)]
    # Five free guesses, the sixth starts the backoff; every later one is refused unheard.
    assert len(failed) == 6 and outcomes[:6] == failed
    assert len(refused) == 94
    assert all(o.code is Reason.TOO_MANY_ATTEMPTS and o.retry_after_ms > 0 for o in refused)
    assert _CountingSpake2.runs == 2 + 6  # no PAKE ran for any refused attempt
    # The members were never disturbed; the source's log lines are few.
    conversation_goes_on(alice, bob, "who keeps knocking?")
    lines = [r.getMessage() for r in caplog.records if r.name == "socketchat.relay"]
    refusals = [line for line in lines if "too many attempts" in line]
    assert 1 <= len(refusals) <= 2, refusals
    assert "retry in 4 s" in refusals[0]
    # Even the right password waits out the block from that address; afterwards it works,
    # and erases none of the address's failures (a guesser may share it).
    blocked = relays.client("carol")
    assert blocked.wait_type(proto.Refused).code is Reason.TOO_MANY_ATTEMPTS
    clock.advance(5.0)
    relays.member("carol")
    assert relay.call(lambda: relay.relay.admission.logins.failures("127.0.0.1", clock())) == 6


def test_guessers_from_many_addresses_share_the_relay_wide_budget(
    relays, wrong_keys, monkeypatch, caplog
) -> None:
    # 127.0.0.2, 127.0.0.3 … are all loopback on Linux: forty "machines", one guess each, so
    # that no address ever comes near its own five free failures.
    caplog.set_level("INFO", logger="socketchat.relay")
    clock = ManualClock()  # frozen: the budget earns nothing back during the test
    monkeypatch.setattr(net.proto._relay, "Spake2", _CountingSpake2)
    _CountingSpake2.runs = 0
    relays.start(clock=clock, login_global_burst=10, login_global_refill=60.0)
    outcomes = []
    for host in range(2, 42):
        guesser = relays.client("mallory", wrong_keys, source=f"127.0.0.{host}")
        outcome = guesser.wait_for(
            lambda e: isinstance(e, proto.AuthenticationFailed | proto.Refused)
        )
        outcomes.append(outcome)
        guesser.close()
    failed = [o for o in outcomes if isinstance(o, proto.AuthenticationFailed)]
    assert len(failed) == 10 and outcomes[:10] == failed
    assert all(
        isinstance(o, proto.Refused)
        and o.code is Reason.TOO_MANY_ATTEMPTS
        and o.retry_after_ms == 60_000
        for o in outcomes[10:]
    )
    assert _CountingSpake2.runs == 10  # no PAKE ran for any refused attempt
    lines = [r.getMessage() for r in caplog.records if r.name == "socketchat.relay"]
    assert len([line for line in lines if "relay-wide" in line]) == 1
    # The right password from an address that never failed waits too, until one is earned back.
    early = relays.client("carol", source="127.0.0.99")
    assert early.wait_type(proto.Refused).code is Reason.TOO_MANY_ATTEMPTS
    clock.advance(60.0)
    relays.client("carol", source="127.0.0.99").join()


def test_a_connection_opened_before_its_address_was_throttled_is_refused_unheard(
    relays, room_keys, wrong_keys
) -> None:
    # Accepted while the address was clean, silent while a guesser spends its free failures
    # and the sixth: its first bytes are refused, not answered with a PAKE (the driver asks
    # Admission again on the first bytes, not only on accept).
    clock = ManualClock()  # frozen: the backoff cannot expire during the test
    relay = relays.start(clock=clock, login_free_failures=5, login_base_delay=4.0)
    with raw(relays.port) as early:
        wait_until(lambda: relay.stats().silent == 1, what="the early connection accepted")
        for _ in range(6):
            guesser = relays.client("mallory", wrong_keys)
            guesser.wait_type(proto.AuthenticationFailed)
            guesser.close()
        hello = ClientProtocol(username="carol", identity=Identity.generate(), keys=room_keys)
        hello.initiate()
        early.sendall(hello.data_to_send())
        frames = split_frames(read_to_eof(early))
    assert len(frames) == 1, f"answered ({len(frames)} frames) instead of refused"
    refusal = Refusal.decode(frames[0][1:])
    assert refusal.code is Reason.TOO_MANY_ATTEMPTS
    assert refusal.retry_after_ms == 4000
    wait_until(lambda: relay.stats().handshakes == 0, what="no handshake left behind")


def _failures(relay, clock) -> int:
    return relay.call(lambda: relay.relay.admission.logins.failures("127.0.0.1", clock()))


def test_a_failed_confirmation_counts_one_failure(relays, wrong_keys) -> None:
    clock = ManualClock()
    relay = relays.start(clock=clock)
    for expected in (1, 2):
        guesser = relays.client("mallory", wrong_keys)
        assert (
            guesser.wait_type(proto.AuthenticationFailed).cause is proto.AuthFailure.WRONG_PASSWORD
        )
        guesser.wait_closed()  # the relay closes after AUTH_FAILED
        wait_until(lambda: relay.stats().connections == 0, what="the guesser's connection to go")
        assert _failures(relay, clock) == expected  # one each, not one per event or close


def test_hanging_up_after_the_relay_hello_counts_nothing(relays, wrong_keys) -> None:
    # Version 2: the relay's share and signature reveal nothing about the password; a guess is
    # decided only by the client's confirmation, and only a confirmation that fails counts.
    clock = ManualClock()
    relay = relays.start(clock=clock, login_free_failures=1, login_base_delay=60.0)
    for _ in range(10):  # more than the free failures: any counting would throttle at once
        sock = raw(relays.port)
        client = ClientProtocol(username="mallory", identity=Identity.generate(), keys=wrong_keys)
        client.initiate()
        sock.sendall(client.data_to_send())
        while client.state is not ClientState.AWAIT_RELAY_CONFIRM:
            data = sock.recv(4096)
            assert data, "the relay closed before its RELAY_HELLO"
            client.receive_data(data)
        assert client.data_to_send()[4] == FrameType.CLIENT_PAKE  # ready, never sent
        sock.close()
        wait_until(lambda: relay.stats().connections == 0, what="the relay to see the hang-up")
    assert _failures(relay, clock) == 0
    assert relay.stats().handshakes == 0
    relays.member("alice")  # not throttled: the address may log in at once


def test_200_silent_connections_are_reaped_while_members_chat(relays) -> None:
    relay = relays.start(
        pre_hello_timeout=0.5, max_silent=256, max_silent_per_source=256
    )  # all 200 come from 127.0.0.1
    alice, bob = relays.member("alice"), relays.member("bob")
    silent = [raw(relays.port) for _ in range(200)]
    try:
        wait_until(lambda: relay.stats().connections == 202, what="202 connections")
        conversation_goes_on(alice, bob, "busy night")
        codes = set()
        for sock in silent:
            (body,) = split_frames(read_to_eof(sock))
            codes.add(Refusal.decode(body[1:]).code)
        assert codes == {Reason.HANDSHAKE_TIMEOUT}
    finally:
        for sock in silent:
            sock.close()
    wait_until(lambda: relay.stats().connections == 2, what="only the members left")
    assert (relay.stats().silent, relay.stats().handshakes) == (0, 0)
    conversation_goes_on(bob, alice, "quiet again")


def silent_from(port: int, source: str) -> socket.socket:
    """A connection from ``source`` (127.0.0.2 … are loopback too) that sends nothing."""
    return socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))


def test_silent_connections_from_many_addresses_do_not_keep_a_member_out(relays) -> None:
    # Sixteen idle sockets from each of five addresses: with a handshake slot each they held
    # all 64 slots for the whole deadline. They hold none until they speak.
    relay = relays.start()  # the product's limits
    silent = [silent_from(relays.port, f"127.0.0.{2 + i // 16}") for i in range(80)]
    try:
        wait_until(lambda: relay.stats().silent == 80, what="80 silent connections")
        started = time.monotonic()
        relays.member("alice")
        assert time.monotonic() - started < 2.0  # at once, not after the 5 s pre-hello deadline
        assert relay.stats().handshakes == 0 and relay.stats().silent == 80
    finally:
        for sock in silent:
            sock.close()
    wait_until(lambda: relay.stats().silent == 0, what="the silent ones gone")


def test_the_oldest_silent_connection_is_dropped_to_make_room(relays) -> None:
    relay = relays.start(max_silent=4)
    silent = [silent_from(relays.port, f"127.0.0.{2 + i}") for i in range(4)]
    try:
        wait_until(lambda: relay.stats().silent == 4, what="4 silent connections")
        relays.member("alice")  # connecting made room: the oldest was dropped
        (body,) = split_frames(read_to_eof(silent[0]))
        assert Refusal.decode(body[1:]).code is Reason.BUSY
        assert relay.stats().silent == 3
    finally:
        for sock in silent:
            sock.close()


def test_an_address_may_hold_only_so_many_silent_connections(relays) -> None:
    relay = relays.start(max_silent_per_source=2)
    silent = [silent_from(relays.port, "127.0.0.2") for _ in range(2)]
    try:
        wait_until(lambda: relay.stats().silent == 2)
        with silent_from(relays.port, "127.0.0.2") as extra:
            (body,) = split_frames(read_to_eof(extra))
        refusal = Refusal.decode(body[1:])
        assert refusal.code is Reason.BUSY and "your address" in refusal.text
        relays.member("alice")  # another address is not affected
    finally:
        for sock in silent:
            sock.close()


def stalled(port: int) -> socket.socket:
    """A connection that has started a handshake (a frame's first byte) and stalls."""
    sock = raw(port)
    sock.sendall(b"\x00")
    return sock


def test_handshakes_beyond_the_limit_wait_in_line_and_get_in(relays) -> None:
    relay = relays.start(max_handshakes=3)
    held = [stalled(relays.port) for _ in range(3)]
    try:
        wait_until(lambda: relay.stats().handshakes == 3)
        alice, bob = relays.client("alice"), relays.client("bob")
        assert alice.wait_type(proto.Queued) == proto.Queued(position=1, wait_ms=30_000)
        assert bob.wait_type(proto.Queued) == proto.Queued(position=2, wait_ms=30_000)
        assert relay.stats().queued == 2
    finally:
        for sock in held:
            sock.close()
    alice.join()  # the freed slots go to those in line
    bob.join()
    stats = relay.stats()
    # Both in; who finished first depends on which client read first (each answers as it can).
    assert (stats.handshakes, stats.queued, set(stats.members)) == (0, 0, {"alice", "bob"})


def test_a_connection_not_let_in_before_its_queue_deadline_is_refused_busy(relays) -> None:
    relay = relays.start(max_handshakes=1, queue_timeout=0.2)
    with stalled(relays.port):
        wait_until(lambda: relay.stats().handshakes == 1)
        alice = relays.client("alice")
        assert alice.wait_type(proto.Queued) == proto.Queued(position=1, wait_ms=200)
        refused = alice.wait_type(proto.Refused)
        assert (refused.code, refused.retry_after_ms) == (Reason.BUSY, 1000)
        assert relay.stats().queued == 0


def test_past_a_full_queue_the_relay_refuses_busy(relays) -> None:
    relay = relays.start(max_handshakes=3, max_queued=0)
    held = [stalled(relays.port) for _ in range(3)]
    try:
        wait_until(lambda: relay.stats().handshakes == 3)
        with stalled(relays.port) as extra:
            (body,) = split_frames(read_to_eof(extra))
        assert Refusal.decode(body[1:]).code is Reason.BUSY
    finally:
        for sock in held:
            sock.close()
    wait_until(lambda: relay.stats().handshakes == 0)
    relays.member("alice")  # the slots are free again


def test_one_address_cannot_take_every_handshake_slot(relays) -> None:
    relay = relays.start(max_handshakes=64, max_handshakes_per_source=4)
    held = [stalled(relays.port) for _ in range(4)]
    try:
        wait_until(lambda: relay.stats().handshakes == 4)
        mine = relays.client("alice")  # from the same address: waits for its share
        assert mine.wait_type(proto.Queued).position == 1
        relays.member("bob", source="127.0.0.2")  # another address gets in at once
        assert relay.stats().handshakes == 4  # the queued one holds no slot
    finally:
        for sock in held:
            sock.close()
    mine.join()
    wait_until(lambda: relay.stats().handshakes == 0)
    assert relay.call(lambda: relay.relay.admission.handshakes) == 0  # nothing left behind
    assert relay.call(lambda: relay.relay.admission.queued) == 0


def test_an_address_may_queue_only_so_many_connections(relays) -> None:
    relay = relays.start(max_handshakes_per_source=1, max_queued_per_source=1)
    with stalled(relays.port):
        wait_until(lambda: relay.stats().handshakes == 1)
        first = relays.client("alice")
        first.wait_type(proto.Queued)
        second = relays.client("bob")
        refused = second.wait_type(proto.Refused)
        assert refused.code is Reason.BUSY
        assert "your address" in refused.text


def _pin_relay_send_buffer(relay, name: str) -> None:
    """Give the relay's socket to member ``name`` a small, fixed send buffer.

    Linux grows a socket's send buffer up to 4 MiB (net.ipv4.tcp_wmem) while the peer's window
    is closed; the relay's own limit only counts what the kernel refused. Pinned, the kernel
    holds a few KiB and the relay's limit is reached after a known amount of unread output.
    """

    def pin() -> bool:
        for member in relay.relay._connections:
            if member.name == name and member.transport is not None:
                sock = member.transport.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
                return True
        return False

    assert relay.call(pin), f"{name} is not connected"


def _largest_write_buffer(relay) -> int:
    return relay.call(
        lambda: max(
            (
                m.transport.get_write_buffer_size()
                for m in relay.relay._connections
                if m.transport is not None
            ),
            default=0,
        )
    )


def test_a_member_that_never_reads_is_dropped_and_memory_stays_bounded(relays) -> None:
    limit = 64 * 1024
    relay = relays.start(  # close_timeout: how long the relay lets the sleeper hold its goodbye
        write_buffer_limit=limit, message_rate=1e6, message_burst=1e6, close_timeout=0.1
    )
    alice, bob = relays.member("alice"), relays.member("bob")
    sleeper = relays.client("sleeper", rcvbuf=4096)
    sleeper.join()  # and from now on it never reads
    _pin_relay_send_buffer(relay, "sleeper")
    peak = 0
    for round_number in range(1000):
        marker = f"round {round_number}"
        alice.say(*(["x" * 3900] * 9), marker)
        bob.hear(marker)
        alice.hear(marker)
        peak = max(peak, _largest_write_buffer(relay))
        # Never more than the limit plus one broadcast (~36 KB here) is held for it.
        assert peak <= limit + 64 * 1024, "the relay kept buffering"
        if "sleeper" not in relay.stats().members:
            break
    else:
        pytest.fail("the sleeper was never dropped")
    assert alice.wait_for(lambda e: isinstance(e, proto.MemberDeparted)) == proto.MemberDeparted(
        name="sleeper", code=Reason.SLOW_READER
    )
    wait_until(lambda: relay.stats().connections == 2, what="the sleeper's socket to go")
    conversation_goes_on(bob, alice, "carry on")


async def _provoke_replies_without_reading(secret, keys, limit: int) -> None:
    # presence_delay 0: joins and leaves go out with the loop iteration this test steps through.
    config = dataclasses.replace(
        BASE,
        write_buffer_limit=limit,
        message_rate=1e6,
        message_burst=1e6,
        close_timeout=0.05,
        presence_delay=0,
    )
    relay = Relay(secret, config)
    await relay.start()
    try:
        alice = MemoryPeer(relay, "alice", keys)  # reads everything
        await alice.join()
        flooder = MemoryPeer(relay, "flooder", keys, port=50001)
        await flooder.join()  # and from now on it never reads
        await asyncio.sleep(0)
        assert [e.member.name for e in alice.read() if isinstance(e, proto.MemberArrived)] == [
            "flooder"
        ]
        pong_size = len(encode_frame(bytes(1 + 8 + 16)))  # type, token, Poly1305 tag
        pings = 0
        told_at = None
        deadline = time.monotonic() + 30
        while "flooder" in relay.room.members:
            pings += 1
            flooder.proto.send_ping(pings)
            flooder.send()
            if told_at is None and flooder.transport.pauses:
                told_at = pings
            assert flooder.transport.peak <= limit + 64 * 1024, "the relay kept buffering"
            assert time.monotonic() < deadline, "the flooder was never dropped"
            await asyncio.sleep(0)  # one loop iteration per ping: the relay's timers run too
        # The relay learnt of it from the very PONG that passed its limit (its transport's
        # high-water mark is the configured limit), and dropped the flooder soon after: the drop
        # is scheduled, so a few more pings were answered meanwhile.
        assert told_at == limit // pong_size + 1
        assert flooder.transport.pauses == 1
        assert limit < flooder.transport.peak <= limit + 64 * 1024
        # The flooder is told why, after its unread PONGs, and the others are told it left.
        unread = flooder.transport.unread()
        flooder.proto.receive_data(unread)
        told = flooder.proto.events_received()
        assert told[-1] == proto.GoodbyeReceived(
            code=Reason.SLOW_READER, text="You were not reading fast enough."
        )
        assert all(isinstance(e, proto.PongReceived) for e in told[:-1])
        await asyncio.sleep(0)
        assert alice.read() == [proto.MemberDeparted(name="flooder", code=Reason.SLOW_READER)]
        # It never reads its goodbye either: the relay aborts it after close_timeout.
        while not flooder.transport.lost:
            assert time.monotonic() < deadline, "the flooder's connection was never aborted"
            await asyncio.sleep(0.01)
        assert relay.stats().connections == 1 and relay.room.members == ("alice",)
        assert flooder.transport.unread() == b""  # what it held was released
    finally:
        await relay.stop()


def test_a_member_provoking_replies_it_never_reads_is_dropped(secret, room_keys) -> None:
    # Every PING gets a sealed PONG: a member that pings without reading must not make the
    # relay buffer those replies without end, even in a room where nobody else talks. The real
    # Relay and MemberConnection, through an in-memory transport whose peer never reads: no
    # kernel buffer in between, so the limit is reached after a known number of pings.
    asyncio.run(_provoke_replies_without_reading(secret, room_keys, limit=16 * 1024))


def test_a_socket_that_stops_reading_its_pongs_is_dropped(relays) -> None:
    # The same through real sockets: asyncio's transport must tell the relay when its PONGs
    # pile up. Both kernel buffers are small (see _pin_relay_send_buffer), so it takes about
    # a thousand pings, not the hundred thousand a 4 MiB send buffer would swallow.
    limit = 4096
    relay = relays.start(
        write_buffer_limit=limit, message_rate=1e6, message_burst=1e6, close_timeout=0.5
    )
    alice = relays.member("alice")
    flooder = relays.client("flooder", rcvbuf=4096)
    flooder.join()  # and from now on it never reads
    alice.wait_type(proto.MemberArrived)
    _pin_relay_send_buffer(relay, "flooder")
    peak = 0
    for token in range(1, 200_001):
        flooder.proto.send_ping(token)
        if token % 100:
            continue
        try:
            flooder.sock.sendall(flooder.proto.data_to_send())
        except OSError:
            break  # the relay dropped us
        peak = max(peak, _largest_write_buffer(relay))
        assert peak <= limit + 64 * 1024, "the relay kept buffering"
        if "flooder" not in relay.stats().members:
            break
    else:
        pytest.fail("the flooder was never dropped")
    assert alice.wait_type(proto.MemberDeparted) == proto.MemberDeparted(
        name="flooder", code=Reason.SLOW_READER
    )


def test_pings_count_against_the_message_rate(relays) -> None:
    clock = ManualClock()
    relays.start(clock=clock, message_rate=1.0, message_burst=5)
    member = relays.member("pinger")
    for token in range(1, 8):
        member.proto.send_ping(token)
    member.flush()
    notice = member.wait_type(proto.NoticeReceived)
    assert notice.code is Reason.RATE_LIMITED


def test_parallel_connections_get_no_more_guesses_than_sequential_ones(
    relays, wrong_keys, monkeypatch
) -> None:
    # Sixteen connections opened at once, each answering the relay as fast as it can: they
    # must not get more guesses than sixteen connections one after another (5 free + 1).
    clock = ManualClock()
    monkeypatch.setattr(net.proto._relay, "Spake2", _CountingSpake2)
    _CountingSpake2.runs = 0
    relays.start(
        clock=clock, login_free_failures=5, login_base_delay=4.0, max_handshakes_per_source=16
    )
    guessers = [relays.client(f"m{i}", wrong_keys) for i in range(16)]  # all hellos sent
    outcomes: dict[int, proto.Event] = {}
    deadline = time.monotonic() + 30
    while len(outcomes) < len(guessers) and time.monotonic() < deadline:
        for index, guesser in enumerate(guessers):
            if index in outcomes:
                continue
            with contextlib.suppress(TimeoutError):
                guesser._read_once(time.monotonic() + 0.02)  # reads, answers, flushes
            ended = [
                e
                for e in guesser.events
                if isinstance(e, proto.AuthenticationFailed | proto.Refused)
            ]
            if ended:
                outcomes[index] = ended[0]
    assert len(outcomes) == 16, f"only {len(outcomes)} guessers got an answer"
    failed = [o for o in outcomes.values() if isinstance(o, proto.AuthenticationFailed)]
    refused = [o for o in outcomes.values() if isinstance(o, proto.Refused)]
    assert _CountingSpake2.runs == len(failed) == 6  # five free guesses and the sixth
    assert len(refused) == 10
    assert all(o.code is Reason.TOO_MANY_ATTEMPTS for o in refused)


def test_members_joining_together_from_one_address_all_get_in(relays) -> None:
    # The same turn-taking must not turn honest members away: twelve at once from 127.0.0.1.
    relay = relays.start(max_handshakes_per_source=16)
    members = [relays.client(f"friend{i}") for i in range(12)]
    names = {f"friend{i}" for i in range(12)}
    assert {member.join().your_name for member in members} == names
    assert set(relay.stats().members) == names
