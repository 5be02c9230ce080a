"""Reading the system's light/dark preference (gui/system_theme.py): parsers without a display,
and the freedesktop settings portal answered by a fake portal on a private session bus."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from gui import system_theme
from gui.system_theme import (
    color_scheme_prefers_dark,
    gtk_prefers_dark,
    portal_prefers_dark,
    windows_value_prefers_dark,
)


def test_windows_registry_value():
    assert windows_value_prefers_dark(0) is True
    assert windows_value_prefers_dark(1) is False
    assert windows_value_prefers_dark(7) is None
    assert windows_value_prefers_dark("0") is None


def test_portal_color_scheme_values():
    assert color_scheme_prefers_dark(1) is True
    assert color_scheme_prefers_dark(2) is False
    assert color_scheme_prefers_dark(0) is None
    assert color_scheme_prefers_dark(True) is None
    assert color_scheme_prefers_dark("1") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[Settings]\ngtk-application-prefer-dark-theme=1\n", True),
        ("[Settings]\ngtk-application-prefer-dark-theme=true\n", True),
        ("[Settings]\ngtk-theme-name=Adwaita-dark\n", True),
        ("[Settings]\ngtk-theme-name=Adwaita\n", False),
        ("[Settings]\ngtk-application-prefer-dark-theme=0\n", False),
        ("[Settings]\ngtk-font-name=Cantarell 11\n", None),
        ("not an ini file", None),
    ],
)
def test_gtk_settings(tmp_path, text, expected):
    path = tmp_path / "settings.ini"
    path.write_text(text)
    assert gtk_prefers_dark([tmp_path / "missing.ini", path]) is expected


def test_no_bus_means_no_answer(monkeypatch):
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    assert portal_prefers_dark() is None


def test_system_prefers_dark_never_raises(monkeypatch):
    def broken() -> bool:
        raise RuntimeError("boom")

    monkeypatch.setattr(system_theme, "portal_prefers_dark", broken)
    assert system_theme.system_prefers_dark() is None


@pytest.fixture
def session_bus(monkeypatch):
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon not installed (Debian: apt install dbus-daemon)")
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert bus.stdout is not None
    address = bus.stdout.readline().decode().strip()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    yield address
    bus.terminate()
    bus.wait(5)


def serve_fake_portal(scheme: int, ready: threading.Event, stop: threading.Event) -> None:
    from dbus_fast import Variant
    from dbus_fast.aio import MessageBus
    from dbus_fast.service import ServiceInterface, method

    class Settings(ServiceInterface):
        def __init__(self) -> None:
            super().__init__("org.freedesktop.portal.Settings")

        @method()
        def ReadOne(self, namespace: "s", key: "s") -> "v":  # type: ignore[name-defined]  # noqa: F821, UP037
            if (namespace, key) != ("org.freedesktop.appearance", "color-scheme"):
                raise ValueError("unknown setting")
            return Variant("u", scheme)

    async def main() -> None:
        bus = await MessageBus().connect()
        bus.export("/org/freedesktop/portal/desktop", Settings())
        await bus.request_name("org.freedesktop.portal.Desktop")
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.02)
        bus.disconnect()

    asyncio.run(main())


@pytest.mark.parametrize(("scheme", "expected"), [(1, True), (2, False), (0, None)])
def test_portal_on_a_real_bus(session_bus, scheme, expected):
    ready, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=serve_fake_portal, args=(scheme, ready, stop), daemon=True)
    thread.start()
    try:
        assert ready.wait(10), "the fake portal did not start"
        assert portal_prefers_dark() is expected
    finally:
        stop.set()
        thread.join(5)


def test_bus_without_a_portal_answers_none_quickly(session_bus):
    assert portal_prefers_dark(timeout=5) is None


def test_gtk_settings_files_follow_xdg_config_home(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert system_theme._gtk_settings_files()[1] == tmp_path / "gtk-3.0" / "settings.ini"
