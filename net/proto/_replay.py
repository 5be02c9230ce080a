"""A bounded set of recently seen message ids: the client's replay protection.

One instance lives as long as the client's session with a room and is handed to every
:class:`net.proto.ClientProtocol` the driver creates, so a message that arrives again after
a reconnect (in the welcome history, or replayed by a relay) is dropped.
"""

from __future__ import annotations

from collections import OrderedDict

from net.proto._errors import LocalProtocolError

DEFAULT_CAPACITY = 10_000


class RecentIds:
    """Remembers the last ``capacity`` ids added; the oldest are forgotten first.

    Not thread-safe: the client driver touches it only under its protocol lock.
    """

    __slots__ = ("_ids", "capacity")

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise LocalProtocolError("capacity must be at least 1")
        self.capacity = capacity
        self._ids: OrderedDict[bytes, None] = OrderedDict()

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, message_id: bytes) -> None:
        """Record ``message_id`` (refreshing it if present), evicting the oldest over capacity."""
        self._ids[bytes(message_id)] = None
        self._ids.move_to_end(bytes(message_id))
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
