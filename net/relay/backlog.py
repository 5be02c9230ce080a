"""What a member over its message rate sent that the relay has not served yet, in order.

A :class:`~net.relay.member.MemberConnection` whose member goes over its rate keeps a
:class:`Backlog` until it has caught up: every event the core makes of what it reads next
waits here, in the order sent, and is served as the rate allows (the CHAT frame that went over
it waits as :class:`Envelopes`, the part the bucket did not cover). The member is still read
while the backlog is under :data:`BOUND`, so that its GOODBYE or EOF is seen at once: it then
leaves, and what waited is dropped unserved and unacknowledged. Past the bound the connection
stops reading (TCP backpressure).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from net import proto

#: Bytes a member may have waiting before its socket stops being read: enough that a GOODBYE
#: or EOF behind a burst of chat (300 short messages, one per frame) is read, and the member
#: leaves, at once. One read (asyncio reads up to 256 KiB) may pass it before reading pauses.
BOUND = 128 * 1024
#: What an entry costs beside its payload (the objects that hold it), counted toward the
#: bound so that a flood of tiny frames is bounded too.
_ENTRY_COST = 160


class Envelopes:
    """The messages of a CHAT frame that wait for the member's rate: one copy of them (the
    core's views into its receive buffer must not outlive the read), made once however many
    turns they take, served from the oldest on."""

    __slots__ = ("_data", "_ends", "_next", "size")

    def __init__(self, envelopes: Sequence[memoryview]) -> None:
        self._data = b"".join(envelopes)
        self._ends: list[int] = []
        end = 0
        for envelope in envelopes:
            end += len(envelope)
            self._ends.append(end)
        self._next = 0  # the first envelope not served yet
        self.size = end  # bytes not served yet

    def take(self, count: int) -> list[memoryview]:
        """The next ``count`` envelopes (views into the copy), now served."""
        view, ends, first = memoryview(self._data), self._ends, self._next
        start = ends[first - 1] if first else 0
        taken = []
        for end in ends[first : first + count]:
            taken.append(view[start:end])
            start = end
        self._next = first + len(taken)
        self.size = len(self._data) - start
        return taken

    def __len__(self) -> int:
        """How many envelopes still wait."""
        return len(self._ends) - self._next


#: A waiting entry: an event as the core made it, or a CHAT frame's messages.
Entry = proto.Event | Envelopes


class Backlog:
    """Entries waiting for the member's rate, oldest first, and what they hold in bytes."""

    __slots__ = ("_entries", "size")

    def __init__(self) -> None:
        self._entries: deque[Entry] = deque()
        self.size = 0

    def append(self, entry: Entry) -> None:
        """Queue ``entry`` behind what waits; a CHAT frame's messages are copied out of the
        receive buffer here (the core reuses it)."""
        if isinstance(entry, proto.MessagesSubmitted):
            entry = Envelopes(entry.envelopes)
        self._entries.append(entry)
        self.size += _size(entry)

    def popleft(self) -> Entry:
        """The oldest entry, to serve now (:meth:`appendleft` what is left of it)."""
        entry = self._entries.popleft()
        self.size -= _size(entry)
        return entry

    def appendleft(self, entry: Entry) -> None:
        """Put back what could not be served yet, ahead of everything else."""
        self._entries.appendleft(entry)
        self.size += _size(entry)

    def clear(self) -> None:
        """Drop everything: the member left, and none of it is served or acknowledged."""
        self._entries.clear()
        self.size = 0

    @property
    def full(self) -> bool:
        """True while reading the member should pause (see :data:`BOUND`)."""
        return self.size > BOUND

    def __len__(self) -> int:
        return len(self._entries)


def _size(entry: Entry) -> int:
    """What an entry holds, roughly, in bytes."""
    match entry:
        case Envelopes(size=size):
            return _ENTRY_COST + size
        case proto.SharesSubmitted(shares=pairs) | proto.SecretsSubmitted(secrets=pairs):
            return _ENTRY_COST + sum(len(key) + len(blob) for key, blob in pairs)
        case proto.ActionSubmitted(action=action):
            return _ENTRY_COST + len(action)
        case proto.KeysWanted(payload=payload):
            return _ENTRY_COST + len(payload)
        case proto.FileChunkSubmitted(sealed=sealed):
            return _ENTRY_COST + len(sealed)
        case _:
            return _ENTRY_COST
