"""Small files that hold a secret: created private and whole, re-checked on every read.

Creation (:func:`create_private_file`) writes a temporary file in the same folder, opened with
``O_CREAT | O_EXCL`` and mode 0600 from the start (on Windows, restricted by an ACL before any
secret byte goes in), flushes it to disk, then publishes it under its final name with a hard
link. A link is atomic and, unlike ``os.replace``, never replaces a file that appeared in the
meantime: two app instances starting at once cannot both believe their own new identity was
kept. Readers therefore see either no file or the whole file.

Reading (:func:`read_private_file`) refuses, on POSIX, a file that group or others may read or
write, or that another user owns, as OpenSSH refuses such a private key: the key may already
have been copied, and quietly tightening the mode would hide that. The user gets the command
that fixes it. On Windows the mode bits mean nothing; we rely on the ACL set at creation.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import subprocess

from crypto.errors import KeyFileError

#: Secret files are a few hundred bytes; anything larger is refused before it is parsed.
MAX_FILE_BYTES = 4096

# Module constants (not os.name at each call) so tests can take the Windows branch on Linux.
_WINDOWS = os.name == "nt"
_POSIX = os.name == "posix"
_BINARY = getattr(os, "O_BINARY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # so that opening a FIFO by mistake cannot hang us


def read_private_file(path: str | os.PathLike[str]) -> bytes:
    """Return the contents of a private file after checking it is one.

    Raises :class:`KeyFileError` (a ``ValueError``) if it is not a regular file, is larger
    than :data:`MAX_FILE_BYTES`, or (POSIX) is open to other users; ``OSError`` such as
    ``FileNotFoundError`` passes through unchanged.
    """
    name = os.fspath(path)
    fd = os.open(name, os.O_RDONLY | _BINARY | _NONBLOCK)
    try:
        # fstat the descriptor we read from, not the name: no window to swap the file.
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(f"{name} is not a regular file.")
        if _POSIX:
            _check_private(name, info)
        if info.st_size > MAX_FILE_BYTES:
            raise KeyFileError(f"{name} is too large ({info.st_size} bytes) to be a key file.")
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > MAX_FILE_BYTES:
        raise KeyFileError(f"{name} is too large to be a key file.")
    return b"".join(chunks)


def _check_private(name: str, info: os.stat_result) -> None:
    if info.st_uid != os.geteuid():
        raise KeyFileError(
            f"{name} belongs to another user, so it cannot be trusted to hold your key. "
            "Move it away, or give it to your user account."
        )
    if info.st_mode & 0o077:
        raise KeyFileError(
            f"{name} can be read or changed by other users (mode "
            f"{stat.S_IMODE(info.st_mode):04o}); your key may have been copied. "
            f"If you are sure it was not, make it private with: chmod 600 '{name}'"
        )


def create_private_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Create ``path`` holding ``data``, readable by the current user only, all or nothing.

    Raises ``FileExistsError`` if ``path`` exists (it is never replaced). Missing parent
    folders are created with mode 0700.
    """
    final = os.path.abspath(os.fspath(path))
    directory, base = os.path.split(final)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    temporary = os.path.join(directory, f".{base}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, 0o600)
        if _WINDOWS:
            # Restrict before the secret is written; reopen so icacls is not sharing our handle.
            os.close(fd)
            restrict_to_current_user(temporary)
            fd = os.open(temporary, os.O_WRONLY | _BINARY)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        _publish(temporary, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    _fsync_directory(directory)


def _publish(temporary: str, final: str) -> None:
    try:
        os.link(temporary, final)
    except FileExistsError:
        raise
    except OSError:
        # No hard links on this file system (FAT, some network shares). os.replace would
        # overwrite a file created in the meantime, so look first; the window left is tiny.
        if os.path.lexists(final):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), final) from None
        os.replace(temporary, final)


def _fsync_directory(directory: str) -> None:
    # Makes the new name itself durable (POSIX); Windows cannot open a folder this way.
    if not _POSIX:
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def restrict_to_current_user(path: str) -> None:
    """Windows only: remove inherited permissions from ``path`` and grant the current user
    (``%USERDOMAIN%\\%USERNAME%``) full control, nobody else anything.

    Runs ``icacls <path> /inheritance:r /grant:r <user>:F`` from System32 by full path with a
    fixed argument list (no shell). Raises ``OSError`` if icacls fails: the caller then deletes
    the still-empty file. Not exercised by the test suite, which runs on Linux.
    """
    system_root = os.environ.get("SYSTEMROOT", r"C:\Windows")
    icacls = os.path.join(system_root, "System32", "icacls.exe")
    user = os.environ.get("USERNAME", "")
    domain = os.environ.get("USERDOMAIN", "")
    if not user:
        raise OSError(f"cannot restrict {path}: USERNAME is not set")
    account = f"{domain}\\{user}" if domain else user
    result = subprocess.run(  # noqa: S603  # fixed argv, full path to icacls, no shell
        [icacls, path, "/inheritance:r", "/grant:r", f"{account}:F"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise OSError(f"cannot restrict {path} to {account}: icacls exited {result.returncode}")
