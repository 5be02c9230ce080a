"""Sealing the chunks of a file sent to a room (or privately), end to end.

A file is cut into chunks of ``CHUNK_SIZE`` bytes (the last may be shorter) and each is sealed
under the file's own random key, which only the signed file offer carries
(:mod:`net.proto._content`)::

    sealed_chunk = xnonce (24) ‖ XChaCha20-Poly1305(file_key, xnonce, aad, chunk) ‖ tag (16)
    aad          = "SocketChat v2 file chunk" ‖ file_id (16) ‖ u32 index ‖ u32 count

The relay stores and serves sealed chunks without being able to read, reorder, cut short or
mix them between files: each names its file, its place and the number of chunks. Random nonces
(not the index) because a sender that resumes an upload may seal a chunk again. A receiver
checks every chunk with :func:`open_chunk` as it arrives, and the whole file's SHA-256 from the
offer once it has all of them.
"""

from __future__ import annotations

import struct

from crypto import aead
from crypto._util import as_bytes

CHUNK_SIZE = 64000
SEALED_CHUNK_OVERHEAD = aead.XNONCE_SIZE + aead.TAG_SIZE  # 40
FILE_KEY_SIZE = 32
FILE_ID_SIZE = 16
_AAD_LABEL = b"SocketChat v2 file chunk"
_PLACE = struct.Struct(">II")


def chunk_count(size: int) -> int:
    """How many chunks a file of ``size`` bytes is cut into (0 for an empty file)."""
    if size < 0:
        raise ValueError("a size is not negative")
    return -(-size // CHUNK_SIZE)


def sealed_size(size: int) -> int:
    """What the relay stores for a file of ``size`` bytes: every chunk and its overhead."""
    return size + SEALED_CHUNK_OVERHEAD * chunk_count(size)


def chunk_length(size: int, index: int) -> int:
    """The plaintext length of chunk ``index`` of a file of ``size`` bytes."""
    count = chunk_count(size)
    if not 0 <= index < count:
        raise ValueError("no such chunk")
    return CHUNK_SIZE if index < count - 1 else size - CHUNK_SIZE * (count - 1)


def _aad(file_id: bytes, index: int, count: int) -> bytes:
    file_id = as_bytes(file_id, "file_id")
    if len(file_id) != FILE_ID_SIZE:
        raise ValueError(f"a file id is {FILE_ID_SIZE} bytes")
    if not 0 <= index < count < 2**32:
        raise ValueError("chunk index out of range")
    return _AAD_LABEL + file_id + _PLACE.pack(index, count)


def seal_chunk(*, file_key: bytes, file_id: bytes, index: int, count: int, chunk: bytes) -> bytes:
    """Seal chunk ``index`` of ``count`` for the relay to store (FILE_PUT)."""
    chunk = as_bytes(chunk, "chunk")
    if not 0 < len(chunk) <= CHUNK_SIZE:
        raise ValueError(f"a chunk is 1 to {CHUNK_SIZE} bytes")
    return aead.seal_random(file_key, chunk, aad=_aad(file_id, index, count))


def open_chunk(*, file_key: bytes, file_id: bytes, index: int, count: int, sealed: bytes) -> bytes:
    """Open chunk ``index`` of ``count`` as the relay served it (FILE_DATA); raises
    :class:`crypto.errors.AuthenticationError` if it is not that chunk of that file."""
    return aead.open_random(file_key, sealed, aad=_aad(file_id, index, count))
