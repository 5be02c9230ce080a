"""Smoke tests of a built executable (not the source tree): skipped unless one is given.

    SOCKETCHAT_BINARY=dist/socketchat python -m pytest tests/packaging        # Linux
    # Windows (PowerShell):
    $env:SOCKETCHAT_BINARY="dist\\socketchat-cli.exe"
    $env:SOCKETCHAT_GUI_BINARY="dist\\socketchat.exe"
    python -m pytest tests/packaging

``SOCKETCHAT_BINARY`` is the executable whose commands print to a console (on Linux the one
file; on Windows the console twin). ``SOCKETCHAT_GUI_BINARY`` is the desktop app (default: the
same file). ``SOCKETCHAT_SMOKE_OUT``, if set, is where screenshots are kept. Each test runs the
binary from a temporary folder with HOME and the config folders pointed there, so nothing from
this checkout or the user's files helps it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest


def _given(name: str, default: str = "") -> Path:
    value = os.environ.get(name, default)
    if not value:
        pytest.skip(f"no built executable given: set {name} (see tests/packaging/conftest.py)")
    path = Path(value).resolve()
    if not path.is_file():
        pytest.fail(f"{name}={value}: no such file")
    return path


@pytest.fixture(scope="session")
def binary() -> Path:
    """The executable for the headless commands."""
    return _given("SOCKETCHAT_BINARY")


@pytest.fixture(scope="session")
def gui_binary() -> Path:
    """The desktop app's executable."""
    return _given("SOCKETCHAT_GUI_BINARY", os.environ.get("SOCKETCHAT_BINARY", ""))


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a user who has nothing of SocketChat's yet, and no Python setup."""
    home = tmp_path / "home"
    home.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "VIRTUAL_ENV", "SOCKETCHAT_", "XDG_"))
    }
    env.update(
        HOME=str(home),
        USERPROFILE=str(home),
        APPDATA=str(home / "AppData" / "Roaming"),
        LOCALAPPDATA=str(home / "AppData" / "Local"),
    )
    if sys.platform != "win32":
        env["PATH"] = "/usr/bin:/bin"  # no virtual environment, no pyenv shims
    return env


@pytest.fixture
def smoke_out(tmp_path: Path) -> Path:
    """Where screenshots go: $SOCKETCHAT_SMOKE_OUT (kept by CI) or a temporary folder."""
    folder = Path(os.environ.get("SOCKETCHAT_SMOKE_OUT") or tmp_path / "out")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
