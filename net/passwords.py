"""Where the headless commands (``relay``, ``room create``, ``chat``) get the room password.

In order: ``--password-file FILE``, the environment variable ``SOCKETCHAT_PASSWORD``, or a
prompt when standard input is a terminal. Never the command line: other users can read a
process's arguments.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from crypto.errors import PasswordError
from crypto.password import normalize_password

ENV_VAR = "SOCKETCHAT_PASSWORD"
_MAX_FILE_BYTES = 4096


class PasswordSourceError(Exception):
    """No usable password could be read; the message says what to do."""


def read_password(
    *,
    password_file: str | None,
    environ: Mapping[str, str] = os.environ,
    is_tty: bool | None = None,
    prompt: Callable[[str], str] = getpass.getpass,
    confirm: bool = False,
) -> str:
    """Return the room password from the first source that has one, checked against the rules.

    ``confirm`` asks twice at a prompt (for choosing a new password).
    """
    if password_file is not None:
        password = _read_file(Path(password_file))
    elif environ.get(ENV_VAR):
        password = environ[ENV_VAR]
    else:
        if is_tty is None:
            is_tty = sys.stdin is not None and sys.stdin.isatty()
        if not is_tty:
            raise PasswordSourceError(
                f"No room password: use --password-file FILE or set {ENV_VAR} "
                "(or run on a terminal to be asked)."
            )
        password = prompt("Room password: ")
        if confirm and prompt("Room password again: ") != password:
            raise PasswordSourceError("The two passwords differ.")
    try:
        normalize_password(password)
    except PasswordError as exc:
        raise PasswordSourceError(str(exc)) from None
    return password


def _read_file(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise PasswordSourceError(
            f"Cannot read the password file {path}: {exc.strerror}."
        ) from None
    if len(data) > _MAX_FILE_BYTES:
        raise PasswordSourceError(f"The password file {path} is too large to be a password.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PasswordSourceError(f"The password file {path} is not UTF-8 text.") from None
    # One trailing newline is how editors and `echo` end a file; it is not part of the password.
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    return text
