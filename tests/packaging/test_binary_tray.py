"""The built desktop app's tray icon: pystray picks its backend by name when imported and
python-xlib loads its extensions by name, which PyInstaller cannot see (build.spec lists them);
here the frozen app puts its icon in a real XEmbed tray (trayer) and ends on SIGTERM."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.gui.apptest import wait_for
from tests.gui.test_tray import TrayHost, embedded, icon_windows

TIMEOUT = 60.0

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 tray")


@pytest.fixture
def tray(clean_env: dict[str, str]) -> Iterator[TrayHost]:
    if not clean_env.get("DISPLAY"):
        pytest.skip("no X display: install Xvfb (pytest-xvfb starts it)")
    for tool in ("trayer", "xdotool", "xwininfo"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (CI installs it in .ci/run)")
    host = TrayHost()
    host.start()
    yield host
    host.stop()


def test_the_frozen_app_puts_its_icon_in_a_real_tray(gui_binary, clean_env, tray, tmp_path):
    settings = tmp_path / "home" / ".config" / "SocketChat" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"keep_in_tray": True}), encoding="utf-8")
    env = dict(clean_env, DBUS_SESSION_BUS_ADDRESS="disabled:")  # no keyring of this machine
    process = subprocess.Popen(
        [str(gui_binary)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: any(embedded(window) for window in icon_windows()),
            "the frozen app's icon in the tray",
            timeout=TIMEOUT,
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(TIMEOUT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(TIMEOUT)
    assert icon_windows() == []
    assert process.stderr is not None and "Traceback" not in process.stderr.read()
