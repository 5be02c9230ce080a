"""Our own messages' state in the conversation, from Send until the relay stores them.

A message we sent shows at once, greyed (the ``pending`` tag), with a note after its text
("sending…", "waiting: sent once the connection is back", Not sent in the warning colour…): the
message list (``gui/messages.py``) draws it so, with a ``msg<id>`` tag over the message and a
``note<id>`` tag over its note. These functions change that state in the list's ``tk.Text``:
:func:`set_pending_note` says something else, :func:`mark_delivered` makes it an ordinary
message once stored. :func:`note_end` is where the not-sent message's buttons go
(``gui/unsent.py``), :func:`pending_id_at` which such message is at a spot (its menu).

What each state means and when it changes: ``gui/own_messages.py``. Only the Tk thread calls
these.
"""

from __future__ import annotations

import tkinter as tk


def mark_delivered(text: tk.Text, message_id: bytes) -> bool:
    """Turn a pending own message into a delivered one; False if it is not pending here."""
    key = message_id.hex()
    ranges = text.tag_ranges(f"msg{key}")
    if not ranges:
        return False
    text.configure(state="normal")
    try:
        text.tag_remove("pending", ranges[0], ranges[-1])
        note = text.tag_ranges(f"note{key}")
        if note:
            text.delete(note[0], note[1])
        text.tag_delete(f"msg{key}", f"note{key}")
    finally:
        text.configure(state="disabled")
    return True


def set_pending_note(text: tk.Text, message_id: bytes, note: str, *, tag: str = "") -> None:
    """Change the note of a still-pending message (e.g. from "sending…" to "waiting…");
    ``tag`` gives it another look ("notsent": the warning colour, "pendnote": muted)."""
    key = message_id.hex()
    ranges = text.tag_ranges(f"note{key}")
    if not ranges:
        return
    tags = text.tag_names(ranges[0])
    if tag:
        tags = (*(t for t in tags if t not in ("pendnote", "notsent")), tag)
    text.configure(state="normal")
    try:
        text.delete(ranges[0], ranges[1])
        text.insert(ranges[0], f"  {note}", tags)
    finally:
        text.configure(state="disabled")


def note_end(text: tk.Text, message_id: bytes) -> str | None:
    """Where the pending note of ``message_id`` ends (to put buttons after it), or None."""
    ranges = text.tag_ranges(f"note{message_id.hex()}")
    return str(ranges[1]) if ranges else None


def pending_id_at(text: tk.Text, index: str) -> bytes | None:
    """The id of the pending (or not sent) own message under ``index``, or None."""
    for tag in text.tag_names(index):
        if tag.startswith("msg") and len(tag) == 3 + 32:
            try:
                return bytes.fromhex(tag[3:])
            except ValueError:
                return None
    return None
