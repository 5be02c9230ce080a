"""Independent reference implementations for the crypto tests (stdlib only).

They deliberately avoid pycryptodome and crypto/, so a bug shared by both cannot hide.
"""

from __future__ import annotations

import hashlib
import hmac


def hkdf_sha256(ikm: bytes, *, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF with SHA-256, written out from the RFC's two steps."""
    prk = hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def scrypt(password: bytes, *, salt: bytes, n: int, r: int = 8, p: int = 1, length: int = 32):
    """OpenSSL's scrypt through hashlib."""
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=length, maxmem=2**28)


def flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    """``data`` with the byte at ``index`` XORed with ``mask`` (non-zero)."""
    assert mask
    out = bytearray(data)
    out[index] ^= mask
    return bytes(out)
