"""net.relay.roomfile: what a relay keeps (room id, access key and its relay identity; never
the password or the message key), room files (version 2), checks."""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest

from crypto.errors import PasswordError
from crypto.identity import Identity
from crypto.kdf import derive_room_keys
from crypto.spake2 import Spake2Secret
from net.relay.roomfile import RoomSecret
from tests.net.helpers import PASSWORD, ROOM_ID

N = 2**10  # test-only scrypt cost

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


RELAY = Identity.from_secret(bytes(range(64)))


@pytest.fixture
def secret(room_keys) -> RoomSecret:
    return RoomSecret.from_room_keys(room_keys, relay_identity=RELAY)


def test_from_password_keeps_only_the_room_id_access_key_and_relay_identity(room_keys) -> None:
    secret = RoomSecret.from_password(PASSWORD, room_id=ROOM_ID, n=N)
    assert secret.room_id == ROOM_ID
    assert secret.access == room_keys.access
    held = [getattr(secret, slot) for slot in RoomSecret.__slots__]
    assert room_keys.member not in held
    assert PASSWORD not in held and PASSWORD.encode() not in held
    assert isinstance(secret.spake2, Spake2Secret)
    assert secret.spake2.w == Spake2Secret.from_access_key(room_keys.access).w
    assert len(secret.relay_key) == 32
    credentials = secret.credentials
    assert credentials.room_id == ROOM_ID and credentials.secret is secret.spake2
    assert credentials.relay_identity.signing_public == secret.relay_key


def test_each_new_room_secret_gets_its_own_relay_key(room_keys) -> None:
    a = RoomSecret.from_room_keys(room_keys)
    b = RoomSecret.from_room_keys(room_keys)
    assert a.relay_key != b.relay_key
    assert a != b  # the same room hosted under another key is another relay to the members
    assert RoomSecret.from_room_keys(room_keys, relay_identity=RELAY).relay_key == (
        RELAY.signing_public
    )


def test_from_password_picks_a_fresh_random_room_id() -> None:
    a = RoomSecret.from_password(PASSWORD, n=N)
    b = RoomSecret.from_password(PASSWORD, n=N)
    assert len(a.room_id) == 16 and a.room_id != b.room_id
    assert a.access != b.access  # the room id is the salt


def test_from_password_applies_the_password_rules() -> None:
    with pytest.raises(PasswordError):
        RoomSecret.from_password("", n=N)


def test_repr_never_shows_the_key(secret) -> None:
    for text in (repr(secret), str(secret), repr(secret.credentials)):
        assert secret.access.hex() not in text
        assert RELAY.to_secret().hex()[:64] not in text
        assert ROOM_ID.hex() in text
        assert "hidden" in text


def test_bad_sizes_are_rejected() -> None:
    with pytest.raises(ValueError):
        RoomSecret(room_id=b"short", access=bytes(32))
    with pytest.raises(ValueError):
        RoomSecret(room_id=ROOM_ID, access=bytes(31))


def test_save_and_load_round_trip(tmp_path, secret) -> None:
    path = tmp_path / "room.json"
    secret.save(path)
    loaded = RoomSecret.load(path)
    assert loaded == secret
    assert loaded.relay_key == RELAY.signing_public  # the key members pinned, after a restart
    document = json.loads(path.read_text())
    assert document == {
        "format": "socketchat-room",
        "version": 2,
        "room_id": ROOM_ID.hex(),
        "access": secret.access.hex(),
        "relay_key": RELAY.to_secret().hex(),
    }


def test_a_loaded_room_signs_with_the_saved_relay_key(tmp_path, secret) -> None:
    path = tmp_path / "room.json"
    secret.save(path)
    identity = RoomSecret.load(path).credentials.relay_identity
    assert identity.to_secret() == RELAY.to_secret()


def test_the_file_holds_neither_password_nor_message_key(tmp_path, room_keys) -> None:
    path = tmp_path / "room.json"
    RoomSecret.from_password(PASSWORD, room_id=ROOM_ID, n=N).save(path)
    text = path.read_text()
    assert room_keys.member.hex() not in text
    assert PASSWORD not in text


@posix_only
def test_saved_file_is_private(tmp_path, secret) -> None:
    path = tmp_path / "room.json"
    old = os.umask(0)  # even with a permissive umask
    try:
        secret.save(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_save_refuses_to_overwrite_unless_asked(tmp_path, secret) -> None:
    path = tmp_path / "room.json"
    path.write_text("precious")
    with pytest.raises(FileExistsError):
        secret.save(path)
    assert path.read_text() == "precious"
    if sys.platform != "win32":
        path.chmod(0o644)
    secret.save(path, overwrite=True)
    assert RoomSecret.load(path) == secret
    if sys.platform != "win32":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_missing_file_is_an_os_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        RoomSecret.load(tmp_path / "nope.json")


GOOD = {
    "format": "socketchat-room",
    "version": 2,
    "room_id": "00" * 16,
    "access": "11" * 32,
    "relay_key": "22" * 64,
}
V1 = {"format": "socketchat-room", "version": 1, "room_id": "00" * 16, "access": "11" * 32}


def test_the_good_sample_is_good(tmp_path) -> None:
    path = tmp_path / "room.json"
    path.write_text(json.dumps(GOOD))
    assert RoomSecret.load(path).room_id == bytes(16)


@pytest.mark.parametrize("document", [V1, {**V1, "relay_key": "22" * 64}], ids=["v1", "v1+key"])
def test_a_version_1_room_file_is_refused_with_what_to_do(tmp_path, document) -> None:
    path = tmp_path / "room.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError) as info:
        RoomSecret.load(path)
    message = str(info.value)
    assert str(path) in message and "SocketChat 1" in message
    assert "Make a new room file with `main.py room create`" in message
    assert "11" * 32 not in message


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\xff\xfe not text", "not JSON"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a SocketChat room file"),
        (json.dumps({**GOOD, "format": "other"}).encode(), "not a SocketChat room file"),
        (json.dumps({**GOOD, "version": 3}).encode(), "version 3"),
        (json.dumps({**GOOD, "version": "2"}).encode(), "version '2'"),
        (json.dumps({**GOOD, "version": True}).encode(), "version True"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "access"}).encode(), "no 'access'"),
        (json.dumps({**GOOD, "room_id": 5}).encode(), "no 'room_id'"),
        (json.dumps({**GOOD, "room_id": "zz" * 16}).encode(), "not hexadecimal"),
        (json.dumps({**GOOD, "access": "11" * 31}).encode(), "32 bytes (64 hex digits)"),
        (
            json.dumps({k: v for k, v in GOOD.items() if k != "relay_key"}).encode(),
            "no 'relay_key'",
        ),
        (json.dumps({**GOOD, "relay_key": "22" * 32}).encode(), "64 bytes (128 hex digits)"),
        (json.dumps({**GOOD, "relay_key": "xy" * 64}).encode(), "not hexadecimal"),
        (b" " * 5000, "too large"),
    ],
)
def test_bad_files_say_what_is_wrong(tmp_path, content, words) -> None:
    path = tmp_path / "room.json"
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        RoomSecret.load(path)
    assert words in str(info.value)
    assert str(path) in str(info.value)
    assert "11" * 31 not in str(info.value)  # never echoes key material
    assert "22" * 32 not in str(info.value)


def test_a_loaded_room_serves_the_same_keys(tmp_path) -> None:
    keys = derive_room_keys(PASSWORD, room_id=ROOM_ID, n=N)
    path = tmp_path / "room.json"
    RoomSecret.from_room_keys(keys).save(path)
    assert RoomSecret.load(path).access == keys.access
