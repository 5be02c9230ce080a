"""Received pictures: where they are kept on this device, and their previews decoded off the Tk
thread.

A picture offered in a room (``gui/file_text.is_picture``: PNG, JPEG, GIF or WebP, at most
10 MB) is fetched by itself into a cache folder in the app's data folder
(``<data>/pictures/<sha256>``), named after the SHA-256 its offer states: the client writes the
file there only once every chunk opened and the whole file matched that hash, so a name in the
cache always holds what it says, and the same picture offered twice is fetched once. The cache
is kept under :data:`MAX_CACHE_BYTES` (the files used longest ago go first), and it lasts one
run of the app: it is emptied when the app first uses it and when the app quits
(:func:`clear_cache`). Pictures are decrypted there, so they must not outlive the session the
person saw them in: the local history (encrypted at rest, and optional) is what lasts, and
its pictures are fetched again from the relay while it still holds them.

:class:`PreviewDecoder` decodes a cached (or our own, sent) picture with ``gui/pictures.py`` in
a short worker thread, at most :data:`MAX_WORKERS` at a time, and hands the outcome to the Tk
thread through an :class:`~gui.pump.EventPump` of its own, which ticks only while work is
out. The worker touches no widget; the Tk image is made on the Tk thread
(``pictures.photo_image``) by whoever receives the outcome.
"""

from __future__ import annotations

import contextlib
import threading
import tkinter as tk
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gui.pictures import PictureRefused, Preview, decode_preview
from gui.pump import EventPump
from net.client import data_dir

MAX_CACHE_BYTES = 200_000_000  # received pictures kept on this device, at most
MAX_WORKERS = 2  # decoding threads at once (each may hold a 160 MB picture while shrinking it)
CACHE_FOLDER = "pictures"


_cleared: set[Path] = set()  # cache folders emptied by this process (its first use of each)


def cache_folder(base: Path | None = None) -> Path:
    """The folder received pictures are kept in (made if missing, readable by its owner
    only: the pictures are end-to-end encrypted on the way). The first call of this process
    empties what an earlier run left (it crashed before :func:`clear_cache`)."""
    folder = (base if base is not None else data_dir()) / CACHE_FOLDER
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if folder not in _cleared:
        _cleared.add(folder)
        clear_cache(folder)
    return folder


def clear_cache(folder: Path | None = None) -> None:
    """Delete every picture in the cache (the app quits; or an earlier run's leftovers).
    Call after the downloads into it stopped."""
    folder = folder if folder is not None else data_dir() / CACHE_FOLDER
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.is_file() or path.is_symlink():
            with contextlib.suppress(OSError):
                path.unlink()


def cached_path(folder: Path, sha256: bytes) -> Path:
    """Where the picture whose SHA-256 is ``sha256`` is kept (there or not)."""
    return folder / sha256.hex()


def trim_cache(folder: Path, limit: int = MAX_CACHE_BYTES) -> None:
    """Delete the pictures used longest ago until the folder holds at most ``limit`` bytes.
    Files being written (``.part``) are left alone. Safe off the Tk thread."""
    files: list[tuple[float, int, Path]] = []
    for path in folder.iterdir():
        if path.suffix == ".part" or not path.is_file():
            continue
        with contextlib.suppress(OSError):
            status = path.stat()
            files.append((status.st_mtime, status.st_size, path))
    total = sum(size for _, size, _ in files)
    for _, size, path in sorted(files):
        if total <= limit:
            break
        with contextlib.suppress(OSError):
            path.unlink()
            total -= size


@dataclass(frozen=True, slots=True)
class Decoded:
    """A preview decoded for ``key`` (``preview``), or why not (``refused``)."""

    key: bytes
    preview: Preview | None
    refused: str


class PreviewDecoder:
    """Decodes pictures in workers and calls ``on_done(Decoded)`` on the Tk thread.

    ``widget`` is any widget of the window (its ``after`` drives the result pump). Call
    :meth:`decode` on the Tk thread; :meth:`stop` when the window goes (outcomes still on the
    way are then dropped).
    """

    def __init__(
        self,
        widget: tk.Misc,
        on_done: Callable[[Decoded], None],
        *,
        max_side: int,
        cache: Path | None = None,
    ) -> None:
        self._on_done = on_done
        self._max_side = max_side
        self._cache = cache  # trimmed after each picture decoded from it
        self._pump = EventPump(widget, self._finished)
        self._waiting: deque[tuple[bytes, Path]] = deque()
        self._running = 0
        self._stopped = False

    @property
    def busy(self) -> bool:
        """Whether pictures are still being decoded (or wait their turn)."""
        return bool(self._running or self._waiting)

    def decode(self, key: bytes, path: Path) -> None:
        """Decode the picture at ``path`` for ``key``; its outcome comes to ``on_done``."""
        if self._stopped:
            return
        self._waiting.append((key, path))
        self._start_more()

    def stop(self) -> None:
        self._stopped = True
        self._waiting.clear()
        self._pump.stop()

    def _start_more(self) -> None:
        while self._waiting and self._running < MAX_WORKERS:
            key, path = self._waiting.popleft()
            self._running += 1
            threading.Thread(
                target=self._work, args=(key, path), name="socketchat-picture", daemon=True
            ).start()
        if self._running:
            self._pump.start()

    def _work(self, key: bytes, path: Path) -> None:
        # A worker: decodes and puts the outcome on the pump; never touches Tk.
        try:
            decoded = Decoded(key, decode_preview(path, max_side=self._max_side), "")
        except PictureRefused as refused:
            decoded = Decoded(key, None, refused.reason)
        if self._cache is not None and path.parent == self._cache:
            with contextlib.suppress(OSError):
                path.touch()  # just used: the last to go
                trim_cache(self._cache)
        self._pump.put(decoded)

    def _finished(self, decoded: Decoded) -> None:
        self._running -= 1
        if not self._stopped:
            self._start_more()
            self._on_done(decoded)
        if not self._running:
            self._pump.stop()
