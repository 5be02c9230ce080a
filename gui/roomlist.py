"""The room list beside the conversation, and Ctrl+K's "Jump to a room".

:class:`RoomList` shows every room of the window, one row each: its label, a mark for how its
connection stands (… connecting, ⚠ disconnected for good, ○ remembered but not open) and, in a
column of its own, the number of messages not read yet (bold row). Under a room, its private
conversations have rows of their own, indented ("bob (private)"), with their own counts. The
conversation shown is the selected row. A click, or Up / Down with the keyboard, switches to a
room (or conversation); Enter moves the keyboard to its compose box; the Menu key, Shift+F10 or
a right-click opens the room's menu (the app builds it: ``room_menu``). **Join or host a
room…** above the list shows the login view. Labels come from the person (or from what they
typed), and go through ``safetext.display_name`` all the same.

:class:`JumpDialog` (Ctrl+K anywhere in the window) is a small box: type part of a room's name,
Up / Down choose among the rooms that match (those starting with it first), Enter jumps, Esc
closes. :func:`matching` is its plain filter, tested without a display.

Only the Tk thread calls these. The app gives each room a token (an int) and tells the list
what to show with :meth:`RoomList.show`.
"""

from __future__ import annotations

import enum
import tkinter as tk
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from tkinter import ttk

from gui.chat_private import private_title
from gui.safetext import display_name
from gui.theme import PALETTE, Palette

JOIN_OR_HOST = "Join or host a room…"


class RoomState(enum.Enum):
    """How a room's connection stands, as the list marks it."""

    CONNECTING = "connecting"
    JOINED = "joined"
    RECONNECTING = "reconnecting"
    FAILED = "failed"
    CLOSED = "closed"  # remembered, not open now


_MARKS = {
    RoomState.CONNECTING: "… ",
    RoomState.JOINED: "",
    RoomState.RECONNECTING: "… ",
    RoomState.FAILED: "⚠ ",
    RoomState.CLOSED: "○ ",
}


@dataclass(frozen=True)
class RoomRow:
    """One row of the list: a room, or (``private``) a private conversation in the room
    called ``room_label``, whose ``label`` is the other person's name."""

    token: int
    label: str
    state: RoomState
    unread: int = 0
    private: bool = False
    room_label: str = ""


PRIVATE_INDENT = "    "  # a private conversation's row sits under its room's


def row_text(row: RoomRow) -> str:
    """The row's label as shown: its mark, then the label made safe to show; a private
    conversation's indented under its room, as "bob (private)"."""
    if row.private:
        return f"{PRIVATE_INDENT}{_MARKS[row.state]}{private_title(row.label)}"
    return f"{_MARKS[row.state]}{display_name(row.label)}"


def jump_text(row: RoomRow) -> str:
    """A row in Ctrl+K's list: a private conversation says which room it is in."""
    if row.private:
        return f"{private_title(row.label)} · {display_name(row.room_label)}"
    return row_text(row)


def matching(rows: Sequence[RoomRow], typed: str) -> list[RoomRow]:
    """The rows whose label contains ``typed`` (any case), those starting with it first, in
    list order otherwise; every row for an empty ``typed``."""
    query = typed.strip().casefold()
    if not query:
        return list(rows)
    starts = [row for row in rows if row.label.casefold().startswith(query)]
    contains = [row for row in rows if query in row.label.casefold() and row not in starts]
    return starts + contains


class RoomList(ttk.Frame):
    """Grid this at the window's left; feed it with :meth:`show`."""

    def __init__(
        self,
        master: tk.Misc,
        *,
        on_choose: Callable[[int], None],
        on_new: Callable[[], None],
        room_menu: Callable[[int], tk.Menu | None],
        on_enter: Callable[[int], None] | None = None,
        palette: Palette = PALETTE,
    ) -> None:
        super().__init__(master, padding=(10, 10, 6, 10))
        self._on_choose = on_choose
        self._room_menu = room_menu
        self._on_enter = on_enter
        self._palette = palette
        self.rows: list[RoomRow] = []
        self.menu: tk.Menu | None = None
        self.columnconfigure(0, weight=1)
        self.rowconfigure(2, weight=1)
        self.new_button = ttk.Button(self, text=JOIN_OR_HOST, command=on_new)
        self.new_button.grid(row=0, column=0, sticky="ew")
        self.hint = ttk.Label(self, text="Rooms  ·  Ctrl+K to jump", foreground=palette.muted)
        self.hint.grid(row=1, column=0, sticky="w", pady=(10, 4))
        # Two plain columns, no tree: rooms have no hierarchy, so no indent before the names.
        self.tree = ttk.Treeview(
            self, columns=("name", "unread"), show="", selectmode="browse", takefocus=True
        )
        self.tree.column("name", width=170, stretch=True)
        self.tree.column("unread", width=36, anchor="e", stretch=False)
        self.tree.grid(row=2, column=0, sticky="nsew")
        self.tree.bind("<<TreeviewSelect>>", self._selected)
        self.tree.bind("<Return>", self._entered)
        self.tree.bind("<KP_Enter>", self._entered)
        self.tree.bind("<Button-3>", self._right_click)
        self.tree.bind("<Menu>", self._menu_key)
        self.tree.bind("<Shift-F10>", self._menu_key)
        self._colour()

    def _colour(self) -> None:
        p = self._palette
        # The current room stands out whether or not the list has the keyboard (ttk's own
        # unfocused selection is a faint grey).
        style = ttk.Style(self)
        style.map(
            "Rooms.Treeview",
            background=[("selected", p.selection)],
            foreground=[("selected", p.text)],
        )
        self.tree.configure(style="Rooms.Treeview")
        self.tree.tag_configure("unread", font="SocketChatBold")
        self.tree.tag_configure("failed", foreground=p.warning)
        self.tree.tag_configure("closed", foreground=p.muted)

    def apply_palette(self, palette: Palette) -> None:
        self._palette = palette
        self.hint.configure(foreground=palette.muted)
        self._colour()

    def show(self, rows: Sequence[RoomRow], current: int | None) -> None:
        """Show ``rows`` in order, ``current`` selected (None: no room is current)."""
        self.rows = list(rows)
        wanted = [str(row.token) for row in rows]
        existing = list(self.tree.get_children())
        for item in existing:
            if item not in wanted:
                self.tree.delete(item)
        for index, row in enumerate(rows):
            item = str(row.token)
            tags: tuple[str, ...] = ()
            if row.unread:
                tags += ("unread",)
            if row.state is RoomState.FAILED:
                tags += ("failed",)
            elif row.state is RoomState.CLOSED:
                tags += ("closed",)
            unread = str(row.unread) if row.unread else ""
            values = (row_text(row), unread)
            if self.tree.exists(item):
                self.tree.item(item, values=values, tags=tags)
                if self.tree.index(item) != index:
                    self.tree.move(item, "", index)
            else:
                self.tree.insert("", index, iid=item, values=values, tags=tags)
        # The <<TreeviewSelect>> this causes chooses the current room again: nothing happens.
        if current is None:
            self.tree.selection_set(())
        else:
            self.tree.selection_set((str(current),))
            self.tree.focus(str(current))
            self.tree.see(str(current))

    def selected(self) -> int | None:
        chosen = self.tree.selection()
        return int(chosen[0]) if chosen else None

    def focus_list(self) -> None:
        self.tree.focus_set()

    # -- the person ------------------------------------------------------------------------

    def _selected(self, _event: tk.Event) -> None:
        token = self.selected()
        if token is not None:
            self._on_choose(token)  # choosing the current room again changes nothing

    def _entered(self, _event: tk.Event) -> str:
        token = self.selected()
        if token is not None and self._on_enter is not None:
            self._on_enter(token)
        return "break"

    def _right_click(self, event: tk.Event) -> str:
        item = self.tree.identify_row(event.y)
        if item:
            self.tree.selection_set((item,))
            self.open_menu(int(item), event.x_root, event.y_root)
        return "break"

    def _menu_key(self, _event: tk.Event) -> str:
        token = self.selected()
        if token is not None:
            box = self.tree.bbox(str(token)) or (0, 0, 0, 0)
            self.open_menu(
                token,
                self.tree.winfo_rootx() + int(box[0]) + 10,
                self.tree.winfo_rooty() + int(box[1]) + int(box[3]),
            )
        return "break"

    def open_menu(self, token: int, x: int, y: int) -> None:
        if self.menu is not None:
            self.menu.destroy()
        self.menu = self._room_menu(token)
        if self.menu is None:
            return
        try:
            self.menu.tk_popup(x, y)
        finally:
            self.menu.grab_release()


class JumpDialog(tk.Toplevel):
    """Ctrl+K: type part of a room's name, Enter jumps there (``on_jump(token)``)."""

    def __init__(
        self,
        parent: tk.Misc,
        rows: Sequence[RoomRow],
        *,
        on_jump: Callable[[int], None],
        palette: Palette = PALETTE,
    ) -> None:
        super().__init__(parent)
        self.withdraw()
        self.title("Jump to a room")
        self.transient(parent.winfo_toplevel())
        self.resizable(False, False)
        self._rows = list(rows)
        self._on_jump = on_jump
        self.shown: list[RoomRow] = []
        frame = ttk.Frame(self, padding=(16, 14, 16, 14))
        frame.grid(sticky="nsew")
        ttk.Label(frame, text="Jump to a room", style="Header.TLabel").grid(
            row=0, column=0, sticky="w"
        )
        self.typed = tk.StringVar(self)
        self.entry = ttk.Entry(frame, textvariable=self.typed, width=36)
        self.entry.grid(row=1, column=0, sticky="ew", pady=(8, 6))
        self.listbox = tk.Listbox(
            frame,
            height=8,
            activestyle="none",
            exportselection=False,
            background=palette.surface,
            foreground=palette.text,
            selectbackground=palette.selection,
            selectforeground=palette.text,
            highlightthickness=0,
            relief="flat",
        )
        self.listbox.grid(row=2, column=0, sticky="ew")
        ttk.Label(
            frame, text="↑ ↓ choose · Enter jumps · Esc closes", foreground=palette.muted
        ).grid(row=3, column=0, sticky="w", pady=(6, 0))
        self.typed.trace_add("write", lambda *_: self._filter())
        for widget in (self.entry, self.listbox):
            widget.bind("<Return>", lambda _e: self.choose())
            widget.bind("<KP_Enter>", lambda _e: self.choose())
            widget.bind("<Down>", lambda _e: self._move(1))
            widget.bind("<Up>", lambda _e: self._move(-1))
        self.listbox.bind("<Double-Button-1>", lambda _e: self.choose())
        self.bind("<Escape>", lambda _e: self.close())
        self.protocol("WM_DELETE_WINDOW", self.close)
        self._filter()
        self.update_idletasks()
        top = parent.winfo_toplevel()
        x = top.winfo_rootx() + max(0, (top.winfo_width() - self.winfo_reqwidth()) // 2)
        y = top.winfo_rooty() + 80
        self.geometry(f"+{x}+{y}")
        self.deiconify()
        self.entry.focus_set()

    def _filter(self) -> None:
        self.shown = matching(self._rows, self.typed.get())
        self.listbox.delete(0, "end")
        for row in self.shown:
            unread = f"  ({row.unread})" if row.unread else ""
            self.listbox.insert("end", jump_text(row) + unread)
        if self.shown:
            self.listbox.selection_set(0)

    def _move(self, step: int) -> str:
        if not self.shown:
            return "break"
        chosen = self.listbox.curselection()
        index = (chosen[0] if chosen else -1) + step
        index = max(0, min(len(self.shown) - 1, index))
        self.listbox.selection_clear(0, "end")
        self.listbox.selection_set(index)
        self.listbox.see(index)
        return "break"

    def choose(self) -> str:
        """Enter: jump to the chosen room (the first match if none is chosen)."""
        chosen = self.listbox.curselection()
        if self.shown:
            row = self.shown[chosen[0] if chosen else 0]
            # Jump first, while this box still has the keyboard: the room's compose box
            # takes it over (after closing, the window manager might hand it elsewhere).
            self._on_jump(row.token)
            self.close()
        return "break"

    def close(self) -> None:
        if self.winfo_exists():
            self.destroy()
