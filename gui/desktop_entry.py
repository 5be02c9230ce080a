"""Linux desktop integration: a menu entry and icon, so SocketChat starts with a click.

``main.py install-desktop-entry`` writes ``socketchat.desktop`` into
``$XDG_DATA_HOME/applications`` (default ``~/.local/share/applications``) and the icon, in each
size, into ``$XDG_DATA_HOME/icons/hicolor/<size>x<size>/apps/socketchat.png``.
``uninstall-desktop-entry`` removes exactly those files. Per user, no root needed.

The entry starts what is running now: the packaged executable (``sys.executable`` when frozen),
or this Python with this checkout's ``main.py``. Move the executable and run the command again.
``StartupWMClass`` is ``Socketchat``, the class Tk gives the window (``tk.Tk(className=
"socketchat")``; Tk title-cases it; ``xprop WM_CLASS`` shows ``"socketchat", "Socketchat"``),
so the dock groups the window under this entry. No tkinter here: it runs headless.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

APP_ID = "socketchat"
WM_CLASS = "Socketchat"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)
EXIT_OK, EXIT_FAILED = 0, 1

_MAIN = Path(__file__).resolve().parent.parent / "main.py"


def data_home(environ: dict[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME`` if set to an absolute path, else ``~/.local/share``."""
    env = os.environ if environ is None else environ
    value = env.get("XDG_DATA_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path(env.get("HOME") or Path.home()) / ".local" / "share"


def assets_dir() -> Path:
    """The assets folder, also inside a PyInstaller bundle."""
    base = getattr(sys, "_MEIPASS", None)
    return Path(base) / "assets" if base else _MAIN.parent / "assets"


def launch_command() -> list[str]:
    """The command line that starts the desktop app as it is running now."""
    if getattr(sys, "frozen", False):
        return [str(Path(sys.executable).resolve())]
    return [str(Path(sys.executable).absolute()), str(_MAIN)]


def quote_exec_arg(arg: str) -> str:
    """Quote one argument of a desktop entry's ``Exec`` key (Desktop Entry spec 1.4+)."""
    reserved = set(" \t\n\"'\\><~|&;$*?#()`=%")
    if arg and not reserved.intersection(arg):
        return arg
    inner = "".join("\\" + ch if ch in '"`$\\' else ch for ch in arg).replace("%", "%%")
    # The whole value is a string too, whose own escaping doubles each backslash.
    return '"' + inner.replace("\\", "\\\\") + '"'


def desktop_entry_text(command: list[str]) -> str:
    """The ``.desktop`` file for ``command``."""
    exec_line = " ".join(quote_exec_arg(arg) for arg in command)
    return "\n".join(
        [
            "[Desktop Entry]",
            "Type=Application",
            "Version=1.4",  # the newest that desktop-file-utils 0.26 (Ubuntu 22.04) knows
            "Name=SocketChat",
            "GenericName=Encrypted group chat",
            "Comment=End-to-end encrypted group chat rooms",
            f"Exec={exec_line}",
            f"Icon={APP_ID}",
            "Terminal=false",
            "Categories=Network;Chat;InstantMessaging;",
            "Keywords=chat;encrypted;room;",
            f"StartupWMClass={WM_CLASS}",
            "StartupNotify=true",
            "",
        ]
    )


@dataclass(frozen=True)
class Paths:
    """Where the entry and its icons go under one data folder."""

    root: Path

    @property
    def entry(self) -> Path:
        return self.root / "applications" / f"{APP_ID}.desktop"

    def icon(self, size: int) -> Path:
        return self.root / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"

    def all_files(self) -> list[Path]:
        return [self.entry, *(self.icon(size) for size in ICON_SIZES)]


def install(
    root: Path | None = None, command: list[str] | None = None, assets: Path | None = None
) -> list[Path]:
    """Write the entry and the icons; return the files written."""
    paths = Paths(root or data_home())
    source = assets or assets_dir()
    written: list[Path] = []
    for size in ICON_SIZES:
        target = paths.icon(size)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / f"icon-{size}.png", target)
        written.append(target)
    paths.entry.parent.mkdir(parents=True, exist_ok=True)
    temporary = paths.entry.with_suffix(".desktop.tmp")
    temporary.write_text(desktop_entry_text(command or launch_command()), encoding="utf-8")
    temporary.chmod(0o755)  # some desktops only trust executable entries
    temporary.replace(paths.entry)
    written.append(paths.entry)
    _refresh_caches(paths.root)
    return written


def uninstall(root: Path | None = None) -> list[Path]:
    """Remove the entry and the icons; return the files removed (none: nothing was there)."""
    paths = Paths(root or data_home())
    removed: list[Path] = []
    for path in paths.all_files():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    if removed:
        _refresh_caches(paths.root)
    return removed


def _refresh_caches(root: Path) -> None:
    # Menus notice new entries by themselves; these only make it immediate. Both are optional.
    tools = (
        ["update-desktop-database", "-q", str(root / "applications")],
        ["gtk-update-icon-cache", "-q", "-t", "-f", str(root / "icons" / "hicolor")],
    )
    for command in tools:
        if shutil.which(command[0]):
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(  # noqa: S603 - fixed argv
                    command,
                    check=False,
                    timeout=30,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )


def run_install(_args: argparse.Namespace) -> int:
    """``main.py install-desktop-entry``."""
    if sys.platform != "linux":
        print(
            "install-desktop-entry is for Linux desktops; on Windows, pin socketchat.exe "
            "to Start or the taskbar.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    try:
        written = install()
    except OSError as error:
        print(f"SocketChat: could not install the desktop entry: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"Installed {written[-1]} (starts: {' '.join(launch_command())})")
    icons = Paths(data_home()).icon(48).parents[2]
    print(f"and the icon in {len(written) - 1} sizes under {icons}")
    return EXIT_OK


def run_uninstall(_args: argparse.Namespace) -> int:
    """``main.py uninstall-desktop-entry``."""
    try:
        removed = uninstall()
    except OSError as error:
        print(f"SocketChat: could not remove the desktop entry: {error}", file=sys.stderr)
        return EXIT_FAILED
    if removed:
        print(f"Removed {len(removed)} files: {Paths(data_home()).entry} and its icons")
    else:
        print("Nothing to remove: no SocketChat desktop entry is installed for this user.")
    return EXIT_OK
