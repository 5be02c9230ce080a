"""The file frames on the client: FILE_OPEN, FILE_PUT, FILE_DROP and FILE_GET out, FILE_STATE
and FILE_DATA in (PROTOCOL.md 3.6).

A part of :class:`~net.proto.ClientProtocol` (see ``_client_base``).
"""

from __future__ import annotations

from net.proto import _events as ev
from net.proto._client_base import ClientBase, ClientState
from net.proto._files import (
    decode_file_chunk,
    decode_file_state,
    encode_file_chunk,
    encode_file_drop,
    encode_file_get,
    encode_file_open,
)
from net.proto._frames import FrameType

_T = FrameType


class FilesMixin(ClientBase):
    """Sealed chunks through the relay: :meth:`open_file`, :meth:`put_file_chunk`,
    :meth:`drop_file`, :meth:`get_file_chunks`, and the relay's answers."""

    # -- files: sealed chunks through the relay (PROTOCOL.md 3.6) ----------------------------
    #
    # Only the frames: sealing chunks (crypto.filechunk), reading files, pacing (at most
    # MAX_PUTS_AHEAD puts unanswered, MAX_GET_CHUNKS chunks asked for and not received) and
    # resuming after a reconnect are the client library's.

    def open_file(self, file_id: bytes, count: int, stored_size: int) -> None:
        """Start (or, after a reconnect, resume) uploading a file of ``count`` sealed chunks,
        ``stored_size`` bytes in all (``sealed_size(size)``): FILE_OPEN. The answer is
        :class:`~net.proto.FileStateReceived`: OK with ``have`` (send chunks from ``have``
        on; ``have == count``: complete already), or why not (TOO_LARGE, NO_SPACE, TOO_MANY,
        NOT_YOURS, FILES_OFF). Only after Welcomed; :class:`LocalProtocolError` (nothing
        sent) if ``stored_size`` cannot be ``count`` sealed chunks or a value does not fit."""
        self._require(ClientState.JOINED)
        self._send_sealed(_T.FILE_OPEN, encode_file_open(file_id, count, stored_size))

    def put_file_chunk(self, file_id: bytes, index: int, sealed: bytes) -> None:
        """Send chunk ``index`` of a file opened with :meth:`open_file`, as
        ``crypto.filechunk.seal_chunk`` sealed it (41 to CHUNK_SIZE + 40 bytes): FILE_PUT.
        Chunks go in index order from the ``have`` the relay answered; the relay answers each
        stored one with FileStateReceived(OK, have). Keep at most ``MAX_PUTS_AHEAD`` (16)
        unanswered. A chunk out of order, or more bytes than ``stored_size``, ends the
        connection (PROTOCOL_ERROR). Only after Welcomed; :class:`LocalProtocolError` (nothing
        sent) for a sealed chunk of the wrong length."""
        self._require(ClientState.JOINED)
        self._send_sealed(_T.FILE_PUT, encode_file_chunk(file_id, index, sealed))

    def drop_file(self, file_id: bytes) -> None:
        """Give up an upload (or take back a file not offered yet): the relay deletes what it
        holds of it (FILE_DROP) and answers FileStateReceived(NOT_FOUND), or NOT_YOURS if
        another identity uploaded it. Only after Welcomed."""
        self._require(ClientState.JOINED)
        self._send_sealed(_T.FILE_DROP, encode_file_drop(file_id))

    def get_file_chunks(self, file_id: bytes, from_index: int, count: int) -> None:
        """Ask for ``count`` (1–64) chunks of a file from ``from_index`` on (FILE_GET). The
        relay sends :class:`~net.proto.FileDataReceived` for each one it holds, in order; if
        it has none from ``from_index`` on, FileStateReceived instead (OK with ``have``:
        not uploaded that far yet; NOT_FOUND: the file is gone). Keep at most
        ``MAX_GET_CHUNKS`` (64) asked for and not received (the relay ends a connection that
        asks for more); after a reconnect, ask again from the first chunk not received. Each
        request counts against a FILE_GET budget of the relay's (not the message rate): ask
        for many at a time. Only after
        Welcomed; :class:`LocalProtocolError` (nothing sent) for a count out of range."""
        self._require(ClientState.JOINED)
        self._send_sealed(_T.FILE_GET, encode_file_get(file_id, from_index, count))

    def _on_file_state(self, payload: bytes) -> None:
        state = decode_file_state(payload)
        self._emit(ev.FileStateReceived(file_id=state.file_id, code=state.code, have=state.have))

    def _on_file_data(self, payload: bytes) -> None:
        chunk = decode_file_chunk(payload)
        self._emit(
            ev.FileDataReceived(file_id=chunk.file_id, index=chunk.index, sealed=chunk.sealed)
        )
