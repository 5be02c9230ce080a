"""One room's state on the relay, without any I/O: members, history, pending broadcasts.

The asyncio driver (:mod:`net.relay`) owns the sockets; this module decides *what* they get:

* **members** by :func:`net.names.username_key`, so names are unique ignoring case;
* **pending items** (chat messages, joins, leaves) waiting for the next :meth:`Room.flush`,
  which seals everything pending into one broadcast (more only above the client's frame cap)
  with the room's random broadcast key, for the driver to write to every member;
* **history**: the last chat items, sealed end to end (the relay cannot read them), added when
  a broadcast is *flushed* — so a member who joins between a submission and its flush receives
  that message once, in the broadcast, never also in the WELCOME history.

The joiner's own JOINED item is flushed to the others *before* the joiner is added (see
:meth:`Room.join`): the WELCOME already lists everyone, the joiner included, and every
broadcast the joiner receives from then on is news to it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from crypto.transport import BroadcastSealer, new_broadcast_key
from net.proto._errors import LocalProtocolError
from net.proto._frames import MAX_MESSAGE_BYTES, MAX_RELAY_FRAME, Reason
from net.proto._messages import (
    BROADCAST_KEY_SIZE,
    BroadcastItem,
    ChatItem,
    JoinedItem,
    LeftItem,
    OutgoingMessage,
    WelcomeArgs,
)
from net.proto._names import username_key, validate_username
from net.proto._relay import encode_broadcast

DEFAULT_MAX_MEMBERS = 200
DEFAULT_HISTORY = 100

# Bytes a BROADCAST frame body spends besides its items: type, seq, item count, GCM tag.
_BROADCAST_OVERHEAD = 1 + 8 + 2 + 16
_MAX_ITEMS_PER_BROADCAST = 0xFFFF
# Bytes a WELCOME frame body spends besides the member names and the history items: type,
# member count, broadcast key, next seq, max message bytes, history count, GCM tag.
_WELCOME_OVERHEAD = 1 + 2 + BROADCAST_KEY_SIZE + 8 + 4 + 2 + 16

M = TypeVar("M")


class JoinRejected(Exception):
    """A JOIN the room cannot accept; send ``reject_join(code, text)`` and close.

    ``text`` is for the person joining (it names no one else and no internals).
    """

    def __init__(self, code: Reason, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


@dataclass(frozen=True, slots=True)
class _Member(Generic[M]):
    name: str
    handle: M


def item_size(item: BroadcastItem) -> int:
    """Encoded size of one broadcast item (what it adds to a BROADCAST or WELCOME)."""
    if isinstance(item, ChatItem):
        return (
            1
            + 1
            + len(item.sender.encode("utf-8"))
            + 16
            + 8
            + 1
            + len(item.content_type.encode("utf-8"))
            + 4
            + len(item.sealed)
        )
    if isinstance(item, JoinedItem):
        return 1 + 1 + len(item.name.encode("utf-8"))
    if isinstance(item, LeftItem):
        return 1 + 1 + len(item.name.encode("utf-8")) + 1
    raise LocalProtocolError(f"not a broadcast item: {item!r}")


class Room(Generic[M]):
    """The members, history and pending broadcasts of one room.

    ``M`` is whatever the driver uses to reach a member (its connection object); the room
    only stores it and hands it back through :meth:`handles`. Typical use on a JOIN::

        name = room.check_join(username)        # JoinRejected → reject_join(code, text)
        write_to(room.handles(), room.join(name, conn))   # the others learn of the joiner
        protocol.accept_join(room.welcome(name))

    and for chat: :meth:`submit`, then (once per loop iteration) :meth:`flush` and write the
    returned bytes to every handle.
    """

    def __init__(
        self,
        *,
        max_members: int = DEFAULT_MAX_MEMBERS,
        history_limit: int = DEFAULT_HISTORY,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        broadcast_key: bytes | None = None,
        frame_cap: int = MAX_RELAY_FRAME,
    ) -> None:
        if max_members < 1 or history_limit < 0 or max_message_bytes < 1:
            raise LocalProtocolError("max_members and max_message_bytes must be positive")
        self.max_members = max_members
        self.history_limit = history_limit
        self.max_message_bytes = max_message_bytes
        self._frame_cap = frame_cap
        self._broadcast_key = broadcast_key if broadcast_key is not None else new_broadcast_key()
        self._sealer = BroadcastSealer(self._broadcast_key)
        self._members: dict[str, _Member[M]] = {}
        self._names: tuple[str, ...] | None = None  # cache of `members`, None after a change
        self._name_bytes = 0  # sum of len(UTF-8 name) + 1 over the members: WELCOME sizing
        self._pending: list[BroadcastItem] = []
        self._history: deque[ChatItem] = deque()
        self._history_bytes = 0
        self.broadcasts_sealed = 0  # for stats and tests: seals are the relay's main CPU cost

    # -- members ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._members)

    @property
    def members(self) -> tuple[str, ...]:
        """Member names in the order they joined."""
        if self._names is None:
            self._names = tuple(member.name for member in self._members.values())
        return self._names

    def handles(self) -> list[M]:
        """The driver's handles of every member: who gets the next broadcast."""
        return [member.handle for member in self._members.values()]

    def check_join(self, username: str) -> str:
        """Validate a JOIN; return the name to use (NFC). Raises :class:`JoinRejected`."""
        try:
            name = validate_username(username)
        except (TypeError, ValueError) as exc:
            raise JoinRejected(Reason.NAME_INVALID, str(exc)) from None
        if username_key(name) in self._members:
            raise JoinRejected(
                Reason.NAME_TAKEN, f"Someone in this room is already called {name!r}."
            )
        if len(self._members) >= self.max_members:
            raise JoinRejected(Reason.ROOM_FULL, f"The room is full ({self.max_members} members).")
        return name

    def join(self, name: str, handle: M) -> bytes | None:
        """Add a member checked by :meth:`check_join`; return the broadcast for the others.

        Everything pending, and a JOINED item for ``name``, is sealed *now* and returned: write
        it to every handle except ``handle`` (easiest: before anything else, to the handles
        :meth:`handles` returned just before this call — the joiner is not among them). Then
        send the joiner :meth:`welcome`.
        """
        key = username_key(name)
        if key in self._members:
            raise LocalProtocolError(f"{name!r} is already a member")  # check_join was skipped
        self._pending.append(JoinedItem(name=name))
        data = self.flush()
        self._members[key] = _Member(name, handle)
        self._names = None
        self._name_bytes += 1 + len(name.encode("utf-8"))
        return data

    def leave(self, name: str, code: Reason, *, handle: M | None = None) -> bool:
        """Remove ``name`` and queue a LEFT item; False (nothing queued) if not a member.

        Pass the leaving connection's ``handle``: a name can be taken again by a reconnected
        member while the old connection is still closing, and that must not remove the new one.
        """
        key = username_key(name)
        member = self._members.get(key)
        if member is None or (handle is not None and member.handle is not handle):
            return False
        del self._members[key]
        self._names = None
        self._name_bytes -= 1 + len(member.name.encode("utf-8"))
        self._pending.append(LeftItem(name=member.name, code=code))
        return True

    def welcome(self, name: str) -> WelcomeArgs:
        """What ``RelayProtocol.accept_join`` sends the member ``name``.

        Call right after :meth:`join`. The history is the newest part of what is kept that
        fits the client's frame cap next to the member list.
        """
        members = self.members
        used = _WELCOME_OVERHEAD + 1 + len(name.encode("utf-8"))
        used += self._name_bytes
        return WelcomeArgs(
            name=name,
            members=members,
            broadcast_key=self._broadcast_key,
            next_seq=self._sealer.next_seq,
            history=tuple(self._newest_history(self._frame_cap - used)),
            max_message_bytes=self.max_message_bytes,
        )

    # -- broadcasts ------------------------------------------------------------------------

    @property
    def broadcast_key(self) -> bytes:
        """The room's random broadcast key (members get it in WELCOME)."""
        return self._broadcast_key

    @property
    def next_seq(self) -> int:
        """The sequence number of the next broadcast."""
        return self._sealer.next_seq

    @property
    def pending(self) -> bool:
        """True if :meth:`flush` has something to seal."""
        return bool(self._pending)

    def submit(self, name: str, messages: Iterable[OutgoingMessage]) -> list[ChatItem]:
        """Attest ``messages`` as sent by member ``name`` and queue them; returns the items."""
        items = [ChatItem.from_outgoing(message, sender=name) for message in messages]
        self._pending += items
        return items

    def queue(self, item: BroadcastItem) -> None:
        """Queue one item for the next broadcast."""
        self._pending.append(item)

    def flush(self) -> bytes | None:
        """Seal everything pending; return the frame(s) for every member, or None if idle.

        One BROADCAST frame holds everything unless that would pass the client's frame cap;
        then several frames follow each other in the returned bytes. Chat items enter the
        history here, in broadcast order.
        """
        if not self._pending:
            return None
        items, self._pending = self._pending, []
        frames = []
        for group in self._split(items):
            frames.append(encode_broadcast(self._sealer, group))
            self.broadcasts_sealed += 1
            self._remember(item for item in group if isinstance(item, ChatItem))
        return b"".join(frames)

    def _split(self, items: Sequence[BroadcastItem]) -> list[list[BroadcastItem]]:
        budget = self._frame_cap - _BROADCAST_OVERHEAD
        groups: list[list[BroadcastItem]] = [[]]
        size = 0
        for item in items:
            needed = item_size(item)
            group = groups[-1]
            if group and (size + needed > budget or len(group) >= _MAX_ITEMS_PER_BROADCAST):
                groups.append([])
                group, size = groups[-1], 0
            group.append(item)
            size += needed
        return groups

    # -- history ---------------------------------------------------------------------------

    @property
    def history(self) -> tuple[ChatItem, ...]:
        """The kept chat items, oldest first (sealed: the relay cannot read them)."""
        return tuple(self._history)

    def _remember(self, items: Iterable[ChatItem]) -> None:
        if self.history_limit == 0:
            return
        for item in items:
            self._history.append(item)
            self._history_bytes += item_size(item)
        # Keep at most history_limit items, and no more bytes than one welcome could carry:
        # older items could never be sent, so holding them would only cost memory.
        while self._history and (
            len(self._history) > self.history_limit or self._history_bytes > self._frame_cap
        ):
            self._history_bytes -= item_size(self._history.popleft())

    def _newest_history(self, budget: int) -> list[ChatItem]:
        chosen: list[ChatItem] = []
        for item in reversed(self._history):
            budget -= item_size(item)
            if budget < 0:
                break
            chosen.append(item)
        chosen.reverse()
        return chosen
