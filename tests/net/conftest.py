"""Shared fixtures for the protocol core tests: cheap room keys and deterministic randomness.

scrypt runs with n=2**10 here (a test-only parameter; the protocol fixes 2**17), once per session.
"""

from __future__ import annotations

import pytest

from crypto.kdf import RoomKeys, derive_room_keys
from crypto.spake2 import Spake2Secret
from tests.net.helpers import PASSWORD, ROOM_ID


@pytest.fixture(scope="session")
def room_keys() -> RoomKeys:
    return derive_room_keys(PASSWORD, room_id=ROOM_ID, n=2**10)


@pytest.fixture(scope="session")
def wrong_keys() -> RoomKeys:
    return derive_room_keys("not the room password", room_id=ROOM_ID, n=2**10)


@pytest.fixture(scope="session")
def relay_secret(room_keys: RoomKeys) -> Spake2Secret:
    return Spake2Secret.from_access_key(room_keys.access)
