"""``main.py relay`` and ``main.py room create`` as real processes: password sources (file,
environment, never argv), room files (version 2, with the relay key) and the names file kept
next to them, the listening line, the log, and a clean exit on SIGTERM and Ctrl-C with the room
closed for its members."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from crypto.genesis import RoomSettings
from crypto.identity import Identity, safety_code
from crypto.kdf import derive_room_keys
from net import proto
from net.client.storage import load_identity
from net.proto import ActionKind, Authority
from net.proto._frames import Reason
from net.relay import create_owned_room
from net.relay.roomfile import RoomSecret
from tests.net.wire import WireClient

ROOT = Path(__file__).resolve().parents[3]
MAIN = ROOT / "main.py"
PASSWORD = "relay test passphrase, not a secret"
LISTENING = re.compile(r"^SocketChat relay listening on 127\.0\.0\.1:(\d+)$")

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and file modes")
pytestmark = pytest.mark.timeout(90)


def env(cwd: Path, **extra: str) -> dict[str, str]:
    """The child's environment: no password from ours, and a device of its own in ``cwd``
    (``room create`` makes the room owned by this device's identity, created on first use:
    never in the real per-user folder)."""
    environ = {k: v for k, v in os.environ.items() if k != "SOCKETCHAT_PASSWORD"}
    environ["PYTHONUNBUFFERED"] = "1"
    environ["SOCKETCHAT_DATA_DIR"] = str(cwd / "device")
    environ.update(extra)
    return environ


def run(*args: str, cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(MAIN), *args],
        cwd=cwd,
        env=env(cwd, **extra),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def start(*args: str, cwd: Path, **extra: str) -> subprocess.Popen[str]:
    """``main.py *args`` started like :func:`run`, for the test to do something meanwhile."""
    return subprocess.Popen(
        [sys.executable, str(MAIN), *args],
        cwd=cwd,
        env=env(cwd, **extra),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class RelayProcess:
    """``main.py relay`` in a child process; stdout lines are collected by a reader thread."""

    def __init__(
        self, *args: str, cwd: Path, files: tuple[int, int] | None = None, **extra: str
    ) -> None:
        def limit_files() -> None:  # in the child: its open-file limit (soft, hard)
            import resource

            if files is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, files)

        self.proc = subprocess.Popen(
            [sys.executable, str(MAIN), "relay", "--bind", "127.0.0.1", "--port", "0", *args],
            cwd=cwd,
            env=env(cwd, **extra),
            preexec_fn=limit_files if files is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_line(self, pattern: re.Pattern[str] | str, timeout: float = 30.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        line: str | None
        for line in self.lines:
            if match := re.search(pattern, line):
                return match
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r}; got {self.lines}") from None
            if line is None:
                raise AssertionError(f"relay exited; output {self.lines}; {self.stderr()}")
            self.lines.append(line)
            if match := re.search(pattern, line):
                return match

    def port(self) -> int:
        return int(self.wait_line(LISTENING).group(1))

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)

    def stderr(self) -> str:
        return self.proc.stderr.read() if self.proc.poll() is not None and self.proc.stderr else ""

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def spawn(tmp_path):
    started: list[RelayProcess] = []

    def _spawn(*args: str, files: tuple[int, int] | None = None, **extra: str) -> RelayProcess:
        process = RelayProcess(*args, cwd=tmp_path, files=files, **extra)
        started.append(process)
        return process

    yield _spawn
    for process in started:
        process.kill()


@pytest.fixture
def room_file(tmp_path, room_keys) -> Path:
    path = tmp_path / "room.json"
    RoomSecret.from_room_keys(room_keys).save(path)
    return path


# -- room create ----------------------------------------------------------------------------


@pytest.mark.slow
def test_room_create_writes_a_private_room_file_for_the_password(tmp_path) -> None:
    password_file = tmp_path / "password.txt"
    password_file.write_text(PASSWORD + "\n")
    out = tmp_path / "room.json"
    result = run(
        "room", "create", "--out", str(out), "--password-file", str(password_file), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert f"Room file written to {out}" in result.stdout
    secret = RoomSecret.load(out)
    # The room is owned by this device's identity (made on first use in its data folder).
    owner = load_identity(tmp_path / "device")
    assert secret.owner_key == owner.signing_public
    assert secret.genesis is not None and secret.room_id == secret.genesis.room_id
    assert (
        f"You (safety code {safety_code(owner.public)}) own this room: you can appoint admins "
        "and remove members." in result.stdout
    )
    # New members can read recent history unless --no-history-for-newcomers says otherwise.
    assert secret.genesis.settings == RoomSettings.HISTORY_FOR_NEWCOMERS
    assert "New members can read the room's recent history" in result.stdout
    assert json.loads(out.read_text())["actions"] == []
    if sys.platform != "win32":
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert PASSWORD not in out.read_text() and PASSWORD not in result.stdout
    # A second run does not overwrite; --force does (a new room id, from the environment).
    again = run("room", "create", "--out", str(out), cwd=tmp_path, SOCKETCHAT_PASSWORD=PASSWORD)
    assert again.returncode == 2 and "already exists" in again.stderr
    assert RoomSecret.load(out) == secret
    forced = start(
        "room", "create", "--out", str(out), "--force", cwd=tmp_path, SOCKETCHAT_PASSWORD=PASSWORD
    )
    # While the forced run spends its scrypt, ours checks the first file: both full cost, and
    # this machine has a core for each.
    assert secret.access == derive_room_keys(PASSWORD, room_id=secret.room_id).access
    _, forced_stderr = forced.communicate(timeout=60)
    assert forced.returncode == 0, forced_stderr
    assert RoomSecret.load(out).room_id != secret.room_id


@pytest.mark.slow
def test_room_create_without_history_for_newcomers_signs_it_into_the_room(tmp_path) -> None:
    out = tmp_path / "room.json"
    result = run(
        "room",
        "create",
        "--out",
        str(out),
        "--no-history-for-newcomers",
        cwd=tmp_path,
        SOCKETCHAT_PASSWORD=PASSWORD,
    )
    assert result.returncode == 0, result.stderr
    assert "New members see only what is sent after they join" in result.stdout
    secret = RoomSecret.load(out)  # checks the owner's signature over the setting
    assert secret.genesis is not None
    assert secret.genesis.settings == RoomSettings(0)
    assert secret.genesis.owner_key == load_identity(tmp_path / "device").signing_public


def test_room_create_help_explains_the_history_setting(tmp_path) -> None:
    result = run("room", "create", "--help", cwd=tmp_path)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "--no-history-for-newcomers" in text
    assert "new members see only what is sent after they join" in text


def test_room_create_with_a_damaged_identity_says_so_before_asking_anything(tmp_path) -> None:
    device = tmp_path / "device"
    device.mkdir()
    (device / "identity.json").write_text("{not an identity")
    out = tmp_path / "r.json"
    result = run("room", "create", "--out", str(out), cwd=tmp_path, SOCKETCHAT_PASSWORD=PASSWORD)
    assert result.returncode == 1
    assert "cannot load this device's identity (the room's owner)" in result.stderr
    assert "Deriving" not in result.stdout and not out.exists()
    assert (device / "identity.json").read_text() == "{not an identity"  # never replaced


def test_room_create_without_a_password_source_says_how_to_give_one(tmp_path) -> None:
    result = run("room", "create", "--out", str(tmp_path / "r.json"), cwd=tmp_path)
    assert result.returncode == 2
    assert "--password-file" in result.stderr and "SOCKETCHAT_PASSWORD" in result.stderr
    assert not (tmp_path / "r.json").exists()


# -- relay ----------------------------------------------------------------------------------


@posix_only
def test_relay_with_a_room_file_serves_the_room_and_closes_it_on_sigterm(
    spawn, room_file, room_keys
) -> None:
    relay = spawn("--room-file", str(room_file))
    port = relay.port()
    alice = WireClient(port, "alice", room_keys)
    try:
        welcome = alice.join()
        assert [member.name for member in welcome.members] == ["alice"]
        assert alice.proto.relay_key == RoomSecret.load(room_file).relay_key
        alice.say("hello from the test")
        alice.hear("hello from the test")
        relay.wait_line(r"user alice \(127\.0\.0\.1:\d+\) connected")
        assert relay.stop(signal.SIGTERM) == 0
        events = alice.wait_closed()
        assert any(
            isinstance(e, proto.GoodbyeReceived) and e.code is Reason.RELAY_RESTARTING
            for e in events
        )
    finally:
        alice.close()
    output = "\n".join(relay.lines)
    assert "hello from the test" not in output
    assert room_keys.access.hex() not in output
    assert json.loads(room_file.read_text())["relay_key"] not in output


@posix_only
def test_ctrl_c_closes_the_room_and_exits_0(spawn, room_file) -> None:
    relay = spawn("--room-file", str(room_file))
    relay.port()
    assert relay.stop(signal.SIGINT) == 0


@posix_only
@pytest.mark.slow
def test_relay_takes_the_password_from_the_environment(spawn) -> None:
    relay = spawn(SOCKETCHAT_PASSWORD=PASSWORD)
    port = relay.port()
    alice = WireClient(port, "alice", None)
    try:
        required = alice.wait_type(proto.KeysRequired)
        alice.proto.provide_keys(derive_room_keys(PASSWORD, room_id=required.room_id))
        alice.flush()
        alice.join()
    finally:
        alice.close()
    assert relay.stop() == 0


@posix_only
@pytest.mark.slow
def test_relay_takes_the_password_from_a_file(spawn, tmp_path) -> None:
    password_file = tmp_path / "pw"
    password_file.write_text(PASSWORD)
    relay = spawn("--password-file", str(password_file))
    relay.port()
    assert relay.stop() == 0
    assert PASSWORD not in "\n".join(relay.lines)


@posix_only
def test_max_members_caps_the_room(spawn, room_file, room_keys) -> None:
    relay = spawn("--room-file", str(room_file), "--max-members", "1")
    port = relay.port()
    with WireClient(port, "alice", room_keys) as alice:
        alice.join()  # first, before bob connects: which of two joins wins is a race
        with WireClient(port, "bob", room_keys) as bob:
            goodbye = bob.wait_type(proto.GoodbyeReceived)
            assert goodbye.code is Reason.ROOM_FULL
    assert relay.stop() == 0


@pytest.mark.parametrize("value", ["0", "65536", "many", "-3"])
def test_max_members_out_of_range_exits_2(tmp_path, room_file, value) -> None:
    result = run("relay", "--room-file", str(room_file), "--max-members", value, cwd=tmp_path)
    assert result.returncode == 2
    assert "--max-members" in result.stderr
    assert "listening" not in result.stdout


def _open_file_limit(pid: int) -> int:
    """The soft open-file limit of process ``pid`` (Linux)."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-file limit in /proc")


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="reads /proc (Linux)")
def test_the_relay_raises_its_open_file_limit_to_what_the_room_needs(spawn, room_file) -> None:
    # 5,000 members and those waiting to join need more than a soft limit of 256.
    import resource

    needed = 5000 + 1024 + 2048 + 64  # members, silent, queued, handshakes, files
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"this machine's hard open-file limit ({hard}) is below {needed}")
    relay = spawn("--room-file", str(room_file), "--max-members", "5000", files=(256, hard))
    relay.port()
    assert _open_file_limit(relay.proc.pid) >= needed
    assert not any("may open only" in line for line in relay.lines)
    assert relay.stop() == 0


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="reads /proc (Linux)")
def test_a_hard_open_file_limit_too_low_for_the_room_is_reported(spawn, room_file) -> None:
    relay = spawn("--room-file", str(room_file), "--max-members", "5000", files=(256, 512))
    relay.port()
    line = relay.wait_line(r"may open only \d+ files")
    assert "this process may open only 512 files; 5000 members" in line.string
    assert "ulimit -n" in line.string
    assert _open_file_limit(relay.proc.pid) == 512  # as far as it could go
    assert relay.stop() == 0


def test_relay_without_a_password_source_exits_2(tmp_path) -> None:
    result = run("relay", "--port", "0", cwd=tmp_path)
    assert result.returncode == 2
    assert "No room password" in result.stderr
    assert "listening" not in result.stdout


def test_relay_never_takes_the_password_as_an_argument(tmp_path) -> None:
    result = run("relay", "--password", PASSWORD, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: ")


@pytest.mark.parametrize(
    ("content", "words"),
    [(None, "cannot read the room file"), ("{}", "not a SocketChat room file")],
)
def test_relay_with_a_bad_room_file_says_why(tmp_path, content, words) -> None:
    path = tmp_path / "room.json"
    if content is not None:
        path.write_text(content)
    result = run("relay", "--port", "0", "--room-file", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert words in result.stderr


def test_relay_on_a_taken_port_exits_1(tmp_path, room_file) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(
            "relay",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--room-file",
            str(room_file),
            cwd=tmp_path,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


# -- the relay key and the names across restarts ---------------------------------------------


def _goodbye(port: int, name: str, keys, identity: Identity) -> Reason | int:
    """The code of the GOODBYE that refuses ``name`` to ``identity``."""
    with WireClient(port, name, keys, identity=identity) as client:
        answer = client.wait_for(lambda e: isinstance(e, proto.GoodbyeReceived | proto.Welcomed))
        assert isinstance(answer, proto.GoodbyeReceived), f"{name!r} was let in"
        return answer.code


@posix_only
def test_a_restarted_relay_keeps_its_key_and_the_names_of_absent_members(
    spawn, room_file, room_keys
) -> None:
    names_file = room_file.with_name(room_file.name + ".names")
    alice = Identity.generate()
    relay = spawn("--room-file", str(room_file))
    with WireClient(relay.port(), "alice", room_keys, identity=alice) as first:
        first.join()
        relay_key = first.proto.relay_key
        relay.wait_line(r"user alice \(127\.0\.0\.1:\d+\) connected")
    assert relay.stop() == 0
    # The names file: next to the room file, private, names and public keys only.
    if sys.platform != "win32":
        assert stat.S_IMODE(names_file.stat().st_mode) == 0o600
    text = names_file.read_text()
    assert json.loads(text) == {
        "format": "socketchat-room-names",
        "version": 1,
        "names": {"alice": alice.signing_public.hex()},
    }
    room = json.loads(room_file.read_text())
    for secret_text in (room["access"], room["relay_key"], alice.to_secret().hex()):
        assert secret_text not in text

    again = spawn("--room-file", str(room_file))
    port = again.port()
    # Alice is away, yet her name is hers: another identity gets neither it nor a look-alike.
    assert _goodbye(port, "alice", room_keys, Identity.generate()) is Reason.NAME_TAKEN
    assert _goodbye(port, "ａｌｉｃｅ", room_keys, Identity.generate()) is Reason.NAME_LOOKALIKE
    # She comes back to the relay key she pinned, under her name.
    with WireClient(port, "alice", room_keys, identity=alice, expected_relay_key=relay_key) as back:
        assert [member.name for member in back.join().members] == ["alice"]
    assert again.stop() == 0


@posix_only
def test_a_damaged_names_file_stops_the_relay_with_a_clear_error(tmp_path, room_file) -> None:
    names_file = room_file.with_name(room_file.name + ".names")
    names_file.write_text('{"format": "socketchat-room-names", "version": 1, "names": {"al')
    result = run(
        "relay", "--bind", "127.0.0.1", "--port", "0", "--room-file", str(room_file), cwd=tmp_path
    )
    assert result.returncode == 1
    assert f"{names_file} (which names belong to which members) is damaged" in result.stderr
    assert "delete it" in result.stderr
    assert "listening" not in result.stdout
    assert names_file.read_text().endswith('"al')  # left as it was, for the operator


def test_a_version_1_room_file_is_refused_with_what_to_do(tmp_path) -> None:
    path = tmp_path / "old.room"
    path.write_text(
        json.dumps(
            {"format": "socketchat-room", "version": 1, "room_id": "00" * 16, "access": "11" * 32}
        )
    )
    result = run("relay", "--port", "0", "--room-file", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert "SocketChat 1" in result.stderr
    assert "Make a new room file with `main.py room create`" in result.stderr
    assert "listening" not in result.stdout


# -- rooms with an owner -------------------------------------------------------------------------

OWNER = Identity.generate()


@pytest.fixture
def owned_file(tmp_path) -> tuple[Path, object]:
    """A room file of a room owned by OWNER (cheap keys), and the keys members join with."""
    keys, secret = create_owned_room(PASSWORD, OWNER, n=2**10)
    path = tmp_path / "owned.room"
    secret.save(path)
    return path, keys


@posix_only
def test_a_relay_keeps_the_rooms_actions_in_its_room_file(spawn, owned_file) -> None:
    path, keys = owned_file
    bob = Identity.generate()
    relay = spawn("--room-file", str(path))
    with WireClient(relay.port(), "alice", keys, identity=OWNER) as alice:
        alice.join()
        alice.proto.take_action(ActionKind.MAKE_ADMIN, bob.signing_public)
        alice.flush()
        alice.wait_for(lambda e: isinstance(e, proto.RolesChanged) and e.action is not None)
        relay.wait_line(r"user alice \(127\.0\.0\.1:\d+\) took room action 1: make admin")
    assert relay.stop() == 0
    assert len(RoomSecret.load(path).actions) == 1
    again = spawn("--room-file", str(path))
    with WireClient(again.port(), "dave", keys) as dave:
        dave.join()
        roles = dave.wait_type(proto.RolesChanged)
        assert roles.owner == OWNER.signing_public and roles.admins == {bob.signing_public}
    assert again.stop() == 0


def test_a_room_file_with_a_tampered_action_stops_the_relay(tmp_path, owned_file) -> None:
    path, _ = owned_file
    secret = RoomSecret.load(path)
    assert secret.genesis is not None
    action = Authority(secret.genesis).sign(OWNER, ActionKind.MAKE_ADMIN, bytes(range(32)))
    encoded = bytearray(action.encode())
    encoded[-1] ^= 1  # the signature
    secret.with_actions([bytes(encoded)]).save(path, overwrite=True)
    result = run(
        "relay", "--bind", "127.0.0.1", "--port", "0", "--room-file", str(path), cwd=tmp_path
    )
    assert result.returncode == 1
    assert f"The room file {path} is damaged: the room's action 1 of 1 is refused" in result.stderr
    assert "Restore it from a backup" in result.stderr
    assert "listening" not in result.stdout


def test_an_owned_room_file_for_another_room_id_is_refused(tmp_path, owned_file) -> None:
    path, _ = owned_file
    document = json.loads(path.read_text())
    document["room_id"] = "00" * 16
    path.write_text(json.dumps(document))
    result = run("relay", "--port", "0", "--room-file", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert "not for this room" in result.stderr
    assert "listening" not in result.stdout
