"""``relay --rooms DIR``: which room files a folder holds, and loading one as a served room.

Every regular file in DIR whose name ends with ``.room`` (and does not start with a dot: the
relay's own temporary files do) is a room file. :func:`scan` lists them with a *signature*
(inode, size, modification time), so the relay, which looks again every couple of seconds,
reads a file only when it is new or changed. The scan is bounded: it looks at no more than
:data:`MAX_ENTRIES` entries of the folder, whatever else the folder holds.

:func:`load_room` reads one room file with everything kept next to it: the names file
(``FILE.names``), the history (``FILE.history.sqlite3``, or in the data folder) and the files
(``FILE.files.sqlite3``, likewise). A history or files database that exists is opened (and
checked) at once; a room that has none yet gets one when its first message is stored (its first
file opened), so a relay behind a load balancer keeps them only for the rooms that reach it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from net.proto._history import HistoryStore
from net.relay.bindings import bindings_path
from net.relay.files import SqliteFiles, open_files
from net.relay.history import DeferredHistory, HistoryOptions, history_path, open_history
from net.relay.roomfile import RoomSecret

SUFFIX = ".room"
#: Entries of the folder looked at per scan (room files and everything else).
MAX_ENTRIES = 20_000

Signature = tuple[int, int, int]  # inode, size, modification time (ns)


@dataclass(frozen=True)
class Scan:
    """What one look at the folder found."""

    files: dict[Path, Signature]
    truncated: bool  # the folder has more entries than one scan looks at


def scan(folder: Path, max_entries: int = MAX_ENTRIES) -> Scan:
    """The room files in ``folder`` with their signatures; ``OSError`` if it cannot be read."""
    files: dict[Path, Signature] = {}
    truncated = False
    with os.scandir(folder) as entries:
        for seen, entry in enumerate(entries):
            if seen >= max_entries:
                truncated = True
                break
            name = entry.name
            if not name.endswith(SUFFIX) or name.startswith("."):
                continue
            try:
                info = entry.stat()  # follows a symbolic link: the file it names counts
            except OSError:
                continue  # gone meanwhile, or a dangling link
            if stat.S_ISREG(info.st_mode):
                files[Path(entry.path)] = (info.st_ino, info.st_size, info.st_mtime_ns)
    return Scan(files, truncated)


@dataclass(frozen=True)
class LoadedRoom:
    """A room file read with what lives next to it, ready to be served."""

    path: Path
    secret: RoomSecret
    names_file: Path
    history: HistoryStore
    files: SqliteFiles


def load_room(path: Path, options: HistoryOptions) -> LoadedRoom:
    """Read the room file at ``path`` and open its history (if it has one yet).

    ``OSError`` or ``ValueError`` (:class:`net.relay.history.HistoryError` among them) in
    plain words, naming the file.
    """
    secret = RoomSecret.load(path)
    where = history_path(path, options.data_dir)
    history: HistoryStore
    if where.exists():
        history = open_history(path, secret.room_id, options)
    else:
        history = DeferredHistory(path, secret.room_id, options)
    try:
        files = open_files(path, secret.room_id, options)  # made with the first file
    except BaseException:
        closer = getattr(history, "close", None)
        if closer is not None:
            closer()
        raise
    return LoadedRoom(path, secret, bindings_path(path), history, files)
