"""What the app remembers between runs: host, port, username, the sound switch, the theme
(system, light or dark), the zoom of the conversation, which rooms are muted, whether this
device keeps a local history of its rooms, and whether closing the window leaves the app
running in the system tray.

Never the room password. Stored as JSON in the per-user config directory of each OS
(``platformdirs.user_config_dir("SocketChat")``: ``~/.config/SocketChat`` on Linux,
``%LOCALAPPDATA%\\SocketChat`` on Windows). Call :func:`load_settings` once at start-up, and
:func:`save_settings` after a successful join.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

DEFAULT_PORT = 7777
_FILE_NAME = "settings.json"
THEMES = ("system", "light", "dark")
MAX_MUTED_ROOMS = 200


@dataclass(frozen=True)
class Settings:
    """The remembered values. There is deliberately no password field."""

    host: str = ""
    port: int = DEFAULT_PORT
    username: str = ""
    sound: bool = False
    theme: str = "system"  # one of THEMES: follow the system, or force light or dark
    zoom: int = 0  # points added to the conversation's font size (gui.theme.clamp_zoom)
    muted_rooms: tuple[str, ...] = ()  # room keys ("host:port"), see room_key()
    keep_history: bool = True  # rooms' messages kept on this device (gui/history.py)
    keep_in_tray: bool = False  # the close box hides the window to the tray (gui/app_tray.py)


def room_key(host: str, port: int) -> str:
    """How a room is named in ``muted_rooms``: its host (lower case) and port."""
    return f"{host.strip().lower()}:{port}"


def config_dir() -> Path:
    """The folder where :func:`save_settings` writes by default (created on save, not here)."""
    import platformdirs  # imported here: only the desktop app needs it

    return Path(platformdirs.user_config_dir("SocketChat", appauthor=False))


def load_settings(directory: Path | None = None) -> Settings:
    """Return the remembered settings, or the defaults if there are none or they are unreadable.

    A damaged or hand-edited file must never stop the app from starting, so every field is
    checked and a wrong one falls back to its default.
    """
    path = (directory or config_dir()) / _FILE_NAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Settings()
    if not isinstance(raw, dict):
        return Settings()
    defaults = Settings()
    # Decoded JSON, so Any: the loop keeps a value only if its type is exactly its field's.
    values: dict[str, Any] = {}
    muted = raw.get("muted_rooms")
    if isinstance(muted, list):
        raw["muted_rooms"] = tuple(
            room for room in muted[:MAX_MUTED_ROOMS] if isinstance(room, str) and len(room) < 300
        )
    for field in fields(Settings):
        value = raw.get(field.name)
        default = getattr(defaults, field.name)
        # bool is an int subclass: compare exact types so "port": true is rejected.
        if type(value) is type(default):
            values[field.name] = value
    port = values.get("port", DEFAULT_PORT)
    if not 1 <= port <= 65535:
        values["port"] = DEFAULT_PORT
    if values.get("theme") not in THEMES:
        values.pop("theme", None)
    if "zoom" in values:
        values["zoom"] = max(-3, min(12, values["zoom"]))
    return Settings(**values)


def save_settings(settings: Settings, directory: Path | None = None) -> None:
    """Write ``settings`` atomically (a crash mid-write leaves the old file intact).

    Errors are swallowed: not being able to remember a host name is not worth an error dialog.
    """
    directory = directory or config_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".json", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(settings), handle, ensure_ascii=False, indent=2)
        os.replace(tmp, directory / _FILE_NAME)
    except OSError:
        return
