"""Fixtures for the relay integration tests (room_keys and wrong_keys come from tests/net)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crypto.identity import Identity
from crypto.kdf import RoomKeys
from net.relay.roomfile import RoomSecret
from tests.net.relay.support import RelayFactory


@pytest.fixture
def relay_identity() -> Identity:
    """The room's relay identity: what members pin, and what must never be logged."""
    return Identity.generate()


@pytest.fixture
def secret(room_keys: RoomKeys, relay_identity: Identity) -> RoomSecret:
    return RoomSecret.from_room_keys(room_keys, relay_identity=relay_identity)


@pytest.fixture
def relays(secret: RoomSecret, room_keys: RoomKeys) -> Iterator[RelayFactory]:
    factory = RelayFactory(secret, room_keys)
    yield factory
    factory.close()
