"""The entry point: ``--version``, usage errors, the desktop app without a display, sub-commands.

Most checks run ``main.py`` in a fresh interpreter, from an unrelated working directory, exactly
as a user would start it; only the sub-command wiring is tested in-process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import main
from version import __version__

ROOT = Path(__file__).resolve().parent.parent
MAIN = ROOT / "main.py"

# Packages that must stay unloaded until a command that needs them runs.
HEAVY_MODULES = ("tkinter", "_tkinter", "gui", "net", "crypto", "Crypto", "zxcvbn")


def run_main(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(MAIN), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_version_prints_name_and_version(tmp_path):
    result = run_main("--version", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "SocketChat 0.1.0\n"
    assert result.stderr == ""


def test_version_module_is_the_single_source():
    assert __version__ == "0.1.0"
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["version"] == __version__


def test_version_loads_no_gui_network_or_crypto_code(tmp_path):
    # Start main.py the way `python main.py --version` does (its folder first on sys.path),
    # then list what ended up in sys.modules.
    probe = f"""
import json, runpy, sys
sys.path.insert(0, {str(ROOT)!r})
sys.argv = [{str(MAIN)!r}, "--version"]
try:
    runpy.run_path({str(MAIN)!r}, run_name="__main__")
except SystemExit as exc:
    code = exc.code
else:
    code = None
heavy = {HEAVY_MODULES!r}
loaded = sorted(name for name in sys.modules if name.partition(".")[0] in heavy)
print(json.dumps({{"code": code, "loaded": loaded}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    version_line, report_line = result.stdout.splitlines()
    assert version_line == f"SocketChat {__version__}"
    report = json.loads(report_line)
    assert report["code"] == 0
    assert report["loaded"] == []


@pytest.mark.parametrize(
    "args",
    [
        ("--no-such-option",),
        ("no-such-command",),
        ("room",),
        ("room", "create"),
        ("relay", "--password", "hunter2 hunter2"),  # never on the command line
        ("chat", "--password", "hunter2", "127.0.0.1", "7777", "alice"),
        ("room", "create", "--out", "room.json", "--password", "hunter2"),
        ("chat", "127.0.0.1", "seventy", "alice"),
        ("chat", "127.0.0.1", "70000", "alice"),
    ],
)
def test_unknown_arguments_are_a_usage_error(tmp_path, args):
    result = run_main(*args, cwd=tmp_path)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("usage: ")
    assert "error:" in result.stderr


def test_chat_help_documents_forget_relay_key_and_loads_nothing_heavy(tmp_path):
    probe = f"""
import json, runpy, sys
sys.path.insert(0, {str(ROOT)!r})
sys.argv = [{str(MAIN)!r}, "chat", "--help"]
try:
    runpy.run_path({str(MAIN)!r}, run_name="__main__")
except SystemExit as exc:
    code = exc.code
heavy = {HEAVY_MODULES!r}
loaded = sorted(name for name in sys.modules if name.partition(".")[0] in heavy)
print(json.dumps({{"code": code, "loaded": loaded}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "100"},
    )

    assert result.returncode == 0, result.stderr
    *help_lines, report_line = result.stdout.splitlines()
    assert json.loads(report_line) == {"code": 0, "loaded": []}
    help_text = " ".join(" ".join(help_lines).split())
    assert "--forget-relay-key forget the relay key remembered for HOST PORT" in help_text
    assert "Only if you know the room there was recreated" in help_text


def test_forget_relay_key_is_a_flag_and_off_by_default():
    parser = main.build_parser()
    assert parser.parse_args(["chat", "h", "7777", "alice"]).forget_relay_key is False
    args = parser.parse_args(["chat", "h", "7777", "alice", "--forget-relay-key"])
    assert args.forget_relay_key is True
    with pytest.raises(SystemExit):  # no prefixes: the whole flag or nothing
        parser.parse_args(["chat", "h", "7777", "alice", "--forget"])


def test_without_arguments_and_without_a_display_says_so_without_a_traceback(tmp_path):
    # The desktop app needs a display; with none it must explain, not crash.
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run(
        [sys.executable, str(MAIN)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "needs a graphical display" in lines[0]
    assert "Traceback" not in result.stderr


def test_only_working_commands_are_offered():
    # Each issue that builds a sub-command registers it; nothing else is offered.
    assert {command.name for command in main.COMMANDS} == {
        "chat",
        "relay",
        "room",
        "install-desktop-entry",
        "uninstall-desktop-entry",
    }


def test_a_registered_command_receives_its_arguments():
    calls: list[argparse.Namespace] = []

    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--port", type=int, default=7777)

    def run(args: argparse.Namespace) -> int:
        calls.append(args)
        return 7

    echo = main.Command(name="echo", help="test command", configure=configure, run=run)

    assert main.main(["echo", "--port", "9000"], commands=[echo]) == 7
    assert [args.port for args in calls] == [9000]
    assert calls[0].command == "echo"


def test_no_command_runs_the_desktop_app_even_when_commands_exist(monkeypatch):
    echo = main.Command(name="echo", help="test command", configure=lambda p: None, run=lambda a: 0)
    monkeypatch.setattr(main, "run_desktop_app", lambda: 42)

    assert main.main([], commands=[echo]) == 42


def test_the_windowed_build_with_arguments_points_to_the_console_twin(monkeypatch):
    # PyInstaller's windowed Windows build has no console: sys.stdout is None there.
    monkeypatch.setattr(main, "_explain_console_twin", lambda: 99)
    monkeypatch.setattr(main, "run_desktop_app", lambda: 42)
    monkeypatch.setattr(sys, "stdout", None)

    assert main.main(["--version"]) == 99
    assert main.main([]) == 42  # no arguments: the desktop app, as a double-click starts it


def test_selftest_environment_variable_runs_the_selftest(monkeypatch):
    import gui.selftest

    monkeypatch.setenv("SOCKETCHAT_SELFTEST", "1")
    monkeypatch.setattr(gui.selftest, "run", lambda: 17)

    assert main._start_gui() == 17
