"""The archive's in-memory search index: a room's opened messages, in the room's order.

Private to :mod:`net.client.archive`, which reads the file and hands the opened rows here: one
:class:`RoomIndex` per searched room holds each message with case-folded copies of its text and
sender (:func:`fold`), the stored ones by position and the few without one apart, anchored
among them when searched (``net/client/_archive_order.py`` says how). Nothing here touches the
file.
"""

from __future__ import annotations

import bisect
import itertools
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from net.client._archive_order import pending_keys
from net.client._archive_rows import StoredMessage


def fold(text: str) -> str:
    """The form search compares: NFKC, case-folded, NFKC again (folding can denormalise)."""
    if text.isascii():
        return text.lower()  # the same result for ASCII, and most text is ASCII
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


@dataclass(slots=True)
class _Entry:
    row_id: int
    message: StoredMessage
    sender: str  # folded
    text: str  # folded


def _by_position(entry: _Entry) -> tuple[int, int]:
    assert entry.message.position is not None  # only stored messages are kept in order
    return (entry.message.position, entry.row_id)


@dataclass(slots=True)
class RoomIndex:
    """One room's opened messages, for search. Fill it with :meth:`extend`; the archive keeps
    it up to date with :meth:`extend` and :meth:`fill`, and reads it with :meth:`matches`."""

    #: The newest row id the archive read into it from the file, and that row's message id:
    #: what to read on from, and a way to tell that the room was forgotten meanwhile.
    read_up_to: int = 0
    read_up_to_message: bytes = b""
    _stored: list[_Entry] = field(default_factory=list)  # by (position, row id)
    _pending: dict[int, _Entry] = field(default_factory=dict)  # no position yet, by row id
    _by_id: dict[bytes, _Entry] = field(default_factory=dict)
    _folded_senders: dict[str, str] = field(default_factory=dict)

    def __contains__(self, message_id: bytes) -> bool:
        return message_id in self._by_id

    @property
    def pending_rows(self) -> list[int]:
        """The row ids of the messages it holds without a position."""
        return list(self._pending)

    def extend(self, rows: Iterable[tuple[int, StoredMessage]]) -> int:
        """Take (row id, message) pairs not held yet; returns how many it took."""
        added = 0
        moved = False
        for row_id, message in rows:
            if message.message_id in self._by_id:
                continue
            sender = self._folded_senders.get(message.sender)
            if sender is None:  # a room has few senders: fold (and keep) each name once
                sender = self._folded_senders.setdefault(message.sender, fold(message.sender))
            entry = _Entry(row_id, message, sender, fold(message.text))
            self._by_id[message.message_id] = entry
            added += 1
            if message.position is None:
                self._pending[row_id] = entry
                continue
            if self._stored and _by_position(entry) < _by_position(self._stored[-1]):
                moved = True
            self._stored.append(entry)  # the usual case: the newest message
        if moved:
            # Two sorted runs (what was held, what came) mostly: Timsort merges them in a pass.
            self._stored.sort(key=_by_position)
        return added

    def fill(self, message_id: bytes, position: int) -> None:
        """The message got its position (in this connection or another): move it there."""
        entry = self._by_id.get(message_id)
        if entry is None or entry.message.position is not None:
            return
        del self._pending[entry.row_id]
        entry.message = replace(entry.message, position=position)
        bisect.insort(self._stored, entry, key=_by_position)

    def matches(self, query: str, limit: int) -> Iterator[StoredMessage]:
        """Up to ``limit`` messages whose folded text or sender contains ``query`` (folded),
        newest first in the room's order."""
        return itertools.islice(
            (
                entry.message
                for entry in self._newest_first()
                if query in entry.text or query in entry.sender
            ),
            limit,
        )

    def _newest_first(self) -> Iterator[_Entry]:
        pending = self._pending_newest_first()
        if not pending:  # the usual case, and the one a search of 100,000 messages runs
            yield from reversed(self._stored)
            return
        waiting = 0
        for entry in reversed(self._stored):
            # The messages anchored at or above this one come before it.
            while waiting < len(pending) and pending[waiting][0] >= _by_position(entry)[0]:
                yield pending[waiting][1]
                waiting += 1
            yield entry
        for _, entry in pending[waiting:]:
            yield entry

    def _pending_newest_first(self) -> list[tuple[int, _Entry]]:
        """(anchor, entry) of the messages without a position, newest first."""
        if not self._pending:
            return []
        keys = pending_keys(
            ((entry.message.timestamp_ms, row_id) for row_id, entry in self._pending.items()),
            (
                (_by_position(entry)[0], entry.message.timestamp_ms)
                for entry in reversed(self._stored)
            ),
        )
        return [(key[0], self._pending[key[3]]) for key in keys]
