"""The client's outbox and reconnect schedule (no I/O, no clocks: easy to test).

A message stays in the :class:`Outbox` from the moment the user writes it until the relay
confirms that it stored it: its ACK, or the message's echo in a BROADCAST, WELCOME or history
page (PROTOCOL.md 3.5). After a reconnect every unconfirmed message is sent again with the
*same* id, in the order written: the relay stores and forwards an id once, and receivers drop
an id they have seen, so each message is delivered exactly once.
"""

from __future__ import annotations

import random
from collections import OrderedDict

from net.proto._messages import PendingMessage

MAX_PENDING = 1000


class OutboxFull(ValueError):
    """Too many messages are waiting for a connection."""


class Outbox:
    """Messages written but not yet confirmed by the relay (ACK or echo), oldest first.

    Not thread-safe: the client guards it with its lock.
    """

    def __init__(self, *, capacity: int = MAX_PENDING) -> None:
        self._capacity = capacity
        self._pending: OrderedDict[bytes, PendingMessage] = OrderedDict()
        self._unsent: list[bytes] = []

    def add(self, message: PendingMessage) -> None:
        """Queue a new message; it goes out on the next flush."""
        if len(self._pending) >= self._capacity:
            raise OutboxFull(
                f"{len(self._pending)} messages are already waiting to be sent; "
                "wait for the connection to come back."
            )
        self._pending[message.message_id] = message
        self._unsent.append(message.message_id)

    def restore(self, messages: list[PendingMessage]) -> list[PendingMessage]:
        """Put messages kept from an earlier run (oldest first) *before* everything queued
        now: they were written first. Ids already here are skipped; returns those added.
        The capacity does not apply: nothing written may be dropped."""
        added = [m for m in messages if m.message_id not in self._pending]
        if not added:
            return []
        newer = list(self._pending.items())
        self._pending = OrderedDict((m.message_id, m) for m in added)
        self._pending.update(newer)
        self._unsent = [m.message_id for m in added] + self._unsent
        return added

    def take_unsent(self) -> list[PendingMessage]:
        """Everything not yet sent on the current connection, marked as sent."""
        taken = [self._pending[i] for i in self._unsent if i in self._pending]
        self._unsent.clear()
        return taken

    def requeue_all(self) -> None:
        """A new connection starts: everything unconfirmed must be sent again, in order."""
        self._unsent = list(self._pending)

    def confirm(self, message_id: bytes) -> bool:
        """The relay stored ``message_id`` (ACK or echo). True if it was ours and pending."""
        return self._pending.pop(message_id, None) is not None

    def discard(self, message_id: bytes) -> None:
        """Give up on a message (the room refuses it)."""
        self._pending.pop(message_id, None)

    def pending(self) -> tuple[PendingMessage, ...]:
        """Unconfirmed messages, oldest first."""
        return tuple(self._pending.values())

    def __len__(self) -> int:
        return len(self._pending)


def reconnect_delay(
    failures: int, *, rng: random.Random, base: float = 0.5, cap: float = 15.0
) -> float:
    """Seconds to wait before reconnect attempt number ``failures`` (1 = first retry).

    Exponential backoff with jitter (50–100% of the step), so that a room whose relay restarts
    is not hit by every member in the same instant.
    """
    step = min(cap, base * 2.0 ** min(max(failures, 1) - 1, 16))
    return step * rng.uniform(0.5, 1.0)
