"""A Python without Tk: ``python main.py`` says how to install it, in one sentence, and exits 2
instead of crashing (main.py's desktop path)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_tk_path(tmp_path: Path) -> Path:
    # A tkinter package that fails to import as a Python built without Tk does: it shadows the
    # standard library's (PYTHONPATH comes before it on sys.path).
    package = tmp_path / "tkinter"
    package.mkdir()
    (package / "__init__.py").write_text(
        "raise ImportError(\"No module named '_tkinter'\", name='_tkinter')\n"
    )
    return tmp_path


def run_main(no_tk_path: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(no_tk_path),
        "HOME": str(home),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CONFIG_HOME": str(home / "config"),
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_main_without_tk_says_how_to_install_it(no_tk_path, tmp_path):
    result = run_main(no_tk_path, tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    message = result.stderr.strip()
    assert "\n" not in message  # one line, one sentence
    assert message.startswith("SocketChat: this Python has no Tk (tkinter)")
    assert "Traceback" not in message and "internal error" not in message.lower()
    if sys.platform.startswith("linux"):
        assert "apt install python3-tk" in message or "dnf install python3-tkinter" in message
    # No crash report was written either.
    assert not any((tmp_path / "state").rglob("*.log"))


def test_headless_commands_still_work_without_tk(no_tk_path, tmp_path):
    result = run_main(no_tk_path, tmp_path, "--version")
    assert result.returncode == 0
    assert result.stdout.startswith("SocketChat ")


def test_in_process_with_tkinter_blocked(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tkinter", None)  # import tkinter raises ImportError
    assert main.main([]) == main.EXIT_UNAVAILABLE
    assert "python3-tk" in capsys.readouterr().err or sys.platform != "linux"


@pytest.mark.parametrize(
    ("platform", "os_release", "command"),
    [
        ("linux", "ID=ubuntu\nID_LIKE=debian\n", "sudo apt install python3-tk"),
        ("linux", "ID=debian\n", "sudo apt install python3-tk"),
        ("linux", "ID=fedora\n", "sudo dnf install python3-tkinter"),
        ("linux", 'ID="rocky"\nID_LIKE="rhel centos fedora"\n', "sudo dnf install python3-tkinter"),
        ("linux", "", "sudo apt install python3-tk"),
        ("win32", None, '"tcl/tk and IDLE" ticked'),
        ("darwin", None, "brew install python-tk"),
    ],
)
def test_install_hint_per_system(platform, os_release, command):
    assert command in main._tk_install_hint(platform, os_release)
