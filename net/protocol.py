"""The sans-I/O protocol core of SocketChat v1, in one import.

Drivers (``net/relay.py``, ``net/client.py``) and tests import from here::

    from net.protocol import ClientProtocol, RelayProtocol, encode_broadcast

No sockets, threads or clocks live in the core. A driver feeds received bytes in
(``receive_data`` / ``receive_eof``), writes ``data_to_send()`` out, acts on
``events_received()`` and closes when ``close_expected()``. The pieces:

* :mod:`net.frames` — framing, caps, frame types, reason codes;
* :mod:`net.messages` — payload encodings;
* :mod:`net.events` — what the core reports;
* :mod:`net.client_protocol` / :mod:`net.relay_protocol` — the two state machines.
"""

from __future__ import annotations

from net.client_protocol import ClientProtocol, ClientState
from net.errors import LocalProtocolError
from net.frames import (
    MAX_CLIENT_FRAME,
    MAX_HANDSHAKE_FRAME,
    MAX_RELAY_FRAME,
    PROTOCOL_VERSION,
    FrameType,
    Reason,
)
from net.messages import ChatItem, JoinedItem, LeftItem, OutgoingMessage, PendingMessage
from net.names import username_key, validate_username
from net.relay_protocol import RelayProtocol, RelayState, encode_broadcast
from net.replay import RecentIds

__all__ = [
    "MAX_CLIENT_FRAME",
    "MAX_HANDSHAKE_FRAME",
    "MAX_RELAY_FRAME",
    "PROTOCOL_VERSION",
    "ChatItem",
    "ClientProtocol",
    "ClientState",
    "FrameType",
    "JoinedItem",
    "LeftItem",
    "LocalProtocolError",
    "OutgoingMessage",
    "PendingMessage",
    "Reason",
    "RecentIds",
    "RelayProtocol",
    "RelayState",
    "encode_broadcast",
    "username_key",
    "validate_username",
]
