"""The Linux desktop entry: what it says, where it goes, and that uninstall removes exactly it."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gui import desktop_entry as de

ROOT = Path(__file__).resolve().parents[2]


def _parse(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    # Keys are case-sensitive. Assigning str is configparser's documented way; typeshed
    # declares optionxform a method, which a plain assignment cannot match.
    parser.optionxform = str  # type: ignore[method-assign, assignment]
    parser.read_string(text)
    return dict(parser["Desktop Entry"])


def test_the_entry_starts_the_command_with_the_window_class_tk_reports():
    entry = _parse(de.desktop_entry_text(["/opt/socketchat/socketchat"]))

    assert entry["Type"] == "Application"
    assert entry["Name"] == "SocketChat"
    assert entry["Exec"] == "/opt/socketchat/socketchat"
    assert entry["Icon"] == "socketchat"
    assert entry["Terminal"] == "false"
    # tk.Tk(className="socketchat") → WM_CLASS "socketchat", "Socketchat" (docs/GUI.md).
    assert entry["StartupWMClass"] == "Socketchat"


@pytest.mark.parametrize(
    ("arg", "quoted"),
    [
        ("/usr/bin/python3", "/usr/bin/python3"),
        ("/home/ann/My Apps/socketchat", '"/home/ann/My Apps/socketchat"'),
        ('/tmp/a"b', '"/tmp/a\\\\"b"'),
        ("/tmp/$HOME", '"/tmp/\\\\$HOME"'),
        ("/tmp/100%", '"/tmp/100%%"'),
        ("C:\\x y", '"C:\\\\\\\\x y"'),
    ],
)
def test_exec_arguments_are_quoted_as_the_spec_says(arg, quoted):
    assert de.quote_exec_arg(arg) == quoted


def test_data_home_follows_xdg_data_home():
    assert de.data_home({"XDG_DATA_HOME": "/x/data", "HOME": "/home/a"}) == Path("/x/data")
    assert de.data_home({"XDG_DATA_HOME": "relative", "HOME": "/home/a"}) == Path(
        "/home/a/.local/share"
    )
    assert de.data_home({"HOME": "/home/a"}) == Path("/home/a/.local/share")


def test_from_source_the_entry_runs_this_python_and_main_py():
    command = de.launch_command()

    assert command == [str(Path(sys.executable).absolute()), str(ROOT / "main.py")]


def test_frozen_the_entry_runs_the_executable(monkeypatch, tmp_path):
    binary = tmp_path / "socketchat"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(binary))

    assert de.launch_command() == [str(binary.resolve())]


def test_install_then_uninstall(tmp_path):
    written = de.install(tmp_path, command=["/opt/s c/socketchat"])

    entry = tmp_path / "applications" / "socketchat.desktop"
    assert entry in written
    assert _parse(entry.read_text(encoding="utf-8"))["Exec"] == '"/opt/s c/socketchat"'
    for size in de.ICON_SIZES:
        icon = tmp_path / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "socketchat.png"
        assert icon.read_bytes() == (ROOT / "assets" / f"icon-{size}.png").read_bytes()
    assert not list(entry.parent.glob("*.tmp"))

    other = tmp_path / "applications" / "someone-else.desktop"
    other.write_text("[Desktop Entry]\n")
    removed = de.uninstall(tmp_path)

    assert sorted(removed) == sorted(written)
    assert not entry.exists()
    assert other.exists()  # only our files go
    assert de.uninstall(tmp_path) == []


@pytest.mark.skipif(
    shutil.which("desktop-file-validate") is None,
    reason="desktop-file-validate (desktop-file-utils) is not installed",
)
def test_the_entry_validates(tmp_path):
    de.install(tmp_path, command=["/opt/My Apps/socketchat"])
    result = subprocess.run(
        ["desktop-file-validate", str(tmp_path / "applications" / "socketchat.desktop")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(sys.platform != "linux", reason="desktop entries are a Linux thing")
def test_main_py_installs_and_uninstalls_for_the_user_in_home(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "XDG_DATA_HOME"}
    env["HOME"] = str(tmp_path)

    def run(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(ROOT / "main.py"), command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    installed = run("install-desktop-entry")
    entry = tmp_path / ".local" / "share" / "applications" / "socketchat.desktop"
    assert installed.returncode == 0, installed.stderr
    assert str(entry) in installed.stdout
    assert entry.is_file()
    assert (tmp_path / ".local/share/icons/hicolor/256x256/apps/socketchat.png").is_file()

    removed = run("uninstall-desktop-entry")
    assert removed.returncode == 0, removed.stderr
    assert not entry.exists()
    again = run("uninstall-desktop-entry")
    assert again.returncode == 0
    assert "Nothing to remove" in again.stdout
