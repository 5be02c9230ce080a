"""End to end with real processes: ``main.py relay`` and two ``main.py chat`` over pipes.

Runs the commands exactly as an operator and a user would (full-cost scrypt included), on
127.0.0.1. Lines are read by a thread per stream and waited for with deadlines. Each member is
its own device: its identity and trust records live in its own ``$SOCKETCHAT_DATA_DIR`` under
the test's temporary folder, and ``HOME`` points there too, so no test touches the real one.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from crypto.envelope import envelope_header, open_message
from crypto.epoch import message_key
from crypto.errors import AuthenticationError
from crypto.kdf import derive, derive_room_keys, master_key
from crypto.transport import BroadcastOpener
from net.proto import ChatItem, ChatLocked, ChatOpened, FrameType
from net.proto._messages import RelayHello, decode_items
from net.relay.roomfile import RoomSecret
from tests.net.proxy import RecordingProxy
from tests.net.wire import WireClient
from tests.procs import Proc

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "e2e correct horse battery staple"
TIMEOUT = 30.0

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    drop = ("SOCKETCHAT_PASSWORD", "SOCKETCHAT_DATA_DIR", "XDG_DATA_HOME")
    environment = {k: v for k, v in os.environ.items() if k not in drop}
    environment["PYTHONUNBUFFERED"] = "1"
    environment["PYTHONIOENCODING"] = "utf-8"
    # Nothing may land in the real home: a chat without its own data dir would write here.
    environment["HOME"] = str(tmp_path / "home")
    (tmp_path / "home").mkdir()
    return environment


def _device(env: dict[str, str], name: str) -> dict[str, str]:
    """The environment of ``name``'s own device: its data dir next to the shared fake home."""
    folder = Path(env["HOME"]).parent / "devices" / name
    return {**env, "SOCKETCHAT_DATA_DIR": str(folder)}


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


def _launch_chat(
    procs, env, port: int, name: str, password_file: Path, *extra: str, device: str = ""
) -> Proc:
    chat = _main(
        _device(env, device or name),
        "chat",
        "127.0.0.1",
        str(port),
        name,
        "--password-file",
        str(password_file),
        *extra,
    )
    procs.append(chat)
    return chat


def _joined(chat: Proc, port: int, name: str) -> Proc:
    chat.wait_line(rf"^\* joined the room at 127\.0\.0\.1:{port} as {name} ")
    return chat


def _start_chat(procs, env, port: int, name: str, password_file: Path, device: str = "") -> Proc:
    return _joined(_launch_chat(procs, env, port, name, password_file, device=device), port, name)


def _create_room(env, password_file: Path, room_file: Path) -> None:
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


def _warnings(chat: Proc) -> list[str]:
    return [line for line in chat.all_output() if line.startswith("!")]


def test_relay_and_two_terminal_clients_chat(procs, env, password_file, tmp_path):
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

    # Each device kept its identity (owner-only) and trust records in its own data dir, the
    # relay pinned for the address it was reached at; nothing went to the home folder.
    for name in ("alice", "bob"):
        folder = tmp_path / "devices" / name
        for file in ("identity.json", "trust.json"):
            assert stat.S_IMODE((folder / file).stat().st_mode) == 0o600, (name, file)
        trust = json.loads((folder / "trust.json").read_text(encoding="utf-8"))
        assert any(address.startswith(f"127.0.0.1:{port}|") for address in trust["relays"])
    assert list((tmp_path / "home").iterdir()) == []


def test_wrong_password_exits_nonzero_with_a_clear_message(procs, env, password_file, tmp_path):
    _, port = _start_relay(procs, env, "--port", "0", "--password-file", str(password_file))
    wrong = tmp_path / "wrong"
    wrong.write_text("not the password", encoding="utf-8")
    chat = _launch_chat(procs, env, port, "eve", wrong)
    assert chat.popen.wait(timeout=TIMEOUT) == 1
    assert "Wrong room password" in chat.popen.stderr.read()


def test_nobody_listening_exits_nonzero(procs, env, password_file):
    chat = _launch_chat(procs, env, _free_port(), "eve", password_file)
    assert chat.popen.wait(timeout=TIMEOUT) == 1
    assert "Is the room running? Is the port right?" in chat.popen.stderr.read()


def test_relay_killed_and_restarted_queued_message_arrives_once(
    procs, env, password_file, tmp_path
):
    room_file = tmp_path / "office.room"
    _create_room(env, password_file, room_file)
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
    # Restarted from its room file, the relay kept its key and its names: nobody was warned.
    for chat in (alice, bob):
        assert _warnings(chat) == []
        assert chat.popen.stderr.read() == ""


def test_a_new_room_at_the_same_address_is_refused_until_the_member_forgets_its_key(
    procs, env, password_file, tmp_path
):
    port = _free_port()
    office = tmp_path / "office.room"
    _create_room(env, password_file, office)
    relay, _ = _start_relay(procs, env, "--port", str(port), "--room-file", str(office))
    alice = _start_chat(procs, env, port, "alice", password_file)
    assert alice.end_input() == 0

    # The same room file on the next start: same key, so alice comes back without a word.
    relay.popen.send_signal(signal.SIGTERM)
    assert relay.popen.wait(timeout=TIMEOUT) == 0
    relay, _ = _start_relay(procs, env, "--port", str(port), "--room-file", str(office))
    alice = _start_chat(procs, env, port, "alice", password_file)
    assert alice.end_input() == 0
    assert _warnings(alice) == []
    assert alice.popen.stderr.read() == ""

    # A new room at the same address (another room file: another relay key).
    relay.popen.send_signal(signal.SIGTERM)
    assert relay.popen.wait(timeout=TIMEOUT) == 0
    other = tmp_path / "other.room"
    _create_room(env, password_file, other)
    _start_relay(procs, env, "--port", str(port), "--room-file", str(other))
    refused = _launch_chat(procs, env, port, "alice", password_file)
    assert refused.popen.wait(timeout=TIMEOUT) == 1
    err = refused.popen.stderr.read()
    assert f"error: This is not the room's relay you joined before: 127.0.0.1:{port}" in err
    assert "Nothing that depends on the password was sent" in err
    assert "--forget-relay-key" in err
    assert not any("joined the room" in line for line in refused.all_output())
    assert not any("deriving" in line for line in refused.all_output())  # stopped before

    # The person knows the room was recreated: told to forget, the command joins the new one,
    # and the next plain run finds the new key pinned.
    told = _launch_chat(procs, env, port, "alice", password_file, "--forget-relay-key")
    told.wait_line(rf"^\* forgot the relay key remembered for 127\.0\.0\.1:{port}$")
    _joined(told, port, "alice")
    assert told.end_input() == 0
    again = _start_chat(procs, env, port, "alice", password_file)
    assert again.end_input() == 0
    assert again.popen.stderr.read() == ""


def test_a_member_back_with_another_key_is_announced_and_marked(
    procs, env, password_file, tmp_path
):
    port = _free_port()
    office = tmp_path / "office.room"
    _create_room(env, password_file, office)
    relay, _ = _start_relay(procs, env, "--port", str(port), "--room-file", str(office))
    alice = _launch_chat(procs, env, port, "alice", password_file)
    bob = _launch_chat(procs, env, port, "bob", password_file)
    _joined(alice, port, "alice")
    _joined(bob, port, "bob")
    bob.say("hello from bob's laptop")
    alice.wait_line(r"^\d\d:\d\d bob: hello from bob's laptop$")
    assert bob.end_input() == 0
    alice.wait_line(r"^\* bob left the room")

    # The relay comes back from its room file but without its names file: "bob" is free.
    relay.kill()
    alice.wait_line(r"^\* disconnected: ")
    Path(str(office) + ".names").unlink()
    _start_relay(procs, env, "--port", str(port), "--room-file", str(office))
    alice.wait_line(r"^\* reconnected to the room", timeout=60)
    # Someone on another device (another identity) takes the name.
    impostor = _start_chat(procs, env, port, "bob", password_file, device="mallory")
    alice.wait_line(
        r"^! bob's safety code changed: this may be someone else\. "
        r"Their messages are marked \[key changed!\]\.$"
    )
    impostor.say("it's me, new laptop, send the files")
    alice.wait_line(r"^\d\d:\d\d \[key changed!\] bob: it's me, new laptop")
    assert impostor.end_input() == 0
    assert alice.end_input() == 0


# -- invites ---------------------------------------------------------------------------------


def _create_room_with_invite(env, password_file: Path, room_file: Path, port: int) -> Path:
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
            "--invite-for",
            f"127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=TIMEOUT,
        check=False,
    )
    assert create.returncode == 0, create.stderr
    invite = room_file.with_name(room_file.name + ".invite")
    assert stat.S_IMODE(invite.stat().st_mode) == 0o600  # it holds the password
    assert PASSWORD not in create.stdout + create.stderr
    return invite


def test_an_invite_joins_without_host_port_or_password_and_names_its_relay(
    procs, env, password_file, tmp_path
):
    port = _free_port()
    office = tmp_path / "office.room"
    invite = _create_room_with_invite(env, password_file, office, port)
    _start_relay(procs, env, "--port", str(port), "--room-file", str(office))
    # From a file: the command line holds the file's name, never the invite.
    alice = _main(_device(env, "alice"), "chat", "--invite-file", str(invite), "alice")
    procs.append(alice)
    _joined(alice, port, "alice")
    assert not any(part in " ".join(alice.popen.args) for part in ("socketchat://", PASSWORD))
    # Where a password is taken, an invite is taken too (here the environment variable).
    bob_env = {**_device(env, "bob"), "SOCKETCHAT_PASSWORD": invite.read_text().strip()}
    bob = _main(bob_env, "chat", "bob")
    procs.append(bob)
    _joined(bob, port, "bob")
    alice.say("hello through an invite")
    bob.wait_line(r"^\d\d:\d\d alice: hello through an invite$")
    assert bob.end_input() == 0
    assert alice.end_input() == 0

    # Someone else answers on that port for the same room, with the room file's keys but
    # another relay key (a copied room file): the invite's key is expected from the first
    # connection on, so even a member who never joined before stops before the password.
    for proc in procs:
        if proc.popen.args[2] == "relay":
            proc.popen.send_signal(signal.SIGTERM)
            assert proc.popen.wait(timeout=TIMEOUT) == 0
    genuine = RoomSecret.load(office)
    impostor = tmp_path / "impostor.room"
    RoomSecret(room_id=genuine.room_id, access=genuine.access).save(impostor)
    _start_relay(procs, env, "--port", str(port), "--room-file", str(impostor))
    carol = _main(_device(env, "carol"), "chat", "--invite-file", str(invite), "carol")
    procs.append(carol)
    assert carol.popen.wait(timeout=TIMEOUT) == 1
    err = carol.popen.stderr.read()
    assert f"error: This is not the relay your invite names: 127.0.0.1:{port}" in err
    assert "--forget-relay-key" not in err  # forgetting pins cannot help: the invite names it
    assert not any("deriving" in line for line in carol.all_output())


@pytest.mark.parametrize(
    "content, words",
    [
        ("not an invite at all", "This is not a SocketChat invite"),
        ("socketchat://127.0.0.1:7777/v1/a/b/c#pw", "The invite's room id is damaged"),
    ],
)
def test_a_bad_invite_file_is_a_usage_error_that_names_the_part(env, tmp_path, content, words):
    path = tmp_path / "bad.invite"
    path.write_text(content + "\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "chat", "--invite-file", str(path), "alice"],
        capture_output=True,
        text=True,
        env=_device(env, "alice"),
        cwd=ROOT,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 2
    assert words in result.stderr
    assert result.stdout == ""


def test_a_changed_invite_is_caught_before_anything_is_sent(env, password_file, tmp_path):
    invite = _create_room_with_invite(env, password_file, tmp_path / "r.room", _free_port())
    invite.write_text(invite.read_text().strip()[:-1] + "\n", encoding="utf-8")  # cut short
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "chat", "--invite-file", str(invite), "alice"],
        capture_output=True,
        text=True,
        env=_device(env, "alice"),
        cwd=ROOT,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 2
    assert "changed or not copied whole" in result.stderr
    assert "connecting" not in result.stdout


def test_a_name_alone_without_an_invite_is_a_usage_error(env, password_file):
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "chat", "alice"],
        capture_output=True,
        text=True,
        env={**_device(env, "alice"), "SOCKETCHAT_PASSWORD": PASSWORD},
        cwd=ROOT,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 2
    assert "without an invite, give HOST PORT USERNAME" in result.stderr


def test_a_password_learned_later_opens_no_recorded_message(procs, env, password_file, monkeypatch):
    # Alice and Bob talk; an attacker on Bob's path records everything. Once they are gone,
    # the attacker learns the password and joins the still-running relay: it gets the room's
    # broadcast key, so it opens the recorded broadcasts — but not one message inside them.
    _, port = _start_relay(procs, env, "--port", "0", "--password-file", str(password_file))
    proxy = RecordingProxy(("127.0.0.1", port))
    try:
        alice = _start_chat(procs, env, port, "alice", password_file)
        bob = _joined(_launch_chat(procs, env, proxy.port, "bob", password_file), proxy.port, "bob")
        alice.wait_line(r"^\* bob joined ")
        alice.say("the launch code is 4711")
        bob.wait_line(r"alice: the launch code is 4711$")
        bob.say("noted, burn after reading")
        alice.wait_line(r"bob: noted, burn after reading$")
        assert bob.end_input() == 0
        assert alice.end_input() == 0
        _, recorded = proxy.captured()
    finally:
        proxy.close()

    frames = _split_frames(recorded)
    hello = RelayHello.decode(next(f for f in frames if f[0] == FrameType.RELAY_HELLO)[1:])
    keys = derive_room_keys(PASSWORD, room_id=hello.room_id)  # the password, learned later
    broadcast_keys: list[bytes] = []

    class _Keeping(BroadcastOpener):  # the attacker's client keeps the room's broadcast key
        def __init__(self, key: bytes, *, next_seq: int) -> None:
            broadcast_keys.append(key)
            super().__init__(key, next_seq=next_seq)

    monkeypatch.setattr("net.proto._client.BroadcastOpener", _Keeping)
    with WireClient(port, "mallory", keys, room_id=hello.room_id) as mallory:
        welcome = mallory.join()
        (broadcast_key,) = broadcast_keys
        opener = BroadcastOpener(broadcast_key, next_seq=0)
        items = [
            item
            for body in frames
            if body[0] == FrameType.BROADCAST
            for item in decode_items(opener.open(FrameType.BROADCAST, body[1:]))
        ]
        envelopes = [item.envelope for item in items if isinstance(item, ChatItem)]
        assert len(envelopes) == 2  # the broadcast layer is open to it: it has both envelopes
        master = master_key(PASSWORD, salt=hello.room_id)
        guesses = [master, keys.access, keys.member, derive(master, "message")]
        for envelope, sender in zip(envelopes, ("alice", "bob"), strict=True):
            header = envelope_header(envelope)
            for guess in guesses:
                for key in (
                    guess,
                    message_key(
                        guess, room_id=hello.room_id, signing_key=header.signing_key, epoch=1
                    ),
                ):
                    with pytest.raises(AuthenticationError):
                        open_message(key, envelope, room_id=hello.room_id, sender=sender)
        # The relay's history holds them too: locked, and nobody present can hand out a key.
        assert [type(m) for m in welcome.history] == [ChatLocked, ChatLocked]
        with pytest.raises(AssertionError, match="timed out"):
            mallory.wait_for(lambda e: isinstance(e, ChatOpened), timeout=2.0)


def _split_frames(data: bytes) -> list[bytes]:
    bodies, pos = [], 0
    while pos + 4 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        bodies.append(data[pos + 4 : pos + 4 + length])
        pos += 4 + length
    return bodies


def test_the_rooms_owner_makes_an_admin_who_removes_a_member_for_good(
    procs, env, password_file, tmp_path
):
    room_file = tmp_path / "owned.room"
    _create_room(_device(env, "alice"), password_file, room_file)  # alice's device owns it
    port = _free_port()
    _start_relay(procs, env, "--port", str(port), "--room-file", str(room_file))
    alice = _start_chat(procs, env, port, "alice", password_file)
    alice.wait_line(r"^\* roles: alice \(owner\)$")
    bob = _start_chat(procs, env, port, "bob", password_file)
    carol = _start_chat(procs, env, port, "carol", password_file)
    alice.wait_line(r"^\* carol joined ")
    carol.say("/kick bob")  # a member may not
    carol.wait_line(r"^! Only the room's owner can do that")
    alice.say("/op bob")
    for chat in (alice, bob, carol):
        chat.wait_line(r"^\* alice made bob an admin$")
    bob.say("/kick carol")
    alice.wait_line(r"^\* bob removed carol from the room$")
    alice.wait_line(r"^\* carol was removed from the room \(members: alice, bob\)$")
    assert carol.popen.wait(timeout=TIMEOUT) == 1
    assert "You were removed from this room" in carol.popen.stderr.read()
    # Carol's device is refused from now on, under any name.
    again = _launch_chat(procs, env, port, "carol2", password_file, device="carol")
    assert again.popen.wait(timeout=60) == 1
    assert "You were removed from this room" in again.popen.stderr.read()
    alice.say("still here")
    bob.wait_line(r"alice: still here$")
    assert alice.end_input() == 0 and bob.end_input() == 0
    # The room file keeps the actions: the owner's genesis and both actions, for a restart.
    saved = json.loads(room_file.read_text(encoding="utf-8"))
    assert saved["genesis"] and len(saved["actions"]) == 2


def test_rotate_gives_the_members_who_stay_a_new_password_and_locks_out_the_old_one(
    procs, env, password_file, tmp_path
):
    room_file = tmp_path / "rotated.room"
    _create_room(_device(env, "alice"), password_file, room_file)
    port = _free_port()
    _start_relay(procs, env, "--port", str(port), "--room-file", str(room_file))
    alice = _start_chat(procs, env, port, "alice", password_file)
    bob = _start_chat(procs, env, port, "bob", password_file)
    carol = _start_chat(procs, env, port, "carol", password_file)
    alice.wait_line(r"^\* carol joined ")
    alice.say("/rotate carol")  # remove carol and change the password
    new = alice.wait_line(r"^\* you changed the room password; the new one is: (\S+) ").group(1)
    bob.wait_line(r"^\* alice changed the room password; switched to the new one$")
    assert carol.popen.wait(timeout=TIMEOUT) == 1
    bob.wait_line(r"^\* reconnected to the room", timeout=60)
    alice.wait_line(r"^\* reconnected to the room", timeout=60)
    alice.say("after the change")
    bob.wait_line(r"alice: after the change$")
    # The old password no longer gets anyone in, from any device; the new one does.
    stranger = _launch_chat(procs, env, port, "mallory", password_file)
    assert stranger.popen.wait(timeout=60) == 1
    new_file = tmp_path / "new-password"
    new_file.write_text(new + "\n", encoding="utf-8")
    _start_chat(procs, env, port, "dave", new_file)
    assert alice.end_input() == 0 and bob.end_input() == 0
