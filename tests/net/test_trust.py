"""net.client.trust: relay pins and trust on first use, in memory and on disk."""

from __future__ import annotations

import json
import os
import stat
import sys
import threading

import pytest

from net.client.trust import Trust, TrustStore, relay_address

ROOM = bytes(range(16))
OTHER_ROOM = bytes(range(16, 32))
ALICE = b"\x01" * 32
MALLORY = b"\x02" * 32
DH_A, DH_B = b"\x11" * 32, b"\x12" * 32


def test_first_key_is_remembered_then_known():
    trust = TrustStore()
    assert trust.observe(ROOM, "alice", ALICE) is Trust.NEW
    assert trust.observe(ROOM, "alice", ALICE) is Trust.KNOWN
    assert trust.status(ROOM, "Alice", ALICE) is Trust.KNOWN  # names ignore case


def test_another_key_for_a_known_name_stays_changed_until_accepted():
    trust = TrustStore()
    trust.observe(ROOM, "alice", ALICE)
    assert trust.observe(ROOM, "alice", MALLORY) is Trust.CHANGED
    # Persistent: seeing it again does not make it acceptable, nor does time.
    assert trust.observe(ROOM, "alice", MALLORY) is Trust.CHANGED
    record = trust.record(ROOM, "alice")
    assert record is not None and record.key == ALICE and record.pending_key == MALLORY
    # The old key is still the one trusted.
    assert trust.status(ROOM, "alice", ALICE) is Trust.KNOWN
    trust.accept_key(ROOM, "alice", MALLORY)
    assert trust.status(ROOM, "alice", MALLORY) is Trust.KNOWN
    assert trust.status(ROOM, "alice", ALICE) is Trust.CHANGED


def test_verified_keys_and_a_change_after_verification():
    trust = TrustStore()
    trust.observe(ROOM, "alice", ALICE)
    trust.mark_verified(ROOM, "alice", ALICE)
    assert trust.observe(ROOM, "alice", ALICE) is Trust.VERIFIED
    assert trust.observe(ROOM, "alice", MALLORY) is Trust.CHANGED
    record = trust.record(ROOM, "alice")
    assert record is not None and record.was_verified
    trust.accept_key(ROOM, "alice", MALLORY)  # accepting is not verifying
    assert trust.status(ROOM, "alice", MALLORY) is Trust.KNOWN


def test_rooms_are_separate():
    trust = TrustStore()
    trust.observe(ROOM, "alice", ALICE)
    assert trust.observe(OTHER_ROOM, "alice", MALLORY) is Trust.NEW


def test_relay_pins_are_per_address_and_room_and_never_overwritten():
    trust = TrustStore()
    here = relay_address("Example.org", 7777, bytes(16))
    assert here == relay_address("example.org", 7777, bytes(16))
    assert trust.relay_key(here) is None
    trust.pin_relay(here, ALICE)
    trust.pin_relay(here, MALLORY)  # a pin is only replaced by an explicit forget
    assert trust.relay_key(here) == ALICE
    assert trust.relay_key(relay_address("example.org", 7778, bytes(16))) is None
    trust.forget_relay(here)
    assert trust.relay_key(here) is None


def test_forgetting_an_address_drops_its_pins_for_every_room_and_nothing_else(tmp_path):
    trust = TrustStore(tmp_path / "trust.json")
    for room in (bytes(16), ROOM, OTHER_ROOM):
        trust.pin_relay(relay_address("example.org", 7777, room), ALICE)
    trust.pin_relay(relay_address("example.org", 7778, bytes(16)), MALLORY)
    trust.pin_relay(relay_address("example.org.evil", 7777, bytes(16)), MALLORY)
    assert trust.forget_relays_at("EXAMPLE.org", 7777) == 3
    assert trust.forget_relays_at("example.org", 7777) == 0
    again = TrustStore(tmp_path / "trust.json")  # and the file says so
    for room in (bytes(16), ROOM, OTHER_ROOM):
        assert again.relay_key(relay_address("example.org", 7777, room)) is None
    assert again.relay_key(relay_address("example.org", 7778, bytes(16))) == MALLORY
    assert again.relay_key(relay_address("example.org.evil", 7777, bytes(16))) == MALLORY


def test_records_survive_a_restart(tmp_path):
    path = tmp_path / "trust.json"
    trust = TrustStore(path)
    trust.observe(ROOM, "alice", ALICE)
    trust.mark_verified(ROOM, "alice", ALICE)
    trust.observe(ROOM, "bob", MALLORY)
    trust.pin_relay("example.org:7777|00", b"\x09" * 32)
    again = TrustStore(path)
    assert again.status(ROOM, "alice", ALICE) is Trust.VERIFIED
    assert again.status(ROOM, "bob", MALLORY) is Trust.KNOWN
    assert again.relay_key("example.org:7777|00") == b"\x09" * 32


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_the_file_is_private(tmp_path):
    path = tmp_path / "trust.json"
    TrustStore(path).observe(ROOM, "alice", ALICE)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.parametrize(
    "content",
    [b"not json", b"[]", b'{"format": "other"}', b"\xff\xfe", json.dumps({"format": 1}).encode()],
)
def test_a_damaged_file_is_kept_aside_not_trusted(tmp_path, content):
    path = tmp_path / "trust.json"
    path.write_bytes(content)
    trust = TrustStore(path)
    assert trust.status(ROOM, "alice", ALICE) is Trust.NEW
    assert (tmp_path / "trust.damaged").read_bytes() == content


def test_concurrent_observers_do_not_lose_records(tmp_path):
    trust = TrustStore(tmp_path / "trust.json")

    def observe(start: int) -> None:
        for i in range(start, start + 50):
            trust.observe(ROOM, f"member{i}", bytes([i % 256]) * 32)

    threads = [threading.Thread(target=observe, args=(n * 50,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reloaded = TrustStore(tmp_path / "trust.json")
    assert all(
        reloaded.status(ROOM, f"member{i}", bytes([i % 256]) * 32) is Trust.KNOWN
        for i in range(200)
    )


def test_a_members_x25519_key_is_remembered_with_its_signing_key_only(tmp_path):
    store = TrustStore(tmp_path / "trust.json")
    assert store.identity(ROOM, ALICE) is None
    store.observe(ROOM, "alice", ALICE)  # seen as a sender: no X25519 key yet
    assert store.identity(ROOM, ALICE) is None
    store.observe(ROOM, "alice", ALICE, DH_A)  # seen in a member list
    assert store.identity(ROOM, ALICE) == ("alice", DH_A)
    store.observe(ROOM, "Alice", MALLORY, DH_B)  # another key behind the name: not taken
    assert store.identity(ROOM, MALLORY) is None
    assert store.identity(ROOM, ALICE) == ("alice", DH_A)
    store.mark_verified(ROOM, "alice", ALICE)  # the same identity: its X25519 key stays
    assert TrustStore(tmp_path / "trust.json").identity(ROOM, ALICE) == ("alice", DH_A)
    assert store.identity(OTHER_ROOM, ALICE) is None  # per room
    store.accept_key(ROOM, "alice", MALLORY)  # the new identity, until seen in a member list
    assert store.identity(ROOM, ALICE) is None and store.identity(ROOM, MALLORY) is None
    store.observe(ROOM, "alice", MALLORY, DH_B)
    assert store.identity(ROOM, MALLORY) == ("alice", DH_B)


def test_a_damaged_x25519_key_in_the_file_is_as_if_not_remembered(tmp_path):
    path = tmp_path / "trust.json"
    TrustStore(path).observe(ROOM, "alice", ALICE, DH_A)
    document = json.loads(path.read_text())
    document["rooms"][ROOM.hex()]["alice"]["dh"] = "not hex"
    path.write_text(json.dumps(document))
    assert TrustStore(path).identity(ROOM, ALICE) is None
