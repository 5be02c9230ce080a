"""SocketChat's entry point: ``python main.py`` (the desktop app) or ``python main.py COMMAND``.

Only the standard library is imported at the top of this file, so ``--version`` and the headless
commands never load Tk, pycryptodome or the network code. Each sub-command imports what it needs
inside its ``run`` function.

To add a sub-command (``relay``, ``chat``, ``room``…), write a :class:`Command` whose
``configure`` adds its arguments to an argparse sub-parser and whose ``run`` lazily imports its
package and returns an exit status, then list it in :data:`COMMANDS`. Only commands that work
belong there: the CLI never offers a feature that is not built.

Nothing here looks at ``__file__`` when the module is imported, so it behaves the same when
frozen by PyInstaller.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from version import __version__

EXIT_OK = 0
EXIT_UNAVAILABLE = 2  # the same status argparse uses for a usage error


@dataclass(frozen=True)
class Command:
    """One sub-command of ``main.py``."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError("the port must be between 1 and 65535")
    return port


class _ChatPlace(argparse.Action):
    """HOST PORT USERNAME, or USERNAME alone (with an invite): checked as argparse checks
    types, so that a bad port is a usage error before any password is asked for."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if len(values) not in (1, 3):
            raise argparse.ArgumentError(
                self, "give HOST PORT USERNAME, or --invite-file FILE and USERNAME"
            )
        if len(values) == 3:
            try:
                values[1] = str(_port(values[1]))
            except argparse.ArgumentTypeError as exc:
                raise argparse.ArgumentError(self, str(exc)) from None
        setattr(namespace, self.dest, list(values))


def _configure_chat(parser: argparse.ArgumentParser) -> None:
    # Arguments are declared here, not in net/, so that building the parser stays stdlib-only.
    parser.usage = (
        "%(prog)s HOST PORT USERNAME [options]\n"
        "       %(prog)s --invite-file FILE USERNAME [options]"
    )
    parser.add_argument(
        "where",
        nargs="+",
        action=_ChatPlace,
        metavar="HOST PORT USERNAME",
        help="the room's host and port (usually 7777), and your name in the room (1-32 "
        "characters); with an invite, only your name",
    )
    source = parser.add_mutually_exclusive_group()
    _add_password_file(source)
    source.add_argument(
        "--invite-file",
        metavar="FILE",
        help="join with the invite in FILE (host, port, room, relay key and passphrase in "
        "one); an invite also works wherever the password is asked for",
    )
    parser.add_argument(
        "--forget-relay-key",
        action="store_true",
        help="forget the relay key remembered for HOST PORT before connecting, and trust the "
        "relay that answers now. Only if you know the room there was recreated: otherwise a "
        "relay with another key is refused, since it may be an impostor",
    )


def _run_chat(args: argparse.Namespace) -> int:
    from net.client import cli

    return cli.run(args)


def _add_password_file(parser: Any) -> None:  # a parser or an argument group
    # The password itself never goes on the command line, where other users can read it.
    parser.add_argument(
        "--password-file",
        metavar="FILE",
        help="read the room password from FILE (else $SOCKETCHAT_PASSWORD, else a prompt)",
    )


CHAT = Command(
    name="chat",
    help="join a room from the terminal: each input line is sent, each event printed",
    configure=_configure_chat,
    run=_run_chat,
)


def _member_cap(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 1 <= value <= 65535:  # a WELCOME lists at most 65535 members (u16 count)
        raise argparse.ArgumentTypeError("must be between 1 and 65535")
    return value


def _bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low:,} and {high:,}")
        return value

    return parse


def _invite_place(text: str) -> tuple[str, int]:
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or "7777"
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, "7777"  # a name, IPv4, or a bare IPv6 address
    if not host:
        raise argparse.ArgumentTypeError("give the relay's host name or address")
    return host, _port(port)


def _listen_port(text: str) -> int:
    return 0 if text.strip() == "0" else _port(text)  # 0: let the system pick a free port


def _configure_relay(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bind",
        metavar="ADDR",
        action="append",
        help="address to listen on; repeat it for several (127.0.0.1 and ::1: this machine "
        "only). Default: every address, IPv4 and IPv6",
    )
    parser.add_argument(
        "--port",
        type=_listen_port,
        default=7777,
        help="port to listen on (default 7777; 0 picks a free one)",
    )
    parser.add_argument(
        "--trust-proxy",
        metavar="ADDR[,ADDR...]",
        action="append",
        help="addresses or networks (127.0.0.1, 10.0.0.0/8) of proxies such as HAProxy that "
        "start each connection with a PROXY protocol v2 header (send-proxy-v2) naming the "
        "client: the client's address then counts for the per-address limits and the log. A "
        "connection from them without one is closed; nobody else's header is read",
    )
    parser.add_argument(
        "--announce",
        metavar="LABEL",
        nargs="?",
        const="",
        help="announce the room on the local network (mDNS/DNS-SD) so the app lists it, as "
        "LABEL (default: 'SocketChat relay on HOSTNAME'); off unless given",
    )
    parser.add_argument(
        "--max-members",
        type=_member_cap,
        default=200,
        metavar="N",
        help="most members at once (default 200, at most 65535)",
    )
    source = parser.add_mutually_exclusive_group()
    _add_password_file(source)
    source.add_argument(
        "--room-file",
        metavar="FILE",
        help="serve the room in FILE (from `room create`): the relay never sees the password",
    )
    source.add_argument(
        "--rooms",
        metavar="DIR",
        help="serve every room file (NAME.room) in DIR on one port; files added to or removed "
        "from DIR are picked up within seconds, without a restart",
    )
    parser.add_argument(
        "--data",
        metavar="DIR",
        help="keep the rooms' message histories in DIR (default: next to each room file), and "
        "the room of --password-file (default: the per-user data folder)",
    )
    parser.add_argument(
        "--keep-messages",
        type=_bounded(1, 1_000_000),
        default=10_000,
        metavar="N",
        help="keep each room's newest N messages (default 10000)",
    )
    parser.add_argument(
        "--keep-days",
        type=_bounded(0, 36_500),
        default=30,
        metavar="D",
        help="keep messages at most D days (default 30; 0: no age limit)",
    )
    parser.add_argument(
        "--max-file-mb",
        type=_bounded(0, 1_000_000),
        default=100,
        metavar="N",
        help="the largest file members may send, in MiB, and what each room's files may take "
        "together on disk (default 100; 0: no files)",
    )
    parser.add_argument(
        "--sync",
        choices=("normal", "full"),
        default="normal",
        help="how each stored batch reaches the disk: normal (default; a power cut may lose "
        "the last seconds acknowledged) or full (flushed before it is acknowledged: slower)",
    )


def _run_relay(args: argparse.Namespace) -> int:
    from net.relay import cli

    return cli.run_relay(args)


def _configure_room(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(title="actions", dest="room_action", metavar="ACTION")
    actions.required = True
    create = actions.add_parser(
        "create",
        allow_abbrev=False,
        help="derive a room from a password on this machine and write a room file for a relay",
        description="Derive a room from a password on this machine and write a room file "
        "(room id and access key, never the password) for `relay --room-file`. The room is "
        "owned by this device's identity (the one the app and `chat` use): you can appoint "
        "admins and remove members.",
    )
    create.add_argument("--out", metavar="FILE", required=True, help="the room file to write")
    create.add_argument("--force", action="store_true", help="replace FILE if it exists")
    create.add_argument(
        "--invite-for",
        metavar="HOST[:PORT]",
        type=_invite_place,
        help="also write FILE.invite: the invite friends join with, for the relay at HOST "
        "(port 7777 unless given; [IPv6]:PORT for IPv6). It holds the password",
    )
    create.add_argument(
        "--no-history-for-newcomers",
        dest="history_for_newcomers",
        action="store_false",
        help="new members see only what is sent after they join; without this they can read "
        "the room's recent history. Chosen once: it cannot be changed later",
    )
    _add_password_file(create)


def _run_room(args: argparse.Namespace) -> int:
    from net.relay import cli

    return cli.run_room_create(args)


RELAY = Command(
    name="relay",
    help="host a room headless (a server running 24x7); it never sees messages in plain text",
    configure=_configure_relay,
    run=_run_relay,
)

ROOM = Command(
    name="room",
    help="room files for headless relays (`room create --out FILE`)",
    configure=_configure_room,
    run=_run_room,
)


def _configure_nothing(parser: argparse.ArgumentParser) -> None:
    del parser  # these commands take no arguments


def _run_install_desktop_entry(args: argparse.Namespace) -> int:
    from gui import desktop_entry  # writes files only: no Tk

    return desktop_entry.run_install(args)


def _run_uninstall_desktop_entry(args: argparse.Namespace) -> int:
    from gui import desktop_entry

    return desktop_entry.run_uninstall(args)


INSTALL_DESKTOP_ENTRY = Command(
    name="install-desktop-entry",
    help="Linux: add SocketChat to your applications menu (for this user), starting this copy",
    configure=_configure_nothing,
    run=_run_install_desktop_entry,
)

UNINSTALL_DESKTOP_ENTRY = Command(
    name="uninstall-desktop-entry",
    help="Linux: remove the applications-menu entry and icon that install-desktop-entry added",
    configure=_configure_nothing,
    run=_run_uninstall_desktop_entry,
)

COMMANDS: tuple[Command, ...] = (CHAT, RELAY, ROOM, INSTALL_DESKTOP_ENTRY, UNINSTALL_DESKTOP_ENTRY)


def build_parser(commands: Sequence[Command] = COMMANDS) -> argparse.ArgumentParser:
    """Return the argument parser for ``main.py`` with ``commands`` as its sub-commands."""
    # prog defaults to the name SocketChat was started as: main.py, or the packaged executable.
    parser = argparse.ArgumentParser(
        description=(
            "SocketChat: end-to-end encrypted group chat rooms. Run without arguments for the "
            "desktop app."
        ),
    )
    parser.add_argument("--version", action="version", version=f"SocketChat {__version__}")
    if commands:
        subparsers = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
        for command in commands:
            # No prefix matching anywhere: "--password SECRET" must be a usage error, not a
            # file named SECRET read through "--password-file".
            sub = subparsers.add_parser(
                command.name, help=command.help, description=command.help, allow_abbrev=False
            )
            command.configure(sub)
            sub.set_defaults(run=command.run)
    return parser


def run_desktop_app() -> int:
    """Start the desktop app and return its exit status when its window closes.

    ``gui`` (and with it Tk) is imported only here, so ``--version`` and the headless commands
    never load it. Without a display, ``gui.app.start`` says so and returns 2. A crash is
    written to a log file and shown in a dialog (``gui/crash.py``), never as a bare traceback.
    ``SOCKETCHAT_SELFTEST=1`` runs the packaging self-test instead, and ``=crash`` a deliberate
    crash that shows the crash report (``gui/selftest.py``).
    """
    problem = tk_missing()
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_UNAVAILABLE
    from gui.crash import run_guarded

    return run_guarded(_start_gui)


def tk_missing() -> str | None:
    """None if tkinter imports; else one sentence saying how to install Tk on this system.

    A Python built without Tk (Debian and Ubuntu ship it separately; pyenv and some Windows
    installers can leave it out) would otherwise fail inside the app with a crash report.
    """
    try:
        import tkinter  # noqa: F401 - only whether it imports
    except ImportError:
        return (
            "SocketChat: this Python has no Tk (tkinter), which the desktop app needs; "
            f"{_tk_install_hint()} (the headless commands work without it: see --help)."
        )
    return None


def _tk_install_hint(platform: str | None = None, os_release: str | None = None) -> str:
    """How to install Tk here, as the end of a sentence."""
    platform = platform or sys.platform
    if platform == "win32":
        return (
            'reinstall Python from python.org with "tcl/tk and IDLE" ticked '
            "(Modify in the installer keeps everything else)"
        )
    if platform == "darwin":
        return "install it with `brew install python-tk` (Homebrew)"
    if os_release is None:
        try:
            with open("/etc/os-release", encoding="utf-8") as handle:
                os_release = handle.read()
        except OSError:
            os_release = ""
    ids = " ".join(
        line.split("=", 1)[1].strip().strip('"').lower()
        for line in os_release.splitlines()
        if line.startswith(("ID=", "ID_LIKE="))
    ).split()
    if any(name in ids for name in ("fedora", "rhel", "centos")):
        return "install it with `sudo dnf install python3-tkinter`"
    if any(name in ids for name in ("debian", "ubuntu")):
        return "install it with `sudo apt install python3-tk`"
    return (
        "install it with `sudo apt install python3-tk` (Debian, Ubuntu) or "
        "`sudo dnf install python3-tkinter` (Fedora)"
    )


def _start_gui() -> int:
    selftest = os.environ.get("SOCKETCHAT_SELFTEST")
    if selftest in ("1", "crash"):
        import gui.selftest

        return gui.selftest.run() if selftest == "1" else gui.selftest.crash()
    import gui.app

    return gui.app.start()


def _explain_console_twin() -> int:
    """Windowed Windows build started with arguments: it has no console to print to."""
    import tkinter as tk
    from tkinter import messagebox

    root = tk.Tk(className="socketchat")
    root.withdraw()
    messagebox.showinfo(
        "SocketChat",
        "socketchat.exe is the desktop app; it takes no arguments. For the commands "
        "(--version, relay, chat, room) run socketchat-cli.exe from a terminal instead.",
        parent=root,
    )
    root.destroy()
    return EXIT_UNAVAILABLE


def main(argv: Sequence[str] | None = None, *, commands: Sequence[Command] = COMMANDS) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run what it asks for, return the exit status."""
    if sys.stdout is None and (sys.argv[1:] if argv is None else argv):
        return _explain_console_twin()
    args = build_parser(commands).parse_args(argv)
    run = getattr(args, "run", None)
    if run is None:
        return run_desktop_app()
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
