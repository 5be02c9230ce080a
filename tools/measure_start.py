"""Measure SocketChat's start: time from exec to a visible login window, and the file's size.

    xvfb-run -a -s "-screen 0 1280x900x24" python tools/measure_start.py dist/socketchat
    xvfb-run -a python tools/measure_start.py --runs 7 -- python3 main.py   # from source

Each run starts the command afresh and polls ``xdotool search --onlyvisible --name
'^SocketChat$'`` every 10 ms until the login window is mapped (xdotool's own ``--sync`` polls
only every 500 ms, too coarse), then terminates the app. ``--drop-caches`` (root only) empties
the page cache before each run, for a start as after a reboot; otherwise the file is in the
page cache, as on a second start. Prints every run and the median. Linux with X only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

WINDOW_NAME = "^SocketChat$"
POLL = 0.01


def window_visible() -> bool:
    """True once a visible window is named exactly SocketChat."""
    command = ["xdotool", "search", "--onlyvisible", "--name", WINDOW_NAME]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    return result.returncode == 0 and bool(result.stdout.strip())


def drop_caches() -> None:
    """Empty the page cache (needs root), so the next start reads the file from disk."""
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def one_start(command: list[str], timeout: float, *, cold: bool) -> float:
    """Start ``command``; return the seconds until its window is visible."""
    if cold:
        drop_caches()
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - the executable under measurement
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not window_visible():
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited with {process.returncode} first")
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"no window after {timeout} s")
            time.sleep(POLL)
        return time.perf_counter() - started
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)
        if process.poll() is None:
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="+", help="the executable (and its arguments)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument(
        "--drop-caches", action="store_true", help="empty the page cache before each run (root)"
    )
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY"):
        parser.error("needs an X display: run it under xvfb-run -a")
    target = Path(args.command[0])
    if target.is_file() and len(args.command) == 1:
        print(f"{target}: {target.stat().st_size / 1e6:.1f} MB ({target.stat().st_size} bytes)")
    times = []
    for number in range(1, args.runs + 1):
        seconds = one_start(args.command, args.timeout, cold=args.drop_caches)
        times.append(seconds)
        print(f"run {number}: {seconds:.3f} s to a visible window")
    print(
        f"median {statistics.median(times):.3f} s, min {min(times):.3f} s, "
        f"max {max(times):.3f} s over {len(times)} runs"
        + (" (page cache dropped before each)" if args.drop_caches else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
