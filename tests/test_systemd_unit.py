"""docs/systemd/socketchat-relay.service against the code: the relay command it starts parses
with the relay's own options, and the unit tells systemd what the relay needs (SIGTERM, which
the relay answers with a goodbye; its state directory; a file limit for many members)."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from main import build_parser

UNIT = Path(__file__).resolve().parents[1] / "docs" / "systemd" / "socketchat-relay.service"


def _service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read_string(UNIT.read_text(encoding="utf-8").replace("\\\n", " "))
    return parser["Service"]


def test_the_unit_starts_a_relay_command_the_relay_accepts() -> None:
    words = shlex.split(_service()["ExecStart"])
    args = words[words.index("/opt/socketchat/main.py") + 1 :]
    parsed = build_parser().parse_args(args)
    assert parsed.rooms == "/var/lib/socketchat-relay/rooms"
    assert parsed.data == "/var/lib/socketchat-relay/history"
    state = Path("/var/lib") / _service()["StateDirectory"]
    assert Path(parsed.rooms).is_relative_to(state) and Path(parsed.data).is_relative_to(state)


def test_the_unit_stops_with_sigterm_and_allows_many_members() -> None:
    service = _service()
    assert service["KillSignal"] == "SIGTERM"
    assert int(service["LimitNOFILE"]) >= 65536
    assert service["UMask"] == "0077"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
def test_systemd_finds_nothing_wrong_with_the_unit_but_the_missing_install() -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", str(UNIT)], capture_output=True, text=True, timeout=60
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and "/opt/socketchat" not in line
    ]
    assert problems == []
