"""Shared fixtures for the crypto tests.

Full-cost scrypt (N=2**17, ~1 s) runs at most once per test session, through the
``full_cost_room_keys`` fixture; every other test passes ``n=2**10``.
"""

from __future__ import annotations

import unicodedata

import pytest

# Pinned by an independent computation (hashlib.scrypt, OpenSSL) with N=2**17, r=8, p=1, 32 bytes
# over the NFKC UTF-8 bytes of FULL_COST_PASSWORD and the salt FULL_COST_ROOM_ID.
FULL_COST_PASSWORD = unicodedata.normalize("NFD", "Grüße aus Köln, ｃａｆé")
FULL_COST_ROOM_ID = bytes.fromhex("5c0c4e7a1f9b2d3e8a6b4c0d1e2f3a4b")
FULL_COST_MASTER = bytes.fromhex("15b6c652c56a02f3de9921f66b2fe6e61e00a7adbc9bc684503cbe058f53a9a5")


@pytest.fixture(scope="session")
def full_cost_room_keys():
    """The one full-cost derivation of the suite: derive_room_keys with the default N."""
    from crypto.kdf import derive_room_keys

    return derive_room_keys(FULL_COST_PASSWORD, room_id=FULL_COST_ROOM_ID)
