"""docs/RELAY.md against the code: the limits table states RelayConfig's defaults, the room
file and names file examples are what the relay writes, and the log lines it shows are the
relay's own.

Each row of the table under "Limits and their defaults" names its settings (the RelayConfig
fields, in backquotes) and states their defaults, in order, as numbers with units (``10 s``,
``5 min``, ``1 MiB``, ``4,000 bytes``). The test reads the numbers back and compares them with
the code, so the operators' numbers cannot drift from the relay's again. The first tests check
the reader itself on small samples, so the comparison cannot pass by not seeing.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import socket
from pathlib import Path

import pytest

from crypto.identity import Identity
from net.proto import ClientProtocol, FrameType, Reason
from net.relay import RelayConfig
from net.relay.bindings import save_bindings
from net.relay.roomfile import RoomSecret
from tests.net.helpers import frame

RELAY_DOC = Path(__file__).resolve().parents[3] / "docs" / "RELAY.md"
SECTION = "## Limits and their defaults"
#: Settings documented elsewhere (the command's options) or not a limit at all.
# Where it listens, injected clocks, the "this network only" rule and the trusted proxies
# (--trust-proxy, documented with HAProxy) are not limits.
NOT_LIMITS = frozenset({"host", "port", "clock", "accept_peer", "trust_proxy"})

_UNITS = {"ms": 0.001, "s": 1, "min": 60, "KiB": 1024, "MiB": 1024 * 1024}
_NUMBER = re.compile(r"(\d[\d,]*(?:\.\d+)?)(?:\s*(MiB|KiB|min|ms|s)\b)?")


def numbers(cell: str) -> list[float]:
    """The numbers stated in a Default cell, in order, in the settings' units (seconds,
    bytes): ``"30 s / 90 s"`` → [30, 90]; ``"5/s"`` is 5 (a rate, no unit)."""
    return [
        float(digits.replace(",", "")) * _UNITS.get(unit or "", 1)
        for digits, unit in _NUMBER.findall(cell)
    ]


def limits_table(markdown: str) -> dict[str, tuple[str, list[str]]]:
    """Row label → (Default cell, setting names) from the table under :data:`SECTION`."""
    section = markdown.split(f"\n{SECTION}\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if not line.startswith("|"):
            continue
        label, default, settings, *_ = (cell.strip() for cell in line.strip("|").split("|"))
        if label == "Limit" or not label.strip("-: "):
            continue  # the header and the rule under it
        rows[label] = (default, re.findall(r"`(\w+)`", settings))
    return rows


ROWS = limits_table(RELAY_DOC.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("200", [200]),
        ("10 s", [10]),
        ("30 s / 90 s", [30, 90]),
        ("5 free, then 1 s, doubling up to 5 min", [5, 1, 300]),
        ("5/s, bursts of 20 (pings count too)", [5, 20]),
        ("1 MiB", [1024 * 1024]),
        ("4,000 bytes of text", [4000]),
        ("0.5 s", [0.5]),
    ],
)
def test_the_reader_finds_the_numbers_and_their_units(cell: str, expected: list[float]) -> None:
    assert numbers(cell) == expected


def test_the_reader_finds_the_rows_of_the_section_only() -> None:
    markdown = (
        "# Doc\n\n| Limit | Default | Setting | What |\n|---|---|---|---|\n| other | 1 | `a` | |\n"
        f"\n{SECTION}\n\nText.\n\n| Limit | Default | Setting | What happens |\n|---|---|---|---|\n"
        "| idle | 30 s / 90 s | `idle_ping`, `idle_timeout` | pinged, then dropped |\n"
        "| backlog | 512 | `backlog` | |\n\n## Next\n\n| x | 2 | `b` | |\n"
    )
    assert limits_table(markdown) == {
        "idle": ("30 s / 90 s", ["idle_ping", "idle_timeout"]),
        "backlog": ("512", ["backlog"]),
    }


def test_the_table_is_read() -> None:
    assert len(ROWS) >= 10
    assert all(settings for _, settings in ROWS.values()), "a row names no setting"


@pytest.mark.parametrize("label", sorted(ROWS))
def test_the_limits_table_states_the_relay_config_defaults(label: str) -> None:
    default, settings = ROWS[label]
    code = [getattr(RelayConfig(), name) for name in settings]
    assert numbers(default) == code, (
        f"docs/RELAY.md says {label!r} is {default!r}, RelayConfig has "
        + ", ".join(f"{name}={value!r}" for name, value in zip(settings, code, strict=True))
    )


def test_every_relay_setting_is_in_the_limits_table() -> None:
    documented = [name for _, settings in ROWS.values() for name in settings]
    fields = {field.name for field in dataclasses.fields(RelayConfig)} - NOT_LIMITS
    assert sorted(documented) == sorted(fields)  # each once, none missing, none unknown


# -- room files, the names file and the log lines, as RELAY.md shows them ---------------------

TEXT = RELAY_DOC.read_text(encoding="utf-8")


def json_example(after: str) -> dict[str, object]:
    """The first ```json block after the heading ``after``."""
    block = TEXT.split(f"\n{after}\n", 1)[1].split("```json\n", 1)[1].split("\n```", 1)[0]
    document: dict[str, object] = json.loads(block)
    return document


def test_the_room_file_example_is_what_room_create_writes(tmp_path) -> None:
    path = tmp_path / "office.room"
    RoomSecret.create_owned("a password", Identity.generate(), n=2**10).save(path)
    written = json.loads(path.read_text())
    example = json_example("### Room files")
    assert list(example) == list(written)
    assert (example["format"], example["version"]) == (written["format"], written["version"])
    for field in ("room_id", "access", "relay_key", "genesis"):
        assert f"<{len(written[field])} hex digits>" == example[field]
    assert example["actions"] == written["actions"] == []  # a new room: no action yet


def test_a_room_file_without_an_owner_is_the_example_without_its_last_two_entries(
    tmp_path, room_keys
) -> None:
    path = tmp_path / "office.room"
    RoomSecret.from_room_keys(room_keys).save(path)
    assert list(json.loads(path.read_text())) == list(json_example("### Room files"))[:-2]


def test_the_names_file_example_is_what_the_relay_writes(tmp_path) -> None:
    path = tmp_path / "office.room.names"
    save_bindings(path, {"alice": bytes(32)})
    written = json.loads(path.read_text())
    example = json_example("### The names file")
    assert list(example) == list(written)
    assert (example["format"], example["version"]) == (written["format"], written["version"])
    names = example["names"]
    assert isinstance(names, dict) and list(names) == ["alice"]
    assert names["alice"].startswith("<64 hex digits")


def log_table() -> list[tuple[str, str]]:
    """(log line, code cell) of the table of log lines under "What the log shows"."""
    section = TEXT.split("\n## What the log shows\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        logged, code, *_ = (cell.strip() for cell in line.strip("|").split("|"))
        rows.append((logged.strip("`"), code))
    return rows


def test_the_log_table_names_the_reason_codes_right() -> None:
    rows = log_table()
    assert len(rows) >= 6
    for _, code in rows:
        if code == "—":
            continue
        number, name = code.split()
        assert Reason[name] == int(number), code


def _pattern(documented: str) -> re.Pattern[str]:
    """A documented line as a pattern: ADDR is any address, … anything, N any number."""
    pattern = re.escape(documented).replace("ADDR", r"\S+").replace("…", ".*")
    return re.compile(re.sub(r"\bN\b", r"\\d+", pattern))


def test_the_log_lines_in_the_table_are_the_relays(relays, room_keys, caplog) -> None:
    caplog.set_level(logging.INFO, logger="socketchat.relay")
    relays.start()
    alice = Identity.generate()
    relays.member("alice", identity=alice)
    for asked in ("alice", "ａｌｉｃｅ", "аlice"):  # taken, a look-alike, mixed alphabets
        client = relays.client("placeholder", start=False)
        client.proto.username = asked  # sent as it is, past the client's own check
        client.proto.initiate()
        client.flush()
        client.wait_closed()
    relays.member("alice", identity=alice)  # her device again: the first connection goes
    asking = relays.client("bob", room_id=bytes.fromhex("1af4c48e") + bytes(12))
    asking.wait_closed()
    with socket.create_connection(("127.0.0.1", relays.port), timeout=10) as sock:
        opening = ClientProtocol(username="bob", identity=Identity.generate(), keys=room_keys)
        opening.initiate()
        sock.sendall(opening.data_to_send())
        hello = sock.recv(4096)
        assert hello[4] == FrameType.RELAY_HELLO
        sock.sendall(frame(FrameType.CLIENT_PAKE, b"\x04" + bytes(64) + bytes(32)))  # no point
        while sock.recv(4096):
            pass
    big = relays.member("alice", identity=alice)  # and once more, with a modified client
    big.send_envelopes(bytes(4000 + 433))
    big.wait_closed()
    relays.close()  # every line is out once the relay has stopped
    lines = [r.getMessage() for r in caplog.records if r.name == "socketchat.relay"]
    for documented, _ in log_table():
        pattern = _pattern(documented)
        assert any(pattern.fullmatch(line) for line in lines), (documented, lines)
