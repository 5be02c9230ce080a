"""Placeholders in the conversation for messages this device cannot open yet.

A message whose key has not come yet is shown as a placeholder, muted and indented. Earlier
messages (from history) share one placeholder line with a count; a new one gets a line of
its own that names the sender. When the message arrives after all, it takes its placeholder's
place (:meth:`LockedMessages.where`, then :meth:`LockedMessages.unlocked`); one that turns out
forged or unreadable only loses its placeholder (:meth:`LockedMessages.drop`). In a room whose
new members see only what is sent after they join, withheld earlier messages have a counted
line of their own that says their keys will not come (:data:`WITHHELD_TEXT`).

The message list (``gui/messages.py``) owns one :class:`LockedMessages` and decides where a
placeholder goes (its ``add_locked``); only the Tk thread calls it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gui.message_look import add_pieces
from gui.safetext import name_pieces

if TYPE_CHECKING:
    from gui.messages import MessageList

_LOCKED_HISTORY = "lockedhistory"  # the tag of the one line counting locked earlier messages
# ... and of the one counting earlier messages the room does not share with new members
_WITHHELD_HISTORY = "withheldhistory"
#: Why earlier messages stay locked in a room whose new members see only what is sent after.
WITHHELD_TEXT = "messages from before you joined are not shared with new members in this room"


class LockedMessages:
    """The placeholders in ``messages.text``, by message id."""

    def __init__(self, messages: MessageList) -> None:
        self._messages = messages
        self._locked: dict[bytes, str] = {}  # message id -> the tag of its placeholder line

    def __contains__(self, message_id: bytes) -> bool:
        return message_id in self._locked

    def __len__(self) -> int:
        return len(self._locked)

    def add_earlier(self, message_id: bytes, *, withheld: bool) -> None:
        """An earlier message (from history) counted on the one line of its kind."""
        tag = _WITHHELD_HISTORY if withheld else _LOCKED_HISTORY
        self._locked[message_id] = tag
        self._show_locked_count(tag)

    def placeholder(self, sender: str, message_id: bytes) -> list[str | tuple[str, ...]]:
        """A new message's line of its own, as ``text, tags…`` for the list's insert."""
        tag = f"lock{message_id.hex()}"
        self._locked[message_id] = tag
        tags = ("locked", "msgstart", tag)
        chunks: list[str | tuple[str, ...]] = ["A message from ", tags]
        add_pieces(chunks, name_pieces(sender), tags)
        chunks += [
            " that this device cannot read yet: it appears here when its key arrives.\n",
            tags,
        ]
        return chunks

    def drop(self, message_id: bytes) -> None:
        """A locked message turned out forged or unreadable: its placeholder goes (the
        conversation says why elsewhere)."""
        if message_id in self._locked:
            self.unlocked(message_id)

    def _show_locked_count(self, tag: str) -> None:
        text = self._messages.text
        count = sum(1 for each in self._locked.values() if each == tag)
        ranges = text.tag_ranges(tag)
        text.configure(state="normal")
        try:
            at = "end-1c"
            if ranges:
                at = str(ranges[0])
                text.delete(ranges[0], ranges[1])
            if count:
                what = "1 earlier message" if count == 1 else f"{count} earlier messages"
                why = "readable once a member who was here comes online"
                if tag == _WITHHELD_HISTORY:
                    why = WITHHELD_TEXT
                text.insert(at, f"{what}: {why}.\n", ("locked", "msgstart", tag))
        finally:
            text.configure(state="disabled")

    def where(self, message_id: bytes) -> str | None:
        """Where the message, arrived after all, goes: its placeholder (None: it has none)."""
        tag = self._locked.get(message_id)
        if tag is None:
            return None
        ranges = self._messages.text.tag_ranges(tag)
        return str(ranges[0]) if ranges else "end-1c"

    def unlocked(self, message_id: bytes) -> None:
        """Call once the message is shown in its place: its placeholder goes (an earlier
        message's count goes down by one)."""
        text = self._messages.text
        tag = self._locked.pop(message_id)
        if tag in (_LOCKED_HISTORY, _WITHHELD_HISTORY):
            self._show_locked_count(tag)
            return
        ranges = text.tag_ranges(tag)
        if ranges:
            text.configure(state="normal")
            text.delete(ranges[0], ranges[1])
            text.configure(state="disabled")
        text.tag_delete(tag)
