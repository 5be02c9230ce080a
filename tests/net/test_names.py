"""Username rules and the case-insensitive uniqueness key; the bounded recent-ids set."""

from __future__ import annotations

import pytest

from net.proto import LocalProtocolError
from net.proto._names import username_key, validate_username
from net.proto._replay import RecentIds


@pytest.mark.parametrize("name", ["alice", "Zoë", "Ana María", "李小龙", "x" * 32, "a-b_c.d"])
def test_valid_names(name: str) -> None:
    assert validate_username(name) == name


def test_names_are_nfc_normalised() -> None:
    assert validate_username("Zoe\u0308") == "Zoë"


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("", "enter a name"),
        ("x" * 33, "at most 32"),
        (" alice", "start or end"),
        ("alice ", "start or end"),
        ("al\nice", "control"),
        ("al\u200bice", "invisible"),
        ("al\u202eice", "invisible"),
        ("al\u00a0ice", "unusual space"),
        ("al\u2028ice", "line separator"),
        ("al\ue000ice", "private-use"),
        ("al\U000e0fffice", "unassigned"),
    ],
)
def test_invalid_names_say_why(name: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        validate_username(name)


def test_length_counts_characters_after_nfc() -> None:
    assert validate_username("e\u0301" * 32) == "é" * 32  # 64 code points before NFC


def test_username_key_ignores_case_and_normalisation() -> None:
    assert username_key("ALICE") == username_key("alice")
    assert username_key("Zoe\u0308") == username_key("ZOË")
    assert username_key("Straße") == username_key("STRASSE")
    assert username_key("alice") != username_key("alicf")


def test_recent_ids_evicts_oldest() -> None:
    seen = RecentIds(capacity=3)
    for i in range(5):
        seen.add(bytes([i]))
    assert len(seen) == 3
    assert bytes([0]) not in seen and bytes([1]) not in seen
    assert all(bytes([i]) in seen for i in (2, 3, 4))
    seen.add(bytes([2]))  # refreshed: now the newest
    seen.add(bytes([5]))
    assert bytes([2]) in seen and bytes([3]) not in seen
    with pytest.raises(LocalProtocolError):
        RecentIds(capacity=0)
