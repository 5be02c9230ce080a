"""The relay: an asyncio server that passes sealed messages between the members of a room.

Public face (what the app, the command line and tests use)::

    from net.relay import RelayThread, RoomSecret, RelayConfig

* :class:`RelayThread` — a relay on its own event loop in a background thread ("Host a room");
* :class:`Relay` — the relay itself, for use inside a running event loop (``main.py relay``);
* :class:`RelayConfig`, :class:`RelayStats` — its settings and a snapshot of its counts;
* :class:`RoomSecret` — what a relay holds for its room (room id and verifier, never the
  password; for a room with an owner, its genesis and actions), derived here or loaded from a
  room file;
* :func:`create_owned_room` — a new room owned by an identity: the member's keys and the
  relay's :class:`RoomSecret` ("Host a room": the host owns the room it hosts).

Behind it: ``server`` (the Relay), ``member`` (one connection's driver), ``admission`` (who may
log in, and when: sans-I/O), ``config``, ``thread``, ``roomfile`` and ``cli`` (``main.py relay``
and ``main.py room``).
"""

from __future__ import annotations

from net.relay.config import RelayConfig
from net.relay.roomfile import RoomSecret, create_owned_room
from net.relay.server import Relay, RelayStats
from net.relay.thread import RelayThread

__all__ = [
    "Relay",
    "RelayConfig",
    "RelayStats",
    "RelayThread",
    "RoomSecret",
    "create_owned_room",
]
