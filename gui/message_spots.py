"""Which message is where in the conversation's text, and what is there.

Each message shown with an id has a mark ``id<hex>`` where it starts (:func:`mark_message`), and
every message, notice or placeholder line starts at a ``msgstart`` tag. From these a spot (an
index of the list's ``tk.Text``: "@x,y", "insert"…) leads back to its message's id
(:func:`message_id_at`) and its body as shown (:func:`message_at`); a search result is lit up
(:func:`light_up`); a file's card takes the place of its message's text
(:func:`embed_in_message`); and the list is cut at the start of a message, never in the middle
of one, when it grows past its line limit (:func:`trim`).

The message list (``gui/messages.py``) calls these on the Tk thread.
"""

from __future__ import annotations

import tkinter as tk

from gui.conversation_menu import message_range, message_start

_NOT_THE_BODY = frozenset({"pendnote", "notsent", "quote"})  # in a body's lines, not its text


def mark_message(text: tk.Text, message_id: bytes, start: str) -> None:
    """Mark where the message ``message_id`` starts (at ``start``)."""
    # A mark where the message starts, so that a search result can show it: marks move
    # with the text and cost little (the trim unsets those it cuts away).
    mark = f"id{message_id.hex()}"
    text.mark_set(mark, start)
    text.mark_gravity(mark, "left")


def message_id_at(text: tk.Text, index: str) -> bytes | None:
    """The id of the message under ``index`` (None: a notice, a divider, a placeholder,
    or a message shown without an id)."""
    tags = text.tag_names(index)
    if "body" not in tags and "header" not in tags:
        return None
    start = message_start(text, index)
    for _key, mark, _where in text.dump(start, f"{start} + 1 char", mark=True):
        if mark.startswith("id") and len(mark) == 2 + 32:
            return bytes.fromhex(mark[2:])
    return None


def message_at(text: tk.Text, index: str) -> str | None:
    """The body of the message under ``index`` as shown (pending notes left out), or None
    for a header-less spot (a notice, a divider)."""
    if "body" not in text.tag_names(index) and "header" not in text.tag_names(index):
        return None
    found = message_range(text, index)
    if found is None:
        return None
    start, stop = found
    parts: list[str] = []
    # The dump tells only the tags that start inside it: a body that runs on from the
    # message before (one header for both) is on already.
    active: set[str] = set(text.tag_names(start))
    for key, value, _where in text.dump(start, stop, text=True, tag=True):
        if key == "tagon":
            active.add(value)
        elif key == "tagoff":
            active.discard(value)
        elif key == "text" and "body" in active and not active & _NOT_THE_BODY:
            parts.append(value)
    body = "".join(parts).rstrip("\n")
    return body or None


def light_up(text: tk.Text, message_id: bytes) -> bool:
    """Scroll to ``message_id`` and tag it ``found``; False if it is not in the list (never
    shown, or cut away as old)."""
    mark = f"id{message_id.hex()}"
    try:
        start = text.index(mark)
    except tk.TclError:
        return False
    after = text.tag_nextrange("msgstart", f"{start} + 1 char")
    end = after[0] if after else "end-1c"
    text.tag_remove("found", "1.0", "end")
    text.tag_add("found", start, end)
    text.see(end)
    text.see(start)
    return True


def embed_in_message(text: tk.Text, message_id: bytes, widget: tk.Misc) -> bool:
    """Show ``widget`` (a child of ``text``: a file's card) as the body of the message
    ``message_id``, in place of its text, on the same tint and indent; call right after
    the list's ``add_message`` showed it. False if it is not on screen."""
    try:
        start = text.index(f"id{message_id.hex()}")
    except tk.TclError:
        return False
    after = text.tag_nextrange("msgstart", f"{start} + 1 char")
    stop = text.index(f"{after[0] if after else 'end-1c'} - 1 char")  # its newline
    if "body" in text.tag_names(start):  # no header: a body starts the message
        where = start
    else:
        body = text.tag_nextrange("body", start, stop)
        where = str(body[0]) if body else stop
    tags = text.tag_names(stop)
    text.configure(state="normal")
    try:
        text.delete(where, stop)
        text.window_create(where, window=widget, padx=0, pady=4)
        for tag in tags:  # an embedded window takes tags too: the body's indent and tint
            text.tag_add(tag, where)
    finally:
        text.configure(state="disabled")
    return True


def trim(text: tk.Text, max_lines: int) -> None:
    """Keep at most ``max_lines`` lines, cutting whole messages from the top."""
    lines = int(text.index("end-1c").split(".")[0])
    excess = lines - max_lines
    if excess <= 0:
        return
    # Cut at the start of a message, never in the middle of one.
    cut = text.tag_nextrange("msgstart", f"{excess + 1}.0")
    end = cut[0] if cut else f"{excess + 1}.0"
    for _key, mark, _where in text.dump("1.0", end, mark=True):
        if mark.startswith("id"):
            text.mark_unset(mark)  # its message goes: a search cannot show it here
    text.configure(state="normal")
    text.delete("1.0", end)
    text.configure(state="disabled")
