"""net.relay.roomfile: what a relay keeps (room id, access key and its relay identity; never
the password or the message key; the genesis and actions of a room with an owner), room files
(version 2, with or without an owner), checks."""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest

from crypto.errors import PasswordError
from crypto.genesis import Genesis
from crypto.identity import Identity
from crypto.kdf import derive_room_keys
from crypto.spake2 import Spake2Secret
from net.proto import ActionKind, Authority
from net.relay import create_owned_room
from net.relay.roomfile import MAX_FILE_BYTES, RoomSecret
from tests.net.helpers import PASSWORD, ROOM_ID, identity

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
        (b" " * (MAX_FILE_BYTES + 1), "too large"),
    ],
    ids=lambda value: "huge" if isinstance(value, bytes) and len(value) > 1000 else None,
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


# -- rooms with an owner ---------------------------------------------------------------------

OWNER = identity("alice")


@pytest.fixture(scope="module")
def owned() -> RoomSecret:
    return RoomSecret.create_owned(PASSWORD, OWNER, n=N)


def signed_actions(secret: RoomSecret, *steps: tuple[Identity, ActionKind, Identity]) -> list:
    """Actions signed in order on ``secret``'s room, each (actor, kind, target)."""
    genesis = secret.genesis
    assert genesis is not None
    authority = Authority(genesis)
    actions = []
    for actor, kind, target in steps:
        action = authority.sign(actor, kind, target.signing_public)
        authority.apply(action)
        actions.append(action)
    return actions


def test_an_owned_room_gets_its_id_from_its_owner(owned) -> None:
    genesis = owned.genesis
    assert genesis is not None
    assert owned.room_id == genesis.room_id
    assert owned.owner_key == OWNER.signing_public
    assert owned.actions == ()
    # The room id is the scrypt salt, as for any room.
    assert owned.access == derive_room_keys(PASSWORD, room_id=owned.room_id, n=N).access
    authority = owned.authority()
    assert authority is not None and authority.owner == OWNER.signing_public
    # A new room each time, even for the same owner and password.
    assert RoomSecret.create_owned(PASSWORD, OWNER, n=N).room_id != owned.room_id
    assert "owner=" + OWNER.signing_public.hex()[:8] in repr(owned)


def test_from_password_takes_an_owner() -> None:
    secret = RoomSecret.from_password(PASSWORD, owner=OWNER, n=N)
    assert secret.owner_key == OWNER.signing_public
    assert secret.genesis is not None and secret.room_id == secret.genesis.room_id
    with pytest.raises(ValueError, match="comes from its owner"):
        RoomSecret.from_password(PASSWORD, room_id=ROOM_ID, owner=OWNER, n=N)


def test_create_owned_room_gives_the_hosts_keys_too() -> None:
    keys, secret = create_owned_room(PASSWORD, OWNER, n=N)
    assert keys.room_id == secret.room_id and keys.access == secret.access
    assert secret.owner_key == OWNER.signing_public
    assert keys.member not in [getattr(secret, slot) for slot in RoomSecret.__slots__]


def test_a_room_without_an_owner_has_no_authority(secret) -> None:
    assert secret.genesis is None and secret.owner_key is None
    assert secret.actions == () and secret.authority() is None
    with pytest.raises(ValueError, match="owner"):
        secret.with_actions([b"anything"])


def test_a_genesis_for_another_room_is_refused(room_keys) -> None:
    genesis = Genesis.create(OWNER)
    with pytest.raises(ValueError, match="not for this room"):
        RoomSecret.from_room_keys(room_keys, genesis=genesis)
    with pytest.raises(ValueError, match="owner"):
        RoomSecret(room_id=ROOM_ID, access=bytes(32), actions=[b"x"])


def test_an_owned_room_file_round_trips_with_its_actions(tmp_path, owned) -> None:
    bob, carol = identity("bob"), identity("carol")
    actions = signed_actions(
        owned, (OWNER, ActionKind.MAKE_ADMIN, bob), (bob, ActionKind.REMOVE, carol)
    )
    secret = owned.with_actions(action.encode() for action in actions)
    assert secret.relay_key == owned.relay_key and secret.credentials is owned.credentials
    assert secret != owned  # another action log
    path = tmp_path / "room.json"
    secret.save(path)
    document = json.loads(path.read_text())
    assert list(document) == [
        "format",
        "version",
        "room_id",
        "access",
        "relay_key",
        "genesis",
        "actions",
    ]
    genesis = secret.genesis
    assert genesis is not None
    assert document["genesis"] == genesis.encode().hex()
    assert document["actions"] == [action.encode().hex() for action in actions]
    loaded = RoomSecret.load(path)
    assert loaded == secret
    authority = loaded.authority()
    assert authority is not None
    assert authority.admins == {bob.signing_public}
    assert authority.removed == {carol.signing_public}


def test_an_owned_room_without_actions_yet_loads(tmp_path, owned) -> None:
    path = tmp_path / "room.json"
    owned.save(path)
    assert json.loads(path.read_text())["actions"] == []
    assert RoomSecret.load(path) == owned
    document = json.loads(path.read_text())
    del document["actions"]  # "actions" may be left out too
    path.write_text(json.dumps(document))
    assert RoomSecret.load(path) == owned


def test_an_old_room_file_is_a_room_without_an_owner(tmp_path) -> None:
    path = tmp_path / "room.json"
    path.write_text(json.dumps(GOOD))
    loaded = RoomSecret.load(path)
    assert loaded.genesis is None and loaded.actions == () and loaded.authority() is None
    loaded.save(tmp_path / "again.json")  # and it is saved as it was: no owner entries
    assert json.loads((tmp_path / "again.json").read_text()) == GOOD


def _owned_document(tmp_path, secret: RoomSecret) -> dict:
    path = tmp_path / "source.json"
    secret.save(path)
    return json.loads(path.read_text())


def test_an_owned_room_file_whose_id_is_not_its_owners_is_refused(tmp_path, owned) -> None:
    document = {**_owned_document(tmp_path, owned), "room_id": ROOM_ID.hex()}
    path = tmp_path / "room.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError) as info:
        RoomSecret.load(path)
    message = str(info.value)
    assert str(path) in message and "not for this room" in message
    assert owned.room_id.hex() in message and ROOM_ID.hex() in message


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: {**d, "genesis": d["genesis"][:-2]}, "113 bytes (226 hex digits)"),
        (lambda d: {**d, "genesis": "zz" * 113}, "not hexadecimal"),
        (lambda d: {**d, "genesis": 7}, "no 'genesis'"),
        # A changed settings byte: the same room id, a signature that no longer verifies.
        (lambda d: {**d, "genesis": d["genesis"][:96] + "00" + d["genesis"][98:]}, "not signed"),
        (lambda d: {**d, "actions": "00"}, "not a list"),
        (lambda d: {**d, "actions": [1]}, "not a list"),
        (lambda d: {**d, "actions": ["zz"]}, "Action 1"),
        (lambda d: {**d, "actions": ["00" * 20]}, "Action 1"),
        (
            lambda d: {k: v for k, v in d.items() if k != "genesis"},
            "room actions but no 'genesis'",
        ),
    ],
    ids=[
        "genesis-short",
        "genesis-hex",
        "genesis-type",
        "genesis-forged",
        "actions-str",
        "actions-int",
        "action-hex",
        "action-short",
        "actions-without-genesis",
    ],
)
def test_bad_owner_entries_say_what_is_wrong(tmp_path, owned, change, words) -> None:
    bob = identity("bob")
    (action,) = signed_actions(owned, (OWNER, ActionKind.MAKE_ADMIN, bob))
    document = _owned_document(tmp_path, owned.with_actions([action.encode()]))
    path = tmp_path / "room.json"
    path.write_text(json.dumps(change(document)))
    with pytest.raises(ValueError) as info:
        RoomSecret.load(path)
    assert words in str(info.value)
    assert str(path) in str(info.value)


def test_a_tampered_action_loads_but_its_authority_is_refused(tmp_path, owned) -> None:
    bob = identity("bob")
    (action,) = signed_actions(owned, (OWNER, ActionKind.MAKE_ADMIN, bob))
    encoded = bytearray(action.encode())
    encoded[10] ^= 1  # in the actor's key: well formed, but not what the owner signed
    tampered = owned.with_actions([bytes(encoded)])
    path = tmp_path / "room.json"
    tampered.save(path)
    loaded = RoomSecret.load(path)  # the form is right: the chain is the relay's to check
    with pytest.raises(ValueError, match="action 1 of 1 is refused"):
        loaded.authority()


def test_the_relay_rewrites_the_file_in_one_step(tmp_path, owned) -> None:
    path = tmp_path / "room.json"
    owned.save(path)
    if sys.platform != "win32":
        path.chmod(0o644)
    (action,) = signed_actions(owned, (OWNER, ActionKind.MAKE_ADMIN, identity("bob")))
    before = path.stat().st_ino
    owned.with_actions([action.encode()]).save(path, overwrite=True)
    assert RoomSecret.load(path).actions == (action.encode(),)
    assert path.stat().st_ino != before  # a new file renamed over the old, not rewritten
    assert sorted(p.name for p in tmp_path.iterdir()) == ["room.json"]  # no temporary left
    if sys.platform != "win32":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


@posix_only
def test_rewriting_through_a_symbolic_link_keeps_the_link(tmp_path, owned) -> None:
    real = tmp_path / "real.json"
    owned.save(real)
    link = tmp_path / "room.json"
    link.symlink_to(real)
    owned.save(link, overwrite=True)
    assert link.is_symlink() and RoomSecret.load(real) == owned


def test_a_file_of_many_actions_is_not_too_large(tmp_path, owned) -> None:
    # The longest action (a 255-byte detail) 4,096 times still fits the file size limit.
    longest = (4 + 1 + 32 + 32 + 1 + 255 + 64) * 2
    assert 4096 * (longest + 8) + 1024 < MAX_FILE_BYTES
