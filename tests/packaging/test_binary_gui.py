"""The built desktop app: its data files load in the frozen app, and its login window shows."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

TIMEOUT = 60.0
WINDOW_TITLE = "SocketChat"  # the login window's title (gui/app.py)


@pytest.fixture
def display_env(clean_env: dict[str, str]) -> dict[str, str]:
    if sys.platform != "win32" and not clean_env.get("DISPLAY"):
        pytest.skip("no X display: install Xvfb (pytest-xvfb starts it)")
    return clean_env


def test_selftest_loads_theme_icon_and_word_list_in_the_frozen_app(
    gui_binary, display_env, tmp_path
):
    # gui/selftest.py: the theme (sv-ttk's Tcl files), the icon sizes, icon.ico, the word list
    # and the look-alike names data must really load from the bundle, and every module of the
    # app must import.
    env = dict(display_env, SOCKETCHAT_SELFTEST="1")
    result = subprocess.run(
        [str(gui_binary)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    if result.stdout or sys.platform != "win32":  # the windowed Windows build cannot print
        assert result.stdout.startswith("selftest ok: theme=sun-valley-light icons=6 "), (
            result.stdout + result.stderr
        )
        assert "frozen=True" in result.stdout
        assert "skeleton=ok" in result.stdout  # confusables.json is in the bundle
        assert "pictures=ok" in result.stdout  # Pillow's PNG, JPEG, GIF and WebP decoders
        assert "drop=ok (tkdnd " in result.stdout  # drag and drop: tkinterdnd2's tkdnd


def _x_windows(title: str) -> list[str]:
    found = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", f"^{title}$"],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.split()


def _windows_window(title: str) -> str | None:
    if sys.platform != "win32":  # ctypes.windll exists on Windows only
        return None
    import ctypes

    user32 = ctypes.windll.user32
    handle = user32.FindWindowW(None, title)
    return str(handle) if handle and user32.IsWindowVisible(handle) else None


def _wait_for_window(process: subprocess.Popen[bytes], title: str) -> str:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the app exited with {process.returncode} before its window")
        if sys.platform == "win32":
            window = _windows_window(title)
        else:
            window = next(iter(_x_windows(title)), None)
        if window:
            return window
        time.sleep(0.05)
    raise AssertionError(f"no visible window named {title!r} after {TIMEOUT} s")


def _stop(process: subprocess.Popen[bytes]) -> int:
    if sys.platform == "win32":
        # The one-file build runs the app in a child process: end the whole tree.
        subprocess.run(
            ["taskkill", "/T", "/F", "/PID", str(process.pid)], capture_output=True, check=False
        )
    else:
        process.terminate()  # SIGTERM: the bootloader passes it on; the app closes cleanly
    return process.wait(timeout=30)


@pytest.mark.skipif(
    sys.platform != "win32" and shutil.which("xdotool") is None,
    reason="xdotool finds the window (apt-get install xdotool)",
)
def test_the_desktop_app_shows_its_login_window(gui_binary, display_env, tmp_path, smoke_out):
    process = subprocess.Popen(
        [str(gui_binary)],
        env=display_env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        window = _wait_for_window(process, WINDOW_TITLE)
        if sys.platform != "win32":
            wm_class = subprocess.run(
                ["xprop", "-id", window, "WM_CLASS"], capture_output=True, text=True, check=False
            ).stdout
            # The desktop entry's StartupWMClass must match (gui/desktop_entry.py).
            assert wm_class.strip() == 'WM_CLASS(STRING) = "socketchat", "Socketchat"'
            if shutil.which("import"):
                time.sleep(0.5)  # let the first frame finish drawing
                shot = smoke_out / "packaged-login.png"
                subprocess.run(
                    ["import", "-window", window, str(shot)],
                    check=True,
                    env=display_env,
                    timeout=30,
                )
                assert shot.stat().st_size > 1000
    finally:
        status = _stop(process)
        _out, err = process.communicate(timeout=30)
    if sys.platform != "win32":
        assert status == 0, err.decode(errors="replace")
    assert b"Traceback" not in err
    assert not list((Path(display_env["HOME"])).rglob("crash-*.log")), "the app logged a crash"
    assert os.environ.get("SOCKETCHAT_BINARY")  # ran against a built file, not the sources


@pytest.mark.skipif(
    sys.platform != "linux" or shutil.which("xdotool") is None,
    reason="drives the dialog with xdotool on X11",
)
def test_a_crash_shows_a_dialog_with_the_log_location(gui_binary, display_env, tmp_path, smoke_out):
    env = dict(display_env, SOCKETCHAT_SELFTEST="crash")
    process = subprocess.Popen(
        [str(gui_binary)], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        dialog = _wait_for_window(process, "SocketChat stopped")
        if shutil.which("import"):
            time.sleep(0.5)
            subprocess.run(
                ["import", "-window", dialog, str(smoke_out / "packaged-crash.png")],
                check=True,
                env=display_env,
                timeout=30,
            )
        subprocess.run(
            ["xdotool", "windowfocus", "--sync", dialog, "key", "Return"],
            env=display_env,
            check=False,
            timeout=30,
        )
        status = process.wait(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
        _out, err = process.communicate(timeout=30)

    assert status == 70  # gui/crash.py EXIT_CRASH
    (log,) = Path(display_env["HOME"]).rglob("crash-*.log")
    assert "DeliberateCrash" in log.read_text(encoding="utf-8")
    message = err.decode(errors="replace")
    assert str(log) in message
    assert "Traceback" not in message
