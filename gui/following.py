"""Following new messages: whether the conversation shows its newest message, and keeps showing it.

The message list follows new messages unless the person has scrolled up. Whether it follows is
decided once per batch, before its first insert (:meth:`Following.prepare`), and the list
scrolls at the end of the batch (:meth:`Following.end_batch`). While scrolled up, a new line
(a message, a placeholder, a notice) counts as unseen: the first of a run drops a "new
messages" marker above itself (the marker of an earlier run goes) and the jump button shows;
scrolling to the end, or the button, takes the button away. A list that shows its newest
message keeps showing it when the window is resized or the fonts change (a zoom:
:meth:`Following.hold_pin`).

The message list (``gui/messages.py``) owns one :class:`Following`; its ``text`` reports its
scrolling to :meth:`Following.on_scroll`. Only the Tk thread calls it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gui.messages import MessageList


class Following:
    """Scrolling ``messages.text`` to its newest message, and the ``messages.jump_button``."""

    def __init__(self, messages: MessageList) -> None:
        self._messages = messages
        self._follow: bool | None = None  # decided once per batch, before the first insert
        self._force_follow = False
        self.unseen = 0  # messages added while scrolled up
        self._marker = False
        self._pin_after: str | None = None
        self._pinned = True  # showing the newest message: stays so through resizes
        self.holding_pin = False  # a zoom is being laid out: scrolling reports say nothing

    def prepare(self) -> None:
        """Call before each insert: the first of a batch decides whether it follows."""
        if self._follow is None:
            self._follow = self.at_end()

    def arrived(self) -> None:
        """Call (after :meth:`prepare`) before a new message, placeholder or notice is added
        at the end: while the list is scrolled up, it counts as unseen."""
        if self._follow is False:
            self._mark_unseen()

    def follow_next(self) -> None:
        """Scroll to the end after this batch whatever the position (after sending)."""
        self._force_follow = True

    def end_batch(self) -> None:
        """End of a batch: scroll to the end if following."""
        if self._follow or self._force_follow:
            self._messages.text.see("end")
            self._clear_unseen()
        self._follow = None
        self._force_follow = False

    def at_end(self) -> bool:
        """Whether the last line is in view (the list is following new messages)."""
        text = self._messages.text
        if text.winfo_height() <= 1:
            return True  # not laid out yet (just built): nothing can have been scrolled
        return text.yview()[1] >= 0.999

    def scroll_to_end(self) -> None:
        """The jump button: show the newest message and follow again."""
        self._messages.text.see("end")
        self._clear_unseen()

    def moved(self) -> None:
        """The list scrolled to show something else (a search result): it stays at the end
        through resizes only if the end is still in view."""
        self._pinned = self.at_end()

    def resized(self) -> None:
        """The list's ``<Configure>``: its size changed."""
        if self._pinned or self.holding_pin:
            # A resize keeps the top line where it was; the newest message would slide out of
            # view (and the list would stop following). Show it again once laid out, whatever
            # the relayout reports in between.
            self._messages.after_idle(self._messages.text.see, "end")

    def hold_pin(self) -> None:
        """Call just before the fonts change (zoom): if the newest message is in view, it
        stays in view once the list is laid out again with the new fonts."""
        if not (self._pinned or self.at_end()):
            return
        self._pinned = self.holding_pin = True
        if self._pin_after is None:
            self._pin_after = self._messages.after(0, self._release_pin)

    def _release_pin(self) -> None:
        self._pin_after = None
        self._messages.update_idletasks()  # the relayout with the new fonts
        self._messages.text.see("end")
        self.holding_pin = False
        self._pinned = True

    def cancel(self) -> None:
        """The list is being destroyed: a zoom's pending relayout would fire on it."""
        if self._pin_after is not None:
            self._messages.after_cancel(self._pin_after)
        self._pin_after = None

    def on_scroll(self, first: float | str, last: float | str) -> None:
        """The ``yscrollcommand`` of the list's text."""
        # Tk passes the fractions as strings; typeshed says floats. Both work here.
        self._messages.scrollbar.set(first, last)
        at_end = float(last) >= 0.999
        if self.unseen and at_end:
            self._clear_unseen()
        if not self.holding_pin:
            self._pinned = at_end

    def _mark_unseen(self) -> None:
        text = self._messages.text
        if not self._marker:
            for old in self._marker_ranges():
                text.configure(state="normal")
                text.delete(*old)
                text.configure(state="disabled")
            self._messages.add_line("── new messages ──\n", ("newmarker", "msgstart"))
            self._marker = True
        self.unseen += 1
        self._messages.jump_button.place(relx=0.5, rely=1.0, y=-12, anchor="s")

    def _marker_ranges(self) -> list[tuple[str, str]]:
        ranges = self._messages.text.tag_ranges("newmarker")
        return [(str(ranges[i]), str(ranges[i + 1])) for i in range(0, len(ranges), 2)]

    def _clear_unseen(self) -> None:
        # The marker line stays where it was (it still shows where new messages began) until
        # the next time new messages arrive while scrolled up.
        self._marker = False
        self.unseen = 0
        self._messages.jump_button.place_forget()
