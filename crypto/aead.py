"""The v2 AEAD: ChaCha20-Poly1305 (RFC 8439) and XChaCha20-Poly1305, over pycryptodome.

Two ways to use it:

* :func:`seal` / :func:`open` take a 12-byte nonce from the caller. Use them only where the
  nonce is a counter or sequence number that the protocol guarantees never repeats under one
  key (the transport frames in :mod:`crypto.transport`).
* :func:`seal_random` / :func:`open_random` are a box in the style of PyNaCl's ``SecretBox``:
  XChaCha20-Poly1305 with a random 24-byte nonce chosen here and prepended to the output.
  192 random bits make a repeated nonce negligible however many messages one key seals, so
  use this whenever there is no counter to hand.

Layouts (all lengths fixed; nothing is length-prefixed)::

    seal(...)        -> ciphertext || tag                 (tag: 16 bytes)
    seal_random(...) -> nonce (24) || ciphertext || tag (16)

The AAD is authenticated, not encrypted, and not included in the output: both sides must
build the same AAD bytes themselves. A bad key, nonce or input length raises ``ValueError``
(a bug on our side); a forged, truncated or altered input raises :class:`AuthenticationError`
(someone else's doing). Nothing here ever returns a "valid?" boolean.
"""

from __future__ import annotations

from Crypto.Cipher import ChaCha20_Poly1305
from Crypto.Random import get_random_bytes

from crypto._util import as_bytes
from crypto.errors import AuthenticationError

__all__ = [
    "KEY_SIZE",
    "NONCE_SIZE",
    "TAG_SIZE",
    "XNONCE_SIZE",
    "open",
    "open_random",
    "seal",
    "seal_random",
]

KEY_SIZE = 32
NONCE_SIZE = 12
XNONCE_SIZE = 24
TAG_SIZE = 16


def _key(key: object) -> bytes:
    key = as_bytes(key, "key")
    if len(key) != KEY_SIZE:
        raise ValueError(f"key must be {KEY_SIZE} bytes")
    return key


def _nonce(nonce: object, size: int) -> bytes:
    # pycryptodome picks the cipher by nonce length (8 bytes: original ChaCha20, 12: RFC 8439,
    # 24: XChaCha20), so a nonce of the wrong size would silently select another algorithm.
    nonce = as_bytes(nonce, "nonce")
    if len(nonce) != size:
        raise ValueError(f"nonce must be {size} bytes")
    return nonce


def _seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    cipher = ChaCha20_Poly1305.new(key=key, nonce=nonce)
    cipher.update(aad)
    ciphertext, tag = cipher.encrypt_and_digest(plaintext)
    return ciphertext + tag


def _open(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    if len(sealed) < TAG_SIZE:
        raise AuthenticationError("sealed data is too short")
    cipher = ChaCha20_Poly1305.new(key=key, nonce=nonce)
    cipher.update(aad)
    try:
        return cipher.decrypt_and_verify(sealed[:-TAG_SIZE], sealed[-TAG_SIZE:])
    except ValueError:
        raise AuthenticationError("sealed data failed authentication") from None


def seal(key: bytes, *, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """ChaCha20-Poly1305 with a caller-managed 12-byte nonce; returns ``ciphertext || tag``.

    Call only with a nonce that can never repeat under ``key`` (a counter); otherwise use
    :func:`seal_random`. Reusing a nonce reveals the XOR of two plaintexts and lets an
    attacker forge messages.
    """
    return _seal(
        _key(key),
        _nonce(nonce, NONCE_SIZE),
        as_bytes(plaintext, "plaintext"),
        as_bytes(aad, "aad"),
    )


def open(key: bytes, *, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    """Verify and decrypt what :func:`seal` produced; raises :class:`AuthenticationError`."""
    return _open(
        _key(key),
        _nonce(nonce, NONCE_SIZE),
        as_bytes(sealed, "sealed"),
        as_bytes(aad, "aad"),
    )


def seal_random(key: bytes, plaintext: bytes, *, aad: bytes, nonce: bytes | None = None) -> bytes:
    """XChaCha20-Poly1305 under a fresh random nonce; returns ``nonce || ciphertext || tag``.

    The default choice for anything sealed under a long-lived key. ``nonce`` exists for
    known-answer tests only: production code never passes it.
    """
    key = _key(key)
    nonce = get_random_bytes(XNONCE_SIZE) if nonce is None else _nonce(nonce, XNONCE_SIZE)
    return nonce + _seal(key, nonce, as_bytes(plaintext, "plaintext"), as_bytes(aad, "aad"))


def open_random(key: bytes, sealed: bytes, *, aad: bytes) -> bytes:
    """Verify and decrypt what :func:`seal_random` produced; :class:`AuthenticationError`
    if it was altered, truncated, sealed under another key or with another AAD."""
    key = _key(key)
    sealed = as_bytes(sealed, "sealed")
    if len(sealed) < XNONCE_SIZE + TAG_SIZE:
        raise AuthenticationError("sealed data is too short")
    return _open(key, sealed[:XNONCE_SIZE], sealed[XNONCE_SIZE:], as_bytes(aad, "aad"))
