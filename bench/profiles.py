"""The relay's cProfile output as the tables in docs/BENCHMARKS.md ("Profiles").

``python -m bench --profile`` runs the SocketChat relay under cProfile for the 50-member
fan-out rows at one message per CHAT frame and at 16 (each row a relay process of its own, its
joins included) and prints, for each, the time by area and the top functions by own time. Time
waiting in ``epoll.poll`` is idle and left out of the shares. ``python -m bench.profiles FILE...``
prints the same tables for saved profiles.
"""

from __future__ import annotations

import pstats
import sys
from collections import defaultdict

from bench import report

_IDLE = "<method 'poll' of 'select.epoll' objects>"
# Where a function lives, by the first matching fragment of its file name (or its name).
_AREAS = (
    ("site-packages/Crypto/", "pycryptodome (AEAD, SPAKE2 points, Ed25519)"),
    ("/crypto/", "crypto/ wrappers (transport, aead, spake2, identity)"),
    ("/net/proto/", "net/proto (frames, dispatch, CHAT decode, room, items)"),
    ("/net/relay/", "net/relay (MemberConnection, Relay, admission)"),
    ("/asyncio/", "asyncio event loop and transports"),
    ("of '_socket.socket' objects", "socket send/recv (kernel)"),
)
_OTHER = "other (builtins, ctypes, stdlib)"


def _where(func: tuple[str, int, str]) -> str:
    path, _line, name = func
    text = f"{path}:{name}"
    for fragment, area in _AREAS:
        if fragment in text:
            return area
    return _OTHER


def _short(func: tuple[str, int, str]) -> str:
    path, _line, name = func
    if path == "~":
        return name.replace("<", "").replace(">", "")
    parts = path.split("/")
    for root in ("site-packages", "lib", "wt-v2-bench"):
        if root in parts and parts.index(root) + 1 < len(parts):
            parts = parts[len(parts) - 1 - parts[::-1].index(root) + 1 :]
            break
    return f"{'/'.join(parts[-3:])}:{name}"


def tables(path: str, top: int = 14) -> str:
    """Markdown: time by area, then the top functions by own time, of profile ``path``."""
    stats = pstats.Stats(path).stats  # type: ignore[attr-defined]
    busy = 0.0
    areas: dict[str, float] = defaultdict(float)
    rows = []
    for func, (_cc, calls, own, cumulative, _callers) in stats.items():
        if func[2] == _IDLE:
            continue
        busy += own
        areas[_where(func)] += own
        rows.append((own, calls, cumulative, _short(func)))
    rows.sort(reverse=True)
    area_rows = [
        [area, f"{seconds:.2f}", f"{seconds / busy:.0%}"]
        for area, seconds in sorted(areas.items(), key=lambda kv: -kv[1])
    ]
    function_rows = [
        [f"`{name}`", f"{calls:,}", f"{own:.3f}", f"{own / busy:.1%}", f"{cumulative:.3f}"]
        for own, calls, cumulative, name in rows[:top]
    ]
    return (
        f"busy (everything but epoll.poll): {busy:.2f} s under cProfile\n\n"
        + report.table(["area", "own s", "share"], area_rows)
        + "\n\n"
        + report.table(["function", "calls", "own s", "share", "cumulative s"], function_rows)
    )


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"## {name}\n\n{tables(name)}\n")
