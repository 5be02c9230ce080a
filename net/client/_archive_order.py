"""The order of a room's messages in the archive, and reading its rows in that order.

Private to :mod:`net.client.archive`, whose module docstring states the rule for callers. Here
it is a sort key per message, :data:`SortKey`, compared as a tuple:

* a stored message (one with the relay's position): ``(position, 0, 0, row id)``;
* a message without a position: ``(anchor, 1, timestamp_ms, row id)``, where ``anchor`` is the
  highest position among the room's stored messages whose timestamp is not later than its own
  (0 if there is none): it sits right after that message, and among others anchored there by
  its timestamp (:func:`pending_keys`).

So stored messages keep the relay's order whatever their senders' clocks say, and one not yet
stored sits where its timestamp puts it among them. Anchors are worked out when asked for, so a
message stored later re-anchors the waiting ones; when a message gets its position it moves to
it. With no positions at all the order is by timestamp, then row id.

SQLite reads the stored messages in this order from the ``(room, position)`` index (row ids
break ties, as in every index); the few messages without a position are read apart, anchored
here, and merged in (:func:`newest_first`).
"""

from __future__ import annotations

import heapq
import operator
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from net.client._archive_rows import U64, valid_position

#: (position or anchor, 1 if the message has no position, its timestamp if so, row id).
SortKey = tuple[int, int, int, int]
Row = tuple[Any, ...]  # as SELECT_ROWS reads it

SELECT_ROWS = "SELECT id, room, message_id, position, timestamp_ms, own, body FROM messages"
ROWS_PER_QUERY = 500  # ids bound in one IN (...): well under SQLite's limit of variables
_MAX_ROW_ID = 2**63 - 1


def stored_key(position: int, row_id: int) -> SortKey:
    """The sort key of a message the relay stored at ``position``."""
    return (position, 0, 0, row_id)


def pending_keys(
    pending: Iterable[tuple[int, int]], stored_newest_first: Iterable[tuple[int, int]]
) -> list[SortKey]:
    """The sort keys of messages without a position, newest first.

    ``pending`` holds their (timestamp_ms, row id); ``stored_newest_first`` the (position,
    timestamp_ms) of the room's stored messages by position, highest first. It is read only as
    far as the oldest pending message needs: for messages waiting for their echo, a few rows.
    """
    stored = iter(stored_newest_first)
    current = next(stored, None)
    keys: list[SortKey] = []
    # Newest first, so the anchor only moves down and the stored ones are read once.
    for timestamp, row_id in sorted(pending, reverse=True):
        while current is not None and current[1] > timestamp:
            current = next(stored, None)
        keys.append((0 if current is None else current[0], 1, timestamp, row_id))
    keys.sort(reverse=True)
    return keys


def marks(count: int) -> str:
    """``?, ?, …``: ``count`` placeholders for ``IN (…)``."""
    return ", ".join("?" * count)


def room_pending_keys(db: sqlite3.Connection, room_id: bytes) -> list[SortKey]:
    """The sort keys of the room's messages without a position, newest first."""
    pending = db.execute(
        "SELECT timestamp_ms, id FROM messages"
        " WHERE room = ? AND position IS NULL AND typeof(timestamp_ms) = 'integer'",
        (room_id,),
    ).fetchall()
    if not pending:
        return []
    stored = db.execute(
        "SELECT position, timestamp_ms FROM messages WHERE room = ? AND position IS NOT NULL"
        " AND typeof(position) = 'blob' AND length(position) = 8"
        " AND typeof(timestamp_ms) = 'integer' ORDER BY position DESC, id DESC",
        (room_id,),
    )
    try:
        return pending_keys(pending, ((U64.unpack(at)[0], time) for at, time in stored))
    finally:
        stored.close()  # read only as far as the anchors needed


def key_of(
    db: sqlite3.Connection, room_id: bytes, message_id: bytes, pending: list[SortKey]
) -> SortKey | None:
    """The sort key of a stored message (``pending``: the room's), or None if there is no such
    message or it is damaged."""
    row = db.execute(
        "SELECT id, position FROM messages WHERE room = ? AND message_id = ?",
        (room_id, message_id),
    ).fetchone()
    if row is None:
        return None
    row_id, position = row
    if position is None:
        return next((key for key in pending if key[3] == row_id), None)
    stored_at = valid_position(position)
    return None if stored_at is None else stored_key(stored_at, row_id)


def newest_first(
    db: sqlite3.Connection,
    room_id: bytes,
    *,
    below: SortKey | None,
    pending: list[SortKey],
    batch: int,
    on_damaged: Callable[[int], None],
) -> Iterator[Row]:
    """The room's rows below ``below`` (all if None), newest first, read ``batch`` at a time as
    far as the caller reads. ``pending`` are the room's :func:`room_pending_keys`. A row whose
    position is not one is passed to ``on_damaged`` (its row id) and left out."""
    merged = heapq.merge(
        _stored_rows(db, room_id, below, batch, on_damaged),
        _pending_rows(db, [key for key in pending if below is None or key < below]),
        key=operator.itemgetter(0),
        reverse=True,
    )
    return (row for _, row in merged)


def _stored_rows(
    db: sqlite3.Connection,
    room_id: bytes,
    below: SortKey | None,
    batch: int,
    on_damaged: Callable[[int], None],
) -> Iterator[tuple[SortKey, Row]]:
    after: tuple[object, int] | None = None
    if below is not None:
        # Below a message without a position: every stored one at or below its anchor.
        after = (U64.pack(below[0]), _MAX_ROW_ID if below[1] else below[3])
    while True:
        if after is None:
            rows = db.execute(
                f"{SELECT_ROWS} WHERE room = ? AND position IS NOT NULL"
                " ORDER BY position DESC, id DESC LIMIT ?",
                (room_id, batch),
            ).fetchall()
        else:
            # With the last row's raw value, whatever its type: SQLite compares as it sorts.
            rows = db.execute(
                f"{SELECT_ROWS} WHERE room = ? AND position <= ? AND (position < ? OR id < ?)"
                " ORDER BY position DESC, id DESC LIMIT ?",
                (room_id, after[0], after[0], after[1], batch),
            ).fetchall()
        for row in rows:
            position = valid_position(row[3])
            if position is None:
                on_damaged(row[0])
            else:
                yield stored_key(position, row[0]), row
        if len(rows) < batch:
            return
        after = (rows[-1][3], rows[-1][0])


def _pending_rows(db: sqlite3.Connection, keys: list[SortKey]) -> Iterator[tuple[SortKey, Row]]:
    for start in range(0, len(keys), ROWS_PER_QUERY):
        chunk = keys[start : start + ROWS_PER_QUERY]
        rows = db.execute(
            f"{SELECT_ROWS} WHERE id IN ({marks(len(chunk))}) AND position IS NULL",
            [key[3] for key in chunk],
        )
        by_id = {row[0]: row for row in rows}
        for key in chunk:
            if key[3] in by_id:  # unless another connection forgot the room meanwhile
                yield key, by_id[key[3]]
