"""The app's start with 20 remembered rooms: process start to a usable window, and until
every room is joined (``tools/measure_rooms_start.py``: real relays, the rooms' records in a
real Secret Service on a private bus, a fresh app process per run). Target: a usable window in
under 1 s. Needs a display (run under Xvfb when there is none) and gnome-keyring."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from bench import report
from bench.loadgen import ROOT

_MEDIAN = re.compile(r"^median (.+): (\d+) ms$", re.M)


def section(*, quick: bool) -> str:
    """Section 12 of the report (3 rooms, one run with ``quick``)."""
    rooms, runs = (3, 1) if quick else (20, 5)
    title = f"### 12. The app's start with {rooms} remembered rooms\n\n"
    missing = [tool for tool in ("dbus-daemon", "gnome-keyring-daemon") if not shutil.which(tool)]
    if missing:
        return title + f"skipped: {', '.join(missing)} not installed"
    command = [sys.executable, str(ROOT / "tools" / "measure_rooms_start.py")]
    command += ["--rooms", str(rooms), "--runs", str(runs)]
    if not os.environ.get("DISPLAY"):
        if not shutil.which("xvfb-run"):
            return title + "skipped: no display and no xvfb-run"
        command = ["xvfb-run", "-a", "-s", "-screen 0 1280x900x24", *command]
    try:
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=True
        )
    except (subprocess.SubprocessError, OSError) as exc:
        return title + f"failed: {exc}"
    medians = {what: int(ms) for what, ms in _MEDIAN.findall(done.stdout)}
    rows = [[what, f"{ms:,}"] for what, ms in medians.items()]
    print(f"  app start with {rooms} rooms: {medians}", flush=True)
    return (
        title
        + report.table(["median of " + str(runs) + " runs", "ms"], rows)
        + "\n\nTarget: a usable window (room list filled, the first room showing) in under"
        " 1 s from the process start."
    )
