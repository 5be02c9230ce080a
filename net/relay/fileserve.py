"""Serving a room's files to its members: answers to file requests, and chunks as sockets drain.

:class:`FileService` answers a member's FILE_OPEN, FILE_PUT, FILE_DROP and FILE_GET with the
room's :class:`net.proto.RoomFiles` (the rules) and writes the answers; a FILE_GET's chunks go
through the member's :class:`FileSender`.

Why a sender of its own: a FILE_GET asks for up to 64 chunks (4 MB), and a member may download
a 100 MB file. Writing them all at once would hold them in the connection's write buffer (and,
past ``write_buffer_limit``, drop the member as a slow reader). Instead the sender keeps only
the chunk *numbers* asked for (:class:`net.proto.DownloadQueue`) and, while it has any, lowers
the transport's high-water mark to :data:`WINDOW`: it reads one chunk from the store, writes it,
and goes on until asyncio says the buffer is past the window (``pause_writing``); it goes on
again when asyncio says it drained (``resume_writing``). What a download holds in memory is
then at most the window and one chunk, however large the file and however slow the reader.

While the window is lowered, ``pause_writing`` means "a download waits", not "a slow reader":
the member's own :meth:`~net.relay.member.MemberConnection.flush` checks the real
``write_buffer_limit`` itself then (broadcasts always check it), so a member that stops reading
is still dropped when other traffic for it passes the limit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from net import proto
from net.proto import DownloadQueue, FileCode, FileRuleError, FileState, Reason, Room

if TYPE_CHECKING:
    from net.relay.member import MemberConnection

logger = logging.getLogger("socketchat.relay")

#: Bytes of FILE_DATA a download may have waiting in the connection's write buffer (asyncio
#: pauses it past this; it resumes at half of it). Four chunks: enough to keep a fast link
#: busy between two turns of the loop, little next to write_buffer_limit.
WINDOW = 256 * 1024
#: Chunks written in one turn of the loop at most, so one download cannot hold up the room.
BATCH = 16

FileEvent = (
    proto.FileOpenRequested
    | proto.FileChunkSubmitted
    | proto.FileDropRequested
    | proto.FileRequested
)


class FileService:
    """The file side of one served room. ``wall_clock`` (epoch seconds) dates new files for
    the age limit; ``tag`` prefixes log lines."""

    def __init__(
        self,
        room: Room[MemberConnection],
        *,
        wall_clock: Callable[[], float] = time.time,
        tag: str = "",
    ) -> None:
        self.room = room
        self.files = room.files
        self._wall_clock = wall_clock
        self._tag = tag

    def handle(self, member: MemberConnection, event: FileEvent) -> None:
        """Answer one file request of a joined member (already charged to its rate: all but
        FILE_PUT). A request that breaks the rules ends its connection (PROTOCOL_ERROR)."""
        name = member.name
        uploader = self.room.signing_key_of(name) if name is not None else None
        if uploader is None:
            return  # left meanwhile
        files = self.files
        try:
            match event:
                case proto.FileOpenRequested(file_id=file_id, count=count, stored_size=size):
                    self._answer(
                        member,
                        files.open(
                            member,
                            uploader,
                            file_id=file_id,
                            count=count,
                            stored_size=size,
                            now_ms=int(self._wall_clock() * 1000),
                        ),
                    )
                case proto.FileChunkSubmitted(file_id=file_id, index=index, sealed=sealed):
                    state = files.put(member, uploader, file_id=file_id, index=index, sealed=sealed)
                    self._answer(member, state)
                case proto.FileDropRequested(file_id=file_id):
                    self._answer(member, files.drop(member, uploader, file_id))
                case proto.FileRequested(file_id=file_id, from_index=first, count=count):
                    found = files.get(file_id=file_id, from_index=first, count=count)
                    if isinstance(found, range):
                        if member.downloads is None:
                            member.downloads = FileSender(member, self)
                        member.downloads.request(file_id, found)
                    else:
                        self._answer(member, found)
        except FileRuleError as exc:
            logger.info("%sclosing %s (%s): protocol error: %s", self._tag, member.peer, name, exc)
            member.end(Reason.PROTOCOL_ERROR, "protocol error")

    def read(self, file_id: bytes, index: int) -> bytes | None:
        """Chunk ``index`` of a file, or None if it is gone (or cannot be read: logged)."""
        try:
            return self.files.read(file_id, index)
        except OSError:
            return None  # the store said why in the log; to the member the file is gone

    @staticmethod
    def _answer(member: MemberConnection, state: FileState) -> None:
        if member.protocol.send_file_state(state.file_id, state.code, state.have):
            member.flush()


class FileSender:
    """The chunks one member asked for, written as its socket drains (see the module)."""

    __slots__ = ("_member", "_queue", "_scheduled", "_service", "paused", "serving")

    def __init__(self, member: MemberConnection, service: FileService) -> None:
        self._member = member
        self._service = service
        self._queue = DownloadQueue()
        self._scheduled = False
        self.paused = False  # asyncio paused writing at our window: wait for resume_writing
        self.serving = False  # the window is set (chunks wait)

    @property
    def pending(self) -> int:
        """Chunks asked for and not written yet."""
        return self._queue.pending

    def request(self, file_id: bytes, chunks: range) -> None:
        """A FILE_GET's chunks (:class:`FileRuleError` past 64 waiting); writing starts now."""
        self._queue.add(file_id, chunks)
        self._pump()

    def hold(self) -> bool:
        """``pause_writing`` came: True if it is this download's window (wait for the drain),
        False if the buffer passed the real limit (the member is a slow reader)."""
        transport = self._member.transport
        if not self.serving or transport is None:
            return False
        if transport.get_write_buffer_size() > self._member.relay.config.write_buffer_limit:
            return False
        self.paused = True
        return True

    def resume(self) -> None:
        """``resume_writing`` came: the buffer drained to half the window; write on."""
        self.paused = False
        self._pump()

    def _pump(self) -> None:
        """Write chunks while the window has room: at most :data:`BATCH` per turn of the loop."""
        self._scheduled = False
        member, queue = self._member, self._queue
        transport = member.transport
        if transport is None or transport.is_closing():
            return
        if queue and not self.serving:
            self.serving = True
            transport.set_write_buffer_limits(high=WINDOW, low=WINDOW // 2)  # may pause at once
        written = 0
        while queue and not self.paused and written < BATCH:
            if transport.is_closing() or member.dropping:
                return  # closed, or being dropped as a slow reader: nothing more for it
            next_chunk = queue.peek()
            assert next_chunk is not None
            file_id, index = next_chunk
            sealed = self._service.read(file_id, index)
            if sealed is None:  # dropped, evicted or unreadable meanwhile
                queue.forget(file_id)
                if member.protocol.send_file_state(file_id, FileCode.NOT_FOUND, 0):
                    member.flush()
                continue
            if not member.protocol.send_file_data(file_id, index, sealed):
                return  # not joined any more
            queue.pop()
            written += 1
            member.flush()  # may call pause_writing, which sets self.paused
        if not queue and self.serving:
            self.serving = False
            transport.set_write_buffer_limits(high=member.relay.config.write_buffer_limit)
        elif queue and not self.paused and not self._scheduled:
            self._scheduled = True  # a full batch: the rest at the next turn
            member.relay.call_later(0, self._pump)
