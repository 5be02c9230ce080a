"""End to end with real processes: ``main.py relay`` and two ``main.py chat`` over pipes.

Runs the commands exactly as an operator and a user would (full-cost scrypt included), on
127.0.0.1. Lines are read by a thread per stream and waited for with deadlines.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.procs import Proc

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "e2e correct horse battery staple"
TIMEOUT = 30.0

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k != "SOCKETCHAT_PASSWORD"}
    environment["PYTHONUNBUFFERED"] = "1"
    environment["PYTHONIOENCODING"] = "utf-8"
    return environment


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "room-password"
    path.write_text(PASSWORD + "\n", encoding="utf-8")
    return path


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for proc in started:
        proc.stop()


def _main(env: dict[str, str], *args: str) -> Proc:
    return Proc([sys.executable, str(ROOT / "main.py"), *args], env=env, cwd=ROOT)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_relay(procs, env, *args: str) -> tuple[Proc, int]:
    relay = _main(env, "relay", "--bind", "127.0.0.1", *args)
    procs.append(relay)
    port = int(relay.wait_line(r"SocketChat relay listening on 127\.0\.0\.1:(\d+)").group(1))
    return relay, port


def _launch_chat(procs, env, port: int, name: str, password_file: Path) -> Proc:
    chat = _main(env, "chat", "127.0.0.1", str(port), name, "--password-file", str(password_file))
    procs.append(chat)
    return chat


def _joined(chat: Proc, port: int, name: str) -> Proc:
    chat.wait_line(rf"^\* joined the room at 127\.0\.0\.1:{port} as {name} ")
    return chat


def _start_chat(procs, env, port: int, name: str, password_file: Path) -> Proc:
    return _joined(_launch_chat(procs, env, port, name, password_file), port, name)


def test_relay_and_two_terminal_clients_chat(procs, env, password_file):
    relay, port = _start_relay(procs, env, "--port", "0", "--password-file", str(password_file))
    alice = _start_chat(procs, env, port, "alice", password_file)
    alice.wait_line(r"^\* you are alone in the room$")
    bob = _start_chat(procs, env, port, "bob", password_file)
    alice.wait_line(r"^\* bob joined \(members: alice, bob\)$")

    alice.say("hello bob, ünïcode and emoji 🎉")
    bob.wait_line(r"^\d\d:\d\d alice: hello bob, ünïcode and emoji 🎉$")
    alice.wait_line(r"^\d\d:\d\d alice \(you\): hello bob")
    bob.say("\x1b[31mred?")
    alice.wait_line(r"^\d\d:\d\d bob: \\x1b\[31mred\?$")  # escaped, never raw

    assert bob.end_input() == 0
    alice.wait_line(r"^\* bob left the room \(members: alice\)$")
    alice.wait_line(r"^\* you are alone in the room$")
    assert alice.end_input() == 0

    relay.popen.send_signal(signal.SIGTERM)
    assert relay.popen.wait(timeout=TIMEOUT) == 0
    log = "\n".join(relay.all_output())
    assert re.search(r"user alice \(127\.0\.0\.1:\d+\) connected", log)
    assert re.search(r"user bob \(127\.0\.0\.1:\d+\) disconnected", log)
    for secret in (PASSWORD, "hello bob", "red?"):
        assert secret not in log


def test_wrong_password_exits_nonzero_with_a_clear_message(procs, env, password_file, tmp_path):
    _, port = _start_relay(procs, env, "--port", "0", "--password-file", str(password_file))
    wrong = tmp_path / "wrong"
    wrong.write_text("not the password", encoding="utf-8")
    chat = _main(env, "chat", "127.0.0.1", str(port), "eve", "--password-file", str(wrong))
    procs.append(chat)
    assert chat.popen.wait(timeout=TIMEOUT) == 1
    assert "Wrong room password" in chat.popen.stderr.read()


def test_nobody_listening_exits_nonzero(procs, env, password_file):
    chat = _main(
        env, "chat", "127.0.0.1", str(_free_port()), "eve", "--password-file", str(password_file)
    )
    procs.append(chat)
    assert chat.popen.wait(timeout=TIMEOUT) == 1
    assert "Is the room running? Is the port right?" in chat.popen.stderr.read()


def test_relay_killed_and_restarted_queued_message_arrives_once(
    procs, env, password_file, tmp_path
):
    room_file = tmp_path / "office.room"
    create = subprocess.run(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "room",
            "create",
            "--out",
            str(room_file),
            "--password-file",
            str(password_file),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=TIMEOUT,
        check=False,
    )
    assert create.returncode == 0, create.stderr
    port = _free_port()
    relay, _ = _start_relay(procs, env, "--port", str(port), "--room-file", str(room_file))
    # Both start at once: each spends its full-cost scrypt on its own core.
    alice = _launch_chat(procs, env, port, "alice", password_file)
    bob = _launch_chat(procs, env, port, "bob", password_file)
    _joined(alice, port, "alice")
    _joined(bob, port, "bob")
    alice.say("before the crash")
    bob.wait_line(r"alice: before the crash$")

    relay.kill()  # no goodbye: as if the server lost power
    alice.wait_line(r"^\* disconnected: .* Reconnecting in [\d.]+ s\.$")
    bob.wait_line(r"^\* disconnected: ")
    alice.say("typed while the relay was down")

    _start_relay(procs, env, "--port", str(port), "--room-file", str(room_file))
    alice.wait_line(r"^\* reconnected to the room", timeout=60)
    bob.wait_line(r"^\* reconnected to the room", timeout=60)
    bob.wait_line(r"alice: typed while the relay was down$", timeout=60)
    bob.say("marker")
    alice.wait_line(r"bob: marker$")
    assert alice.end_input() == 0
    assert bob.end_input() == 0
    # wait_line consumed the one delivery; a second copy would still be among the lines.
    assert not any("typed while the relay was down" in line for line in bob.all_output())
