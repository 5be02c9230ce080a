"""A :class:`~net.client.ChatClient`'s link to this device's archive, on a thread of its own.

With an archive (:mod:`net.client.archive`), the client keeps every message written in the
archive's outbox until the relay confirms it, records every message it opens, and resumes a
room after the resume point recorded there, so all three survive the process.

SQLite connections belong to the thread that opened them, and two of the client's threads
must write: the application's (``send`` keeps a message on disk before it returns) and the
worker (it records what arrives and drops what the relay confirmed). So an
:class:`ArchiveKeeper` opens an :class:`~net.client.archive.Archive` of its own, through the
opener the application gives, and makes every call on its own thread, in the order asked: a
drop asked for after a keep of the same message lands after it. Recorded messages are written
in batches (one transaction for what queued up meanwhile).

If the archive cannot be opened or written, the keeper says so once (``on_failure``, with a
reason that holds no message text) and from then on does nothing: the client goes on in
memory, as it does without an archive.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from net.proto import PendingMessage

if TYPE_CHECKING:
    from net.client.archive import Archive, StoredMessage

log = logging.getLogger("socketchat.client")

#: How long ``send`` (or loading a room) waits for the archive thread: a local write takes
#: milliseconds; past this the disk is not answering and the client goes on without it.
WAIT = 5.0
#: Message ids of the room's newest archived messages loaded at start: the relay may send
#: some of them again (a room joined by address, a relay whose positions started over), and
#: they are already on this device.
KNOWN_IDS = 1000
_BATCH = 500  # the most recorded messages written in one transaction


@dataclass(frozen=True, slots=True)
class KeptRoom:
    """What the archive holds for a room when a client opens it."""

    outgoing: tuple[PendingMessage, ...]  # the outbox of earlier runs, oldest first
    #: Where to resume: the newest position up to which every stored message is here (None:
    #: this device was never in the room, or recorded no resume point, so it is a newcomer
    #: unless it holds messages of the room: then it resumes from 0 and fills the gap).
    resume_point: int | None
    known_ids: frozenset[bytes]  # ids of the newest recorded messages


@dataclass(frozen=True, slots=True)
class _Call:
    run: Callable[[Archive], Any]
    done: Future[Any] | None
    what: str  # for the failure's reason: never message text


@dataclass(frozen=True, slots=True)
class _Record:
    message: StoredMessage


_STOP = object()


class ArchiveKeeper:
    """Runs one archive's calls on one thread. :meth:`start` it, then call from any thread;
    :meth:`close` at the end (it writes what is queued first)."""

    def __init__(
        self,
        opener: Callable[[], Archive],
        *,
        on_failure: Callable[[str], None],
        wait: float = WAIT,
    ) -> None:
        self._opener = opener
        self._on_failure = on_failure
        self._wait = wait
        self._jobs: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._failed = threading.Event()
        self._closed = False

    @property
    def healthy(self) -> bool:
        """False once the archive failed: nothing is kept on disk from then on."""
        return not self._failed.is_set()

    def start(self) -> None:
        """Start the thread (once; later calls do nothing)."""
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="socketchat-archive", daemon=True
                )
                self._thread.start()

    def close(self, timeout: float = WAIT) -> None:
        """Write what is queued, close the archive and stop the thread."""
        thread = self._thread
        if thread is None:
            return
        self._closed = True
        self._jobs.put(_STOP)
        if thread is not threading.current_thread():
            thread.join(timeout)

    # -- calls ------------------------------------------------------------------------------

    def load(self, room_id: bytes) -> KeptRoom | None:
        """The room's outbox, resume point and newest ids (None if the archive failed).
        Blocks up to the keeper's wait."""

        def run(archive: Archive) -> KeptRoom:
            outgoing = tuple(
                PendingMessage(
                    text=m.text,
                    message_id=m.message_id,
                    timestamp_ms=m.created_ms,
                    content_type=m.content_type,
                    body=m.body,
                )
                for m in archive.outgoing(room_id)
            )
            known = frozenset(m.message_id for m in archive.latest(room_id, KNOWN_IDS))
            point = archive.resume_point(room_id)
            if point is None and known:
                point = 0  # was here (a resume point not recorded: a crash): fetch it all again
            return KeptRoom(outgoing, point, known)

        result = self._await(self.call(run, "read the room", wait=True))
        return result if isinstance(result, KeptRoom) else None

    def keep(self, room_id: bytes, messages: Sequence[PendingMessage]) -> Future[Any]:
        """Queue ``messages`` for the archive's outbox; the future completes once they are
        committed (result True) or could not be (False). Wait with :meth:`settled`."""

        def run(archive: Archive) -> bool:
            for message in messages:
                archive.queue_outgoing(
                    room_id,
                    message.message_id,
                    message.text,
                    message.timestamp_ms,
                    content_type=message.content_type,
                    body=message.body,
                )
            return True

        future = self.call(run, "keep a message", wait=True)
        assert future is not None  # wait=True always makes one
        return future

    def settled(self, future: Future[Any]) -> bool:
        """Wait (bounded) for a :meth:`keep`; True if the messages are on disk."""
        return self._await(future) is True

    def resume_at(self, room_id: bytes, position: int) -> None:
        """Record where the room resumes next time (when a connection to it ends)."""
        self.call(
            lambda archive: archive.set_resume_point(room_id, position), "record a resume point"
        )

    def drop(self, room_id: bytes, message_id: bytes) -> None:
        """Forget a kept message (confirmed by the relay, or refused for good)."""
        self.call(lambda archive: archive.drop_outgoing(room_id, message_id), "drop a message")

    def record(self, message: StoredMessage) -> None:
        """Record a message opened in the room (written with the next batch)."""
        if self.healthy and not self._closed:
            self.start()
            self._jobs.put(_Record(message))

    def call(
        self, run: Callable[[Archive], Any], what: str, *, wait: bool = False
    ) -> Future[Any] | None:
        """Run ``run(archive)`` on the keeper's thread, after everything queued before."""
        done: Future[Any] | None = Future() if wait else None
        if not self.healthy or self._closed:
            if done is not None:
                done.set_result(None)
            return done
        self.start()
        self._jobs.put(_Call(run, done, what))
        return done

    def _await(self, future: Future[Any] | None) -> Any:
        if future is None:
            return None
        try:
            return future.result(self._wait)
        except FutureTimeout:
            self._fail("the history file did not answer in time")
            return None

    # -- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            archive = self._opener()
        except Exception as exc:  # any failure to open means "no archive"
            self._fail(_describe(exc, "open the history file"))
            self._drain_unanswered()
            return
        try:
            while True:
                job = self._jobs.get()
                batch = [job]
                while len(batch) < _BATCH:
                    try:
                        batch.append(self._jobs.get_nowait())
                    except queue.Empty:
                        break
                if not self._do(archive, batch):
                    return
        finally:
            try:
                archive.close()
            except Exception:  # closing after a failure may fail as well
                log.debug("closing the archive failed", exc_info=True)
            self._drain_unanswered()

    def _do(self, archive: Archive, batch: list[object]) -> bool:
        """Run a batch in order, consecutive records as one write; False to stop."""
        records: list[StoredMessage] = []
        for index, job in enumerate(batch):
            if isinstance(job, _Record):
                records.append(job.message)
                continue
            if records and not self._write(archive, records):
                return False
            records = []
            if not isinstance(job, _Call):  # _STOP: what was queued before it is written
                for late in batch[index + 1 :]:
                    if isinstance(late, _Call) and late.done is not None:
                        late.done.set_result(None)
                return False
            try:
                result = job.run(archive)
            except Exception as exc:  # any failure: go on without the archive
                self._fail(_describe(exc, job.what))
                if job.done is not None:
                    job.done.set_result(None)
                return False
            if job.done is not None:
                job.done.set_result(result)
        return not records or self._write(archive, records)

    def _write(self, archive: Archive, records: list[StoredMessage]) -> bool:
        try:
            archive.add(records)
        except ValueError:
            # One message with a field the archive refuses (a sender's absurd timestamp):
            # keep the others, one by one, and skip that one.
            for message in records:
                try:
                    archive.add([message])
                except ValueError:
                    log.warning(
                        "a received message could not be recorded (a field is out of range)"
                    )
                except Exception as exc:  # go on without the archive
                    self._fail(_describe(exc, "record messages"))
                    return False
        except Exception as exc:  # go on without the archive
            self._fail(_describe(exc, "record messages"))
            return False
        return True

    def _fail(self, reason: str) -> None:
        if self._failed.is_set():
            return
        self._failed.set()
        log.warning("local history: %s", reason)
        try:
            self._on_failure(reason)
        except Exception:
            log.exception("the archive failure callback failed")

    def _drain_unanswered(self) -> None:
        """Nobody may wait for ever on a call the thread will not run."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if isinstance(job, _Call) and job.done is not None and not job.done.done():
                job.done.set_result(None)


def _describe(exc: BaseException, what: str) -> str:
    # The exception's class and its own words: SQLite and the archive never put message text
    # in them.
    detail = str(exc) or type(exc).__name__
    return f"could not {what}: {detail}"
