"""Whether the system prefers dark windows: read once at start-up, never fatal.

:func:`system_prefers_dark` returns True, False, or None when the system does not say (then
the app uses light, or whatever the person chose in View → Theme, which always wins). Where it
looks, cheapest first:

- Windows: the registry value ``AppsUseLightTheme`` under
  ``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Themes\\Personalize`` (0 means dark).
- Linux: the freedesktop settings portal, ``org.freedesktop.appearance color-scheme`` over the
  session bus (1 prefers dark, 2 prefers light, 0 no preference), with a one-second deadline;
  then GTK's ``settings.ini`` (``gtk-application-prefer-dark-theme``, or a theme name ending
  in ``-dark``).
- macOS: ``defaults read -g AppleInterfaceStyle`` says ``Dark`` in dark mode.

The parsing is in plain functions the tests call with made-up input; the portal is tested
against a fake portal on a private session bus.
"""

from __future__ import annotations

import asyncio
import configparser
import os
import subprocess
import sys
from pathlib import Path

PORTAL_TIMEOUT = 1.0  # seconds; a missing portal answers at once, a stuck bus should not hang us
_PORTAL = "org.freedesktop.portal.Desktop"
_PORTAL_PATH = "/org/freedesktop/portal/desktop"
_SETTINGS = "org.freedesktop.portal.Settings"


def system_prefers_dark() -> bool | None:
    """The system's preference, or None if it cannot be read here."""
    try:
        if sys.platform == "win32":
            return _windows_prefers_dark()
        if sys.platform == "darwin":
            return _macos_prefers_dark()
        found = portal_prefers_dark()
        if found is None:
            found = gtk_prefers_dark(_gtk_settings_files())
        return found
    except Exception:
        return None


def _windows_prefers_dark() -> bool | None:
    if sys.platform != "win32":  # also tells mypy, checking on Linux, to skip the rest
        return None
    import winreg

    key_path = r"Software\Microsoft\Windows\CurrentVersion\Themes\Personalize"
    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key_path) as key:
            value, _kind = winreg.QueryValueEx(key, "AppsUseLightTheme")
    except OSError:
        return None
    return windows_value_prefers_dark(value)


def windows_value_prefers_dark(value: object) -> bool | None:
    """``AppsUseLightTheme``: 0 is dark, 1 is light, anything else says nothing."""
    if value in (0, 1):
        return value == 0
    return None


def _macos_prefers_dark() -> bool | None:
    result = subprocess.run(
        ["/usr/bin/defaults", "read", "-g", "AppleInterfaceStyle"],
        capture_output=True,
        text=True,
        timeout=2,
        check=False,
    )
    return result.stdout.strip().lower() == "dark"


def color_scheme_prefers_dark(value: object) -> bool | None:
    """The portal's ``color-scheme``: 1 prefers dark, 2 prefers light, 0 (or junk) says
    nothing."""
    if isinstance(value, int) and not isinstance(value, bool):
        return {1: True, 2: False}.get(value)
    return None


def portal_prefers_dark(timeout: float = PORTAL_TIMEOUT) -> bool | None:
    """Ask the settings portal on the session bus; None without a bus, portal or answer.

    Runs its own short event loop: call it before the app's loops start (at start-up).
    """
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return None
    try:
        import dbus_fast  # noqa: F401 - only where desktop-notifier brought it (Linux)
    except ImportError:
        return None
    try:
        return asyncio.run(asyncio.wait_for(_read_portal(), timeout))
    except Exception:
        return None


async def _read_portal() -> bool | None:
    from dbus_fast import Message, MessageType
    from dbus_fast.aio import MessageBus

    bus = await MessageBus().connect()
    try:
        for method, signature in (("ReadOne", "ss"), ("Read", "ss")):
            reply = await bus.call(
                Message(
                    destination=_PORTAL,
                    path=_PORTAL_PATH,
                    interface=_SETTINGS,
                    member=method,
                    signature=signature,
                    body=["org.freedesktop.appearance", "color-scheme"],
                )
            )
            if reply is None or reply.message_type != MessageType.METHOD_RETURN:
                continue  # ReadOne is new (portal version 2): fall back to Read
            value = reply.body[0]
            # Read wraps the value in one more variant than ReadOne does.
            while hasattr(value, "value"):
                value = value.value
            return color_scheme_prefers_dark(value)
        return None
    finally:
        bus.disconnect()


def _gtk_settings_files() -> list[Path]:
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return [config / "gtk-4.0" / "settings.ini", config / "gtk-3.0" / "settings.ini"]


def gtk_prefers_dark(files: list[Path]) -> bool | None:
    """GTK's own settings: the first file that says anything wins."""
    for path in files:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, configparser.Error):
            continue
        if not parser.has_section("Settings"):
            continue
        section = parser["Settings"]
        prefer = section.get("gtk-application-prefer-dark-theme", "").strip().lower()
        if prefer in ("1", "true", "yes"):
            return True
        theme = section.get("gtk-theme-name", "").strip().lower()
        if theme:
            return theme.endswith("-dark") or theme.endswith(":dark")
        if prefer in ("0", "false", "no"):
            return False
    return None
