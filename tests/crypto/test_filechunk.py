"""crypto.filechunk: chunks bound to their file, place and count; sizes add up."""

from __future__ import annotations

import secrets

import pytest

from crypto import filechunk as fc
from crypto.errors import AuthenticationError

KEY, FID = secrets.token_bytes(32), secrets.token_bytes(16)


def test_round_trip_and_fresh_nonces():
    sealed = fc.seal_chunk(file_key=KEY, file_id=FID, index=2, count=5, chunk=b"data")
    assert len(sealed) == 4 + fc.SEALED_CHUNK_OVERHEAD
    assert sealed != fc.seal_chunk(file_key=KEY, file_id=FID, index=2, count=5, chunk=b"data")
    opened = fc.open_chunk(file_key=KEY, file_id=FID, index=2, count=5, sealed=sealed)
    assert opened == b"data"


@pytest.mark.parametrize(
    "change",
    [{"index": 3}, {"count": 4}, {"file_id": bytes(16)}, {"file_key": bytes(32)}],
)
def test_a_chunk_opens_only_in_its_place(change):
    sealed = fc.seal_chunk(file_key=KEY, file_id=FID, index=2, count=5, chunk=b"data")
    args = dict(file_key=KEY, file_id=FID, index=2, count=5, sealed=sealed)
    args.update(change)
    with pytest.raises(AuthenticationError):
        fc.open_chunk(**args)


def test_tampered_and_truncated_chunks():
    sealed = fc.seal_chunk(file_key=KEY, file_id=FID, index=0, count=1, chunk=b"x" * 100)
    for bad in (sealed[:-1], sealed[:39], b"", sealed[:30] + bytes([sealed[30] ^ 1]) + sealed[31:]):
        with pytest.raises(AuthenticationError):
            fc.open_chunk(file_key=KEY, file_id=FID, index=0, count=1, sealed=bad)


def test_sizes():
    assert fc.chunk_count(0) == 0 and fc.sealed_size(0) == 0
    assert fc.chunk_count(1) == 1 and fc.chunk_count(fc.CHUNK_SIZE) == 1
    assert fc.chunk_count(fc.CHUNK_SIZE + 1) == 2
    assert fc.sealed_size(fc.CHUNK_SIZE + 1) == fc.CHUNK_SIZE + 1 + 2 * fc.SEALED_CHUNK_OVERHEAD
    assert fc.chunk_length(fc.CHUNK_SIZE + 1, 0) == fc.CHUNK_SIZE
    assert fc.chunk_length(fc.CHUNK_SIZE + 1, 1) == 1
    with pytest.raises(ValueError):
        fc.chunk_length(10, 1)


def test_bad_arguments():
    with pytest.raises(ValueError):
        fc.seal_chunk(file_key=KEY, file_id=FID, index=5, count=5, chunk=b"x")
    with pytest.raises(ValueError):
        fc.seal_chunk(file_key=KEY, file_id=FID, index=0, count=1, chunk=b"")
    with pytest.raises(ValueError):
        fc.seal_chunk(file_key=KEY, file_id=FID, index=0, count=1, chunk=b"x" * (fc.CHUNK_SIZE + 1))
    with pytest.raises(ValueError):
        fc.seal_chunk(file_key=KEY, file_id=b"short", index=0, count=1, chunk=b"x")
