"""docs/RELAY.md's table of limits states RelayConfig's defaults: read from the markdown.

Each row of the table under "Limits and their defaults" names its settings (the RelayConfig
fields, in backquotes) and states their defaults, in order, as numbers with units (``10 s``,
``5 min``, ``1 MiB``, ``4,000 bytes``). The test reads the numbers back and compares them with
the code, so the operators' numbers cannot drift from the relay's again. The first tests check
the reader itself on small samples, so the comparison cannot pass by not seeing.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from net.relay import RelayConfig

RELAY_DOC = Path(__file__).resolve().parents[3] / "docs" / "RELAY.md"
SECTION = "## Limits and their defaults"
#: Settings documented elsewhere (the command's options) or not a limit at all.
# Where it listens, injected clocks and the "this network only" rule are not limits.
NOT_LIMITS = frozenset({"host", "port", "clock", "accept_peer"})

_UNITS = {"s": 1, "min": 60, "KiB": 1024, "MiB": 1024 * 1024}
_NUMBER = re.compile(r"(\d[\d,]*(?:\.\d+)?)(?:\s*(MiB|KiB|min|s)\b)?")


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
