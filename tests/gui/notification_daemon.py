"""A real notification daemon on a private session bus, for tests and screenshots.

:func:`start` runs ``dbus-daemon --session`` (a bus of our own, never the desktop's), a
``dbus-monitor`` that records every ``Notify`` call on it, and ``dunst`` (drawing its popups on
``$DISPLAY``, Xvfb in the tests). :meth:`Daemon.notifications` reads back what arrived, as the
daemon received it. Raises :class:`Unavailable` with the reason when a tool is missing.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

TOOLS = ("dbus-daemon", "dbus-monitor", "dbus-send", "dunst")
_STRING = re.compile(r'^\s*string "(.*)"$')


class Unavailable(Exception):
    """No daemon can be had here (the message says what is missing)."""


@dataclass
class Daemon:
    address: str
    monitor_log: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DBUS_SESSION_BUS_ADDRESS": self.address}

    def notifications(self) -> list[tuple[str, str, str]]:
        """``(app name, summary, body)`` of every Notify call seen so far, in order."""
        found: list[tuple[str, str, str]] = []
        lines = self.monitor_log.read_text(encoding="utf-8", errors="replace").splitlines()
        for number, line in enumerate(lines):
            if "member=Notify" not in line or "method call" not in line:
                continue
            strings = []
            for following in lines[number + 1 : number + 12]:
                match = _STRING.match(following)
                if match:
                    strings.append(match.group(1))
                if len(strings) == 4:
                    break
            if len(strings) == 4:
                app, _icon, summary, body = strings
                found.append((app, summary, body))
        return found

    def wait_for(self, count: int, timeout: float = 15.0) -> list[tuple[str, str, str]]:
        deadline = time.monotonic() + timeout
        while True:
            seen = self.notifications()
            if len(seen) >= count or time.monotonic() > deadline:
                return seen
            time.sleep(0.05)

    def stop(self) -> None:
        for process in reversed(self.processes):
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        for process in self.processes:
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def start(folder: Path) -> Daemon:
    """Start bus, monitor and dunst; the caller must :meth:`Daemon.stop` it."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise Unavailable(
            f"{', '.join(missing)} not installed (Debian: apt install dbus-daemon dbus-bin dunst)"
        )
    if not os.environ.get("DISPLAY"):
        raise Unavailable("no X display for dunst (pytest-xvfb or Xvfb provides one)")
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert bus.stdout is not None
    address = bus.stdout.readline().decode().strip()
    daemon = Daemon(address=address, monitor_log=folder / "dbus-monitor.log", processes=[bus])
    if not address:
        daemon.stop()
        raise Unavailable("dbus-daemon --session printed no address")
    try:
        log = daemon.monitor_log.open("wb")
        daemon.processes.append(
            subprocess.Popen(
                [
                    "dbus-monitor",
                    "--session",
                    "interface='org.freedesktop.Notifications',member='Notify'",
                ],
                stdout=log,
                stderr=subprocess.DEVNULL,
                env=daemon.env,
            )
        )
        config = folder / "dunstrc"
        config.write_text(
            "[global]\nfont = DejaVu Sans 10\norigin = top-right\noffset = 16x16\n"
            "frame_width = 1\nshow_indicators = no\n"
            'frame_color = "#8a8a8a"\nbackground = "#ffffff"\n'
            'foreground = "#1c1c1c"\nwidth = 360\nicon_position = left\nmax_icon_size = 48\n'
            'format = "<b>%s</b>\\n%b"\n'
            '[urgency_normal]\nbackground = "#ffffff"\nforeground = "#1c1c1c"\n'
            "timeout = 60\n"
        )
        daemon.processes.append(
            subprocess.Popen(
                ["dunst", "-config", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=(folder / "dunst.log").open("wb"),
                env=daemon.env,
            )
        )
        _wait_for_name(daemon, "org.freedesktop.Notifications")
        _wait_for_monitor(daemon)
    except BaseException:
        daemon.stop()
        raise
    return daemon


def _wait_for_name(daemon: Daemon, name: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = subprocess.run(
            [
                "dbus-send",
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                f"string:{name}",
            ],
            capture_output=True,
            text=True,
            env=daemon.env,
            check=False,
        )
        if "boolean true" in result.stdout:
            return
        if any(process.poll() is not None for process in daemon.processes):
            break
        time.sleep(0.05)
    raise Unavailable(f"{name} did not appear on the test bus (dunst failed to start?)")


def _wait_for_monitor(daemon: Daemon, timeout: float = 10.0) -> None:
    # dbus-monitor announces itself (NameAcquired / NameLost) once it is listening.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "Name" in daemon.monitor_log.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise Unavailable("dbus-monitor did not start on the test bus")
