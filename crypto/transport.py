"""Frame encryption after the handshake.

Two kinds of key protect what crosses a connection:

* per-connection, one key per direction (:func:`derive_transport_keys`): ChaCha20-Poly1305
  (RFC 8439, :mod:`crypto.aead`) with an implicit 64-bit counter as the nonce, never sent. A
  frame that is dropped, replayed, reordered or altered fails, and the first failure is final.
* per-room broadcast key (:class:`BroadcastSealer`): the relay seals each broadcast once and
  writes the same bytes to every member; each frame carries a strictly increasing sequence
  number (the nonce), which every member checks. Members receive this key inside their own
  per-connection channel.

The frame type is authenticated as AAD so a frame cannot be reinterpreted as another type.

Layouts (protocol v2)::

    nonce          = 00 00 00 00 || u64 big-endian counter (or broadcast sequence number)
    aad            = frame type (1 byte)
    frame          = ciphertext || tag (16)
    broadcast      = u64 big-endian seq || ciphertext || tag (16)

Counters are safe nonces here: each key is fresh per connection (or per relay run for the
broadcast key) and a counter never repeats or wraps under it.
"""

from __future__ import annotations

import struct

from Crypto.Random import get_random_bytes

from crypto import aead
from crypto._util import as_bytes
from crypto.errors import AuthenticationError
from crypto.kdf import derive

KEY_SIZE = aead.KEY_SIZE
TAG_SIZE = aead.TAG_SIZE
SEQ_SIZE = 8
BROADCAST_KEY_SIZE = 32
_MAX_COUNTER = 2**64 - 1


def derive_transport_keys(session_key: bytes, *, transcript_hash: bytes) -> tuple[bytes, bytes]:
    """Split a SPAKE2 session key into (client→relay, relay→client) frame keys."""
    return (
        derive(session_key, "transport client to relay", context=transcript_hash),
        derive(session_key, "transport relay to client", context=transcript_hash),
    )


def new_broadcast_key() -> bytes:
    """A fresh random key for one room's broadcasts (one per relay run)."""
    return get_random_bytes(BROADCAST_KEY_SIZE)


_NONCE_PREFIX = b"\x00\x00\x00\x00"
# The AAD of each frame type, built once: a frame is sealed or opened per message on the relay's
# hot path, where every avoidable call shows (docs/BENCHMARKS.md, "Profiles").
_AAD = tuple(bytes((frame_type,)) for frame_type in range(256))


def _nonce(counter: int) -> bytes:
    return _NONCE_PREFIX + counter.to_bytes(SEQ_SIZE, "big")


def _check_key(key: bytes) -> bytes:
    if len(key) != KEY_SIZE:
        raise ValueError(f"key must be {KEY_SIZE} bytes")
    return bytes(key)


def _aad(frame_type: int) -> bytes:
    # As bytes((frame_type,)) did: ValueError outside 0..255, TypeError for a non-int.
    if not isinstance(frame_type, int):
        raise TypeError(f"frame type must be an int, not {type(frame_type).__name__}")
    if not 0 <= frame_type <= 0xFF:
        raise ValueError("frame type must be in range(0, 256)")
    return _AAD[frame_type]


# The key and nonce are checked once (the key when the sealer or opener is made, the nonce is
# always 12 bytes here), so these call the AEAD core directly rather than aead.seal/open, which
# check both again for every frame.
def _seal(key: bytes, counter: int, frame_type: int, payload: bytes) -> bytes:
    return aead._seal(key, _nonce(counter), payload, _aad(frame_type))


def _open(key: bytes, counter: int, frame_type: int, sealed: bytes) -> bytes:
    # AuthenticationError for a short, altered, replayed or misplaced frame alike.
    return aead._open(key, _nonce(counter), sealed, _aad(frame_type))


class FrameSealer:
    """Seals the frames one side sends on one connection, in order."""

    __slots__ = ("_counter", "_key")  # one per connection: an idle relay holds thousands

    def __init__(self, key: bytes) -> None:
        self._key = _check_key(key)
        self._counter = 0

    def seal(self, frame_type: int, payload: bytes) -> bytes:
        """Return ``ciphertext || tag`` for the next frame; raises before the nonce would wrap."""
        if self._counter >= _MAX_COUNTER:
            raise OverflowError("frame counter exhausted; reconnect for fresh keys")
        sealed = _seal(self._key, self._counter, frame_type, as_bytes(payload, "payload"))
        self._counter += 1
        return sealed


class FrameOpener:
    """Opens the frames the peer sends on one connection; the first failure is final."""

    __slots__ = ("_counter", "_failed", "_key")

    def __init__(self, key: bytes) -> None:
        self._key = _check_key(key)
        self._counter = 0
        self._failed = False

    def open(self, frame_type: int, sealed: bytes) -> bytes:
        """Return the payload of the next frame, or raise :class:`AuthenticationError`."""
        if self._failed:
            raise AuthenticationError("an earlier frame failed; the connection must close")
        if self._counter >= _MAX_COUNTER:
            self._failed = True
            raise AuthenticationError("frame counter exhausted")
        try:
            payload = _open(self._key, self._counter, frame_type, as_bytes(sealed, "sealed"))
        except AuthenticationError:
            self._failed = True
            raise
        self._counter += 1
        return payload


class BroadcastSealer:
    """The relay's side of the room broadcast key: one seal per broadcast, whatever the size."""

    __slots__ = ("_key", "_next_seq")

    def __init__(self, key: bytes, *, next_seq: int = 1) -> None:
        self._key = _check_key(key)
        if not 0 <= next_seq <= _MAX_COUNTER:
            raise ValueError("next_seq out of range")
        self._next_seq = next_seq

    @property
    def next_seq(self) -> int:
        """The sequence number the next broadcast will carry (tell joiners this)."""
        return self._next_seq

    def seal(self, frame_type: int, payload: bytes) -> bytes:
        """Return ``seq || ciphertext || tag``."""
        seq = self._next_seq
        if seq >= _MAX_COUNTER:
            raise OverflowError("broadcast sequence exhausted")
        self._next_seq = seq + 1
        payload = as_bytes(payload, "payload")
        return struct.pack(">Q", seq) + _seal(self._key, seq, frame_type, payload)


class BroadcastOpener:
    """A member's side: accepts only strictly increasing sequence numbers."""

    __slots__ = ("_failed", "_key", "_next_seq")

    def __init__(self, key: bytes, *, next_seq: int) -> None:
        self._key = _check_key(key)
        if not 0 <= next_seq <= _MAX_COUNTER:
            raise ValueError("next_seq out of range")
        self._next_seq = next_seq
        self._failed = False

    def open(self, frame_type: int, sealed: bytes) -> bytes:
        """Return the payload, or raise :class:`AuthenticationError` (also for an old seq)."""
        if self._failed:
            raise AuthenticationError("an earlier broadcast failed; the connection must close")
        sealed = as_bytes(sealed, "sealed")
        if len(sealed) < SEQ_SIZE + TAG_SIZE:
            self._failed = True
            raise AuthenticationError("broadcast frame is too short")
        (seq,) = struct.unpack(">Q", sealed[:SEQ_SIZE])
        if seq < self._next_seq or seq >= _MAX_COUNTER:
            self._failed = True
            raise AuthenticationError("broadcast sequence number replayed or out of order")
        try:
            payload = _open(self._key, seq, frame_type, sealed[SEQ_SIZE:])
        except AuthenticationError:
            self._failed = True
            raise
        self._next_seq = seq + 1
        return payload
