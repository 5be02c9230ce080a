"""Where a room keeps its stored messages: the interface, and the in-memory store.

Every chat item the relay broadcasts is first *stored* and takes the next **position** (1, 2,
…, per room, never reused; PROTOCOL.md section 3.5). The room appends a flush's chat items
before sealing them, so a message is in the history before anyone (its sender included) can
see it: the sender's ACK and its echo both mean "the room has it".

:class:`MemoryHistory` keeps the newest items in memory (a hosted room, tests, and the relay
when no history file is configured); ``net.relay.history`` keeps them in SQLite. Both are plain
objects with no I/O of their own as far as the protocol core knows: the SQLite store does its
I/O inside :meth:`HistoryStore.append`, called from the relay's event loop.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Protocol

from net.proto._messages import MESSAGE_ID_SIZE


class HistoryStore(Protocol):
    """What :class:`net.proto.Room` needs from a message store."""

    @property
    def next_position(self) -> int:
        """The position the next appended item takes (≥ 1)."""
        ...

    def append(self, items: Sequence[tuple[bytes, bytes]]) -> None:
        """Store ``(message_id, encoded CHAT item)`` pairs at the next positions, in order.
        When this returns they are as durable as the store promises (the relay ACKs them)."""
        ...

    def contains(self, message_id: bytes) -> bool:
        """True if a message with this id is stored (a resend after a lost ACK)."""
        ...

    def page(
        self, *, after: int, before: int, limit: int, max_bytes: int
    ) -> tuple[int, list[bytes]]:
        """The newest stored items with ``after < position < before``: at most ``limit`` of
        them and ``max_bytes`` in all, consecutive, oldest first, with the first one's
        position (``before`` clipped to :attr:`next_position` if there are none)."""
        ...


class MemoryHistory:
    """The newest ``limit`` items in memory, and no more bytes than ``max_bytes``."""

    def __init__(self, limit: int, *, max_bytes: int, next_position: int = 1) -> None:
        if limit < 0 or next_position < 1:
            raise ValueError("limit ≥ 0 and positions start at 1")
        self.limit = limit
        self._max_bytes = max_bytes
        self._next = next_position
        self._items: deque[tuple[bytes, bytes]] = deque()  # (message_id, item), oldest first
        self._ids: set[bytes] = set()
        self._bytes = 0

    @property
    def next_position(self) -> int:
        return self._next

    def __len__(self) -> int:
        return len(self._items)

    @property
    def items(self) -> tuple[bytes, ...]:
        """The kept items (encoded), oldest first."""
        return tuple(item for _, item in self._items)

    def append(self, items: Sequence[tuple[bytes, bytes]]) -> None:
        self._next += len(items)
        limit = self.limit
        if limit == 0:
            return
        # Only the newest `limit` can stay: a burst of hundreds costs `limit` steps.
        for message_id, item in items[-limit:]:
            self._items.append((message_id, item))
            self._ids.add(message_id)
            self._bytes += len(item)
        while self._items and (len(self._items) > limit or self._bytes > self._max_bytes):
            message_id, item = self._items.popleft()
            self._ids.discard(message_id)
            self._bytes -= len(item)

    def contains(self, message_id: bytes) -> bool:
        return bytes(message_id[:MESSAGE_ID_SIZE]) in self._ids

    def page(
        self, *, after: int, before: int, limit: int, max_bytes: int
    ) -> tuple[int, list[bytes]]:
        before = min(before, self._next)
        first_kept = self._next - len(self._items)
        chosen: list[bytes] = []
        position = before - 1
        index = position - first_kept  # index into _items of position
        while position > after and index >= 0 and len(chosen) < limit:
            item = self._items[index][1]
            max_bytes -= len(item)
            if max_bytes < 0:
                break
            chosen.append(item)
            position -= 1
            index -= 1
        chosen.reverse()
        return position + 1, chosen
