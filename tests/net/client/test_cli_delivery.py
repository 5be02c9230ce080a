"""``main.py chat`` as a process: what it does with messages the relay has not confirmed.

A real relay (in this process) behind a :class:`FaultProxy`; the terminal client runs as its
own process with piped input, with full-cost scrypt, its identity in a data dir under the
test's temporary folder. At the end of input it waits for the relay to confirm every message
(exit 0); when the room is lost for good, or the wait runs out, it prints what was not sent
and exits 3.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.faultproxy import FaultProxy
from crypto.kdf import RoomKeys, derive_room_keys
from net.client import events as ce
from net.client.cli import DRAIN_TIMEOUT, EXIT_NOT_SENT, EXIT_OK
from net.proto import Reason
from net.relay import RelayConfig, RelayThread
from net.relay.roomfile import RoomSecret
from tests.net.client.test_delivery import _goodbye_everyone
from tests.net.client_support import ClientFactory
from tests.net.client_support import is_ as _is
from tests.net.relay.support import wait_until
from tests.procs import Proc

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "cli delivery correct horse battery"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def full_keys() -> RoomKeys:
    # Full cost: the terminal client derives the keys itself, as a person's would.
    return derive_room_keys(PASSWORD, room_id=bytes(range(80, 96)))


@pytest.fixture
def relay(full_keys: RoomKeys) -> Iterator[RelayThread]:
    thread = RelayThread(
        RoomSecret.from_room_keys(full_keys), RelayConfig(host="127.0.0.1"), port=0
    )
    thread.port = thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def proxy(relay: RelayThread) -> Iterator[FaultProxy]:
    faults = FaultProxy(("127.0.0.1", relay.port))
    yield faults
    faults.close()


@pytest.fixture
def bob(relay: RelayThread, full_keys: RoomKeys) -> Iterator:
    factory = ClientFactory()
    client, events = factory(relay.port, "bob", keys=full_keys)
    events.wait_for(_is(ce.Joined))
    yield client, events
    factory.close()


@pytest.fixture
def chat(tmp_path: Path, proxy: FaultProxy) -> Iterator[Proc]:
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    drop = ("SOCKETCHAT_PASSWORD", "SOCKETCHAT_DATA_DIR", "XDG_DATA_HOME")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        PYTHONUNBUFFERED="1",
        PYTHONIOENCODING="utf-8",
        HOME=str(tmp_path),
        SOCKETCHAT_DATA_DIR=str(tmp_path / "alice"),
    )
    command = [sys.executable, str(ROOT / "main.py"), "chat", "127.0.0.1", str(proxy.port)]
    proc = Proc([*command, "alice", "--password-file", str(password_file)], env=env, cwd=ROOT)
    yield proc
    proc.stop()


def _joined(chat: Proc) -> None:
    chat.wait_line(r"^\* joined the room at ")


def _unsent(chat: Proc) -> list[str]:
    return [line for line in chat.all_output() if line.startswith("! unsent: ")]


def test_piped_input_ending_before_the_join_is_all_confirmed_before_leaving(chat, bob):
    _, bob_events = bob
    lines = [f"line {n}" for n in range(20)]
    for line in lines:
        chat.say(line)
    assert chat.end_input() == EXIT_OK  # input ended at once: it joined, sent, waited
    chat.wait_line(r"^\* left the room$")
    bob_events.wait_for(_is(ce.MessageReceived, text=lines[-1]))
    # Confirmed means stored and fanned out: bob has every line, once, in order.
    assert [t for t in bob_events.texts() if t.startswith("line")] == lines
    assert _unsent(chat) == []


def _cut_after_the_end_of_input(chat: Proc, proxy: FaultProxy) -> int:
    """alice's three lines are lost on the way, input ends, the connection is cut: it
    reconnects by itself, sends them again and leaves once they are confirmed."""
    _joined(chat)
    proxy.lose_to_relay()
    for n in range(3):
        chat.say(f"cut {n}")
    wait_until(lambda: proxy.lost_to_relay > 0, what="the messages lost on the way")
    assert chat.popen.stdin is not None
    chat.popen.stdin.close()  # end of input while nothing is confirmed
    proxy.lose_to_relay(False)
    proxy.cut()
    return chat.popen.wait(timeout=DRAIN_TIMEOUT + 20)


def test_a_connection_cut_after_the_end_of_input_is_waited_out(chat, relay, proxy, bob):
    assert _cut_after_the_end_of_input(chat, proxy) == EXIT_OK
    # Confirmed means stored: the room has them, once each, in order.
    assert relay.stats().history == 3  # three messages, stored once each
    assert _unsent(chat) == []


def test_messages_resent_after_a_cut_are_readable_once_the_sender_has_left(chat, proxy, bob):
    _, bob_events = bob
    assert _cut_after_the_end_of_input(chat, proxy) == EXIT_OK
    bob_events.wait_for(_is(ce.MemberLeft, name="alice"))
    bob_events.wait_for(_is(ce.MessageReceived, text="cut 2"), timeout=5)
    assert [t for t in bob_events.texts() if t.startswith("cut")] == ["cut 0", "cut 1", "cut 2"]


def test_a_room_closed_for_good_prints_what_was_not_sent_and_exits_3(chat, relay, proxy, bob):
    _joined(chat)
    proxy.lose_to_relay()
    chat.say("\x1b[31mnever confirmed")
    wait_until(lambda: proxy.lost_to_relay > 0, what="the message lost on the way")
    _goodbye_everyone(relay, Reason.ROOM_CLOSED, "The room was closed.")
    assert chat.popen.wait(timeout=30) == EXIT_NOT_SENT
    chat.wait_line(
        r"^! 1 message was not sent: The host closed the room\. You can rejoin once they host "
        r"it again\.$"
    )
    # The text as typed, escaped like anyone's: a script can send it again.
    assert _unsent(chat) == ["! unsent: \\x1b[31mnever confirmed"]
    assert chat.popen.stderr is not None
    assert "error: The host closed the room." in chat.popen.stderr.read()


def test_the_end_of_input_waits_a_bounded_time_then_says_what_was_not_sent(chat, proxy, bob):
    _, bob_events = bob
    _joined(chat)
    proxy.lose_to_relay()
    chat.say("lost one")
    chat.say("lost two")
    wait_until(lambda: proxy.lost_to_relay > 0, what="the messages lost on the way")
    assert chat.end_input() == EXIT_NOT_SENT  # after DRAIN_TIMEOUT seconds
    lines = chat.all_output()
    header = [line for line in lines if re.match(r"^! 2 messages were not sent: ", line)]
    assert header, lines
    assert _unsent(chat) == ["! unsent: lost one", "! unsent: lost two"]
    assert not any(line == "* left the room" for line in lines)
    assert "lost one" not in bob_events.texts()
