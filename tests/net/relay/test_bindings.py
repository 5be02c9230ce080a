"""net.relay.bindings: the names file next to a room file (which identity holds which name)."""

from __future__ import annotations

import json
import logging
import os
import stat
import sys
from pathlib import Path

import pytest

from net.relay.bindings import bindings_path, load_bindings, save_bindings

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
ALICE, BOB = bytes(range(32)), bytes(range(32, 64))


def test_the_names_file_sits_next_to_the_room_file(tmp_path) -> None:
    assert bindings_path(tmp_path / "office.room") == tmp_path / "office.room.names"
    assert bindings_path("office.room") == Path("office.room.names")


def test_no_file_yet_is_no_bindings(tmp_path) -> None:
    assert load_bindings(tmp_path / "office.room.names") == {}


def test_save_and_load_round_trip(tmp_path) -> None:
    path = tmp_path / "office.room.names"
    save_bindings(path, {"bob": BOB, "alice": ALICE})
    assert load_bindings(path) == {"alice": ALICE, "bob": BOB}
    assert json.loads(path.read_text()) == {
        "format": "socketchat-room-names",
        "version": 1,
        "names": {"alice": ALICE.hex(), "bob": BOB.hex()},
    }
    save_bindings(path, {"alice": ALICE})  # replaced whole, not appended to
    assert load_bindings(path) == {"alice": ALICE}
    assert os.listdir(tmp_path) == ["office.room.names"]  # no temporary file left behind


@posix_only
def test_the_file_is_private_whatever_the_umask(tmp_path) -> None:
    path = tmp_path / "office.room.names"
    old = os.umask(0)
    try:
        save_bindings(path, {"alice": ALICE})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_failed_save_is_logged_not_raised(tmp_path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="socketchat.relay")
    path = tmp_path / "gone" / "office.room.names"  # its directory does not exist
    save_bindings(path, {"alice": ALICE})  # the room goes on
    assert not path.exists()
    assert any("cannot save the room's names" in r.getMessage() for r in caplog.records)


GOOD = {"format": "socketchat-room-names", "version": 1, "names": {"alice": "00" * 32}}


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"{not json", id="not-json"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param(b"[]", id="not-an-object"),
        pytest.param(json.dumps({**GOOD, "format": "socketchat-room"}).encode(), id="format"),
        pytest.param(json.dumps({**GOOD, "version": 2}).encode(), id="version"),
        pytest.param(json.dumps({**GOOD, "names": ["alice"]}).encode(), id="names-a-list"),
        pytest.param(
            json.dumps({k: v for k, v in GOOD.items() if k != "names"}).encode(), id="no-names"
        ),
        pytest.param(json.dumps({**GOOD, "names": {"alice": "00" * 31}}).encode(), id="short-key"),
        pytest.param(json.dumps({**GOOD, "names": {"alice": "zz" * 32}}).encode(), id="not-hex"),
        pytest.param(json.dumps({**GOOD, "names": {"alice": 5}}).encode(), id="not-a-string"),
        pytest.param(b" " * (8 * 1024 * 1024 + 1), id="too-large"),
    ],
)
def test_a_damaged_file_is_refused_in_plain_words(tmp_path, content: bytes) -> None:
    path = tmp_path / "office.room.names"
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        load_bindings(path)
    message = str(info.value)
    assert str(path) in message
    assert "damaged" in message or "too large" in message
    assert path.read_bytes() == content  # never "repaired" behind the operator's back


def test_the_good_sample_loads(tmp_path) -> None:
    path = tmp_path / "office.room.names"
    path.write_text(json.dumps(GOOD))
    assert load_bindings(path) == {"alice": bytes(32)}
