"""Which identity holds which name in a room, kept next to the room file across restarts.

A name belongs to the identity key that first used it in the room, for as long as the room
exists (docs/PROTOCOL.md, section 6). For a room served from a room file, the relay writes the
bindings to ``<room file>.names`` (JSON, mode 0600, replaced atomically) whenever a new name is
bound, and reads them back when it starts. The file holds names and public keys only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path

logger = logging.getLogger("socketchat.relay")

FILE_FORMAT = "socketchat-room-names"
FILE_VERSION = 1
_MAX_FILE_BYTES = 8 * 1024 * 1024
_KEY_HEX = 64


def bindings_path(room_file: str | os.PathLike[str]) -> Path:
    """Where the bindings of the room in ``room_file`` are kept."""
    return Path(os.fspath(room_file) + ".names")


def load_bindings(path: Path) -> dict[str, bytes]:
    """The bindings saved at ``path``; empty if there is no file yet.

    ``ValueError`` in plain words for a damaged file: starting without it would let anyone
    take the names of members who are away, so the operator must decide.
    """
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return {}
    if len(raw) > _MAX_FILE_BYTES:
        raise ValueError(f"{path} is too large to be a SocketChat names file.")
    try:
        document = json.loads(raw.decode("utf-8"))
        if document.get("format") != FILE_FORMAT or document.get("version") != FILE_VERSION:
            raise ValueError
        names = document["names"]
        if not isinstance(names, dict):
            raise ValueError
        bindings = {}
        for key, value in names.items():
            if not isinstance(key, str) or not isinstance(value, str) or len(value) != _KEY_HEX:
                raise ValueError
            bindings[key] = bytes.fromhex(value)
    except (ValueError, KeyError, AttributeError, UnicodeDecodeError):
        raise ValueError(
            f"{path} (which names belong to which members) is damaged. Restore it from a "
            "backup, or delete it to let anyone take any name again."
        ) from None
    return bindings


def save_bindings(path: Path, bindings: dict[str, bytes]) -> None:
    """Write ``bindings`` to ``path`` atomically (mode 0600). Errors are logged, not raised:
    the room goes on, and the next new name tries again."""
    document = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "names": {name: key.hex() for name, key in sorted(bindings.items())},
    }
    data = json.dumps(document, indent=1).encode("utf-8")
    try:
        fd, temp = tempfile.mkstemp(prefix=".names-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
    except OSError as exc:
        logger.warning("cannot save the room's names to %s: %s", path, exc.strerror or exc)
