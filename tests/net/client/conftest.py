"""Fixtures for the client library's delivery tests: a real relay on 127.0.0.1, clients that
are closed (and checked stopped) at teardown, and a proxy that loses what it is told to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.faultproxy import FaultProxy
from crypto.kdf import RoomKeys, derive_room_keys
from net.relay import RelayConfig, RelayThread
from net.relay.roomfile import RoomSecret
from tests.net.client_support import CHEAP, ClientFactory
from tests.net.helpers import PASSWORD


@pytest.fixture(scope="package")
def room_keys() -> RoomKeys:
    # A room id of these tests' own: another room's keys must not open this one.
    return derive_room_keys(PASSWORD, room_id=bytes(range(64, 80)), n=CHEAP)


@pytest.fixture
def secret(room_keys: RoomKeys) -> RoomSecret:
    return RoomSecret.from_room_keys(room_keys)


@pytest.fixture
def relay(secret: RoomSecret) -> Iterator[RelayThread]:
    thread = RelayThread(secret, RelayConfig(host="127.0.0.1", port=0))
    thread.port = thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def proxy(relay: RelayThread) -> Iterator[FaultProxy]:
    faults = FaultProxy(("127.0.0.1", relay.port))
    yield faults
    faults.close()


@pytest.fixture
def clients() -> Iterator[ClientFactory]:
    factory = ClientFactory()
    yield factory
    factory.close()
