"""Files in the terminal client: ``/send PATH``, ``/files``, ``/save ID [PATH]``.

:class:`TerminalFiles` is the part of :class:`net.client.cli.TerminalChat` that speaks of files.
A received file offer prints as one line, ``12:04 bob sent a file: NAME (SIZE) — /save 3``,
where 3 is a short number given here, in the order offers arrive (``/files`` lists them).
``/save 3`` saves it in the current folder, ``/save 3 PATH`` in the folder PATH or as the new
file PATH: never over an existing file (a free name ``NAME (2).ext`` is picked in a folder).

The name a sender gives is hostile: it is printed through ``termtext.clean`` like every text,
and saved only as ``filenames.safe_name`` makes it (no folder in it, no hidden or device
name), so it cannot land outside the chosen folder. A type that runs something when opened
(``filenames.is_executable``) gets a warning line; this program never opens or runs a file.

Progress of a transfer started here prints at most once a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from net.client import events as ce
from net.client.filenames import describe_size, is_executable, safe_name, unique_path
from net.client.termtext import clean
from net.proto import FileOffer

if TYPE_CHECKING:
    from net.client.client import ChatClient

PROGRESS_EVERY = 1.0  # seconds between two progress lines of one transfer
STALL_TIMEOUT = 60.0  # at end of input, how long transfers may go without progress
_MAX_EARLY = 64
USAGE = "files: /send PATH (send a file), /files (the files received), /save ID [PATH]"


@dataclass
class _Received:
    """An offer seen here, under its short number."""

    number: int
    message_id: bytes
    sender: str
    offer: FileOffer
    state: str = ""  # "", "saving to X", "saved to X", "not saved: why"


@dataclass
class _Running:
    """A transfer started here."""

    name: str
    upload: bool
    number: int = 0  # the received file's number for a download
    last_line: float = field(default=float("-inf"))


class TerminalFiles:
    """The terminal's file commands and lines for one :class:`ChatClient`.

    ``say`` prints one line (cleaned again by the printer); ``folder`` gives the default
    folder of ``/save`` (the current one); ``clock`` paces progress lines (tests move it).
    """

    def __init__(
        self,
        client: ChatClient,
        say: Callable[[str], None],
        *,
        folder: Callable[[], Path] = Path.cwd,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._say = say
        self._folder = folder
        self._clock = clock
        self._lock = threading.Condition()
        self._received: dict[bytes, _Received] = {}  # by message id, in the order received
        self._running: dict[bytes, _Running] = {}  # by transfer id
        # The last events of transfers that ended before their start call returned.
        self._early: dict[bytes, ce.TransferFinished | ce.TransferFailed] = {}
        self._moved = clock()  # the last time a transfer started here moved on

    # -- commands (the input thread) ------------------------------------------------------

    def command(self, word: str, rest: str) -> bool:
        """Run ``/send``, ``/files`` or ``/save``; False for any other command word."""
        match word.lower():
            case "send":
                self._send(rest.strip())
            case "files":
                self._list()
            case "save":
                self._save(rest.strip())
            case _:
                return False
        return True

    def _send(self, where: str) -> None:
        if not where:
            self._say(f"! {USAGE}")
            return
        path = Path(where).expanduser()
        try:
            transfer_id = self._client.send_file(path)
        except ValueError as exc:
            self._say(f"! not sent: {clean(str(exc))}")
            return
        try:
            size = path.stat().st_size
        except OSError:  # gone already: the transfer fails and says so
            size = 0
        self._say(f"* sending {clean(path.name)} ({describe_size(size)})")
        self._started(transfer_id, _Running(name=path.name, upload=True))

    def _list(self) -> None:
        with self._lock:
            received = list(self._received.values())
        if not received:
            self._say("* no files received yet")
            return
        for item in received:
            state = f" [{clean(item.state)}]" if item.state else ""
            self._say(
                f"* /save {item.number}: {clean(item.sender)}, {clean(item.offer.name)} "
                f"({describe_size(item.offer.size)}){state}"
            )

    def _save(self, rest: str) -> None:
        number_text, _, where = rest.partition(" ")
        with self._lock:
            item = next((r for r in self._received.values() if str(r.number) == number_text), None)
        if item is None:
            self._say(f"! no file number {clean(number_text)}: /files lists them; {USAGE}")
            return
        try:
            dest = self._destination(item.offer, where.strip())
        except (ValueError, OSError) as exc:
            self._say(f"! not saved: {clean(str(exc))}")
            return
        offer = item.offer
        if is_executable(offer.name, offer.media_type):
            self._say(
                f"! {clean(dest.name)} is a program or script ({clean(offer.media_type)}): "
                f"it is saved but never opened here; open it only if you trust "
                f"{clean(item.sender)} and know what it is"
            )
        try:
            transfer_id = self._client.download(item.message_id, dest)
        except ValueError as exc:
            self._say(f"! not saved: {clean(str(exc))}")
            return
        with self._lock:
            item.state = f"saving to {dest}"
        self._say(f"* saving {clean(offer.name)} to {clean(str(dest))}")
        self._started(transfer_id, _Running(name=dest.name, upload=False, number=item.number))

    def _started(self, transfer_id: bytes, running: _Running) -> None:
        """Follow a transfer just started here, or say how it ended if it was that quick (its
        last event came before send_file or download returned)."""
        with self._lock:
            early = self._early.pop(transfer_id, None)
            if early is None:
                self._running[transfer_id] = running
                self._moved = self._clock()
                return
        line = self._end_line(running, early)
        self._say(line)

    def _destination(self, offer: FileOffer, where: str) -> Path:
        """Where ``/save`` puts ``offer``: a free name in the current folder or the folder
        ``where``, or the new file ``where`` itself."""
        name = safe_name(offer.name)
        if not where:
            return unique_path(self._folder(), name)
        path = Path(where).expanduser()
        if path.is_dir():
            return unique_path(path, name)
        if path.exists() or path.is_symlink():
            raise ValueError(f"{where} exists already; nothing is ever overwritten")
        return path

    # -- events (the client's worker thread) --------------------------------------------------

    def offered(self, event: ce.MessageReceived, offer: FileOffer) -> str:
        """The end of a file offer's line, after the sender's name: numbers it for /save."""
        with self._lock:
            item = self._received.get(event.message_id)
            if item is None:
                item = _Received(
                    number=len(self._received) + 1,
                    message_id=event.message_id,
                    sender=event.sender,
                    offer=offer,
                )
                self._received[event.message_id] = item
        return (
            f"sent a file: {clean(offer.name)} ({describe_size(offer.size)}) — /save {item.number}"
        )

    def describe(self, event: ce.ClientEvent) -> str | None:
        """The line for a transfer event, or None (not one of ours, or too soon)."""
        if isinstance(event, ce.TransferProgress):
            return self._progress(event)
        if isinstance(event, ce.TransferFinished | ce.TransferFailed):
            running = self._ended(event)
            return None if running is None else self._end_line(running, event)
        return None

    def _end_line(self, running: _Running, event: ce.TransferFinished | ce.TransferFailed) -> str:
        if isinstance(event, ce.TransferFinished):
            if event.upload:
                return f"* {clean(running.name)} is on the relay; offering it to the room"
            self._mark(running, f"saved to {event.path}")
            return f"* saved {clean(running.name)} to {clean(str(event.path))}"
        verb = "sending" if event.upload else "saving"
        if not event.upload:
            self._mark(running, f"not saved: {event.detail}")
        return f"! {verb} {clean(running.name)} failed: {clean(event.detail)}"

    def _progress(self, event: ce.TransferProgress) -> str | None:
        now = self._clock()
        with self._lock:
            running = self._running.get(event.transfer_id)
            if running is None:
                return None
            self._moved = now
            if event.done_bytes in (0, event.total_bytes):
                return None  # the start and the end have lines of their own
            if now - running.last_line < PROGRESS_EVERY:
                return None
            running.last_line = now
        share = event.done_bytes / event.total_bytes if event.total_bytes else 1.0
        verb = "sending" if event.upload else "saving"
        return (
            f"* {verb} {clean(running.name)}: {share:.0%} ({describe_size(event.done_bytes)} "
            f"of {describe_size(event.total_bytes)})"
        )

    def _ended(self, event: ce.TransferFinished | ce.TransferFailed) -> _Running | None:
        """The transfer's last event: stop following it. One not followed yet was started
        here a moment ago: its start (``_started``) says how it ended."""
        with self._lock:
            running = self._running.pop(event.transfer_id, None)
            if running is None:
                self._early[event.transfer_id] = event
                while len(self._early) > _MAX_EARLY:
                    del self._early[next(iter(self._early))]
            self._moved = self._clock()
            self._lock.notify_all()
        return running

    def _mark(self, running: _Running, state: str) -> None:
        with self._lock:
            for item in self._received.values():
                if item.number == running.number:
                    item.state = state

    # -- the end of input ---------------------------------------------------------------------

    def wait_done(self, stopped: threading.Event, stall: float = STALL_TIMEOUT) -> None:
        """Block until every transfer started here ended, the client stopped (``stopped``),
        or none moved for ``stall`` seconds (then leaving stops them)."""
        with self._lock:
            while self._running and not stopped.is_set():
                if self._clock() - self._moved > stall:
                    return
                self._lock.wait(0.1)
