"""The member list beside the conversation: names, their roles, and **Verify…** under them.

:class:`MemberPanel` shows what the chat window tells it (:meth:`MemberPanel.fill`, one
:class:`MemberLine` per member, in order): each name on one line, in its colour (yours in the
accent colour, a verified member's in green, a changed key or a look-alike name in the warning
colour), and the roles ("owner", "admin") in a column of their own on the right, so that no
name can pass for a role; the column is there only while someone has a role. A click on a role
selects that member, as a click on the name would, and the wheel over the roles scrolls the
names.

The keyboard reaches the list with Tab (the first other member is selected then): Up and Down
choose a member, Enter verifies (``on_verify``), Menu or Shift+F10 opens the member's menu
(``on_menu(x, y)``, as a right-click does). After every change of the selection the panel
calls ``on_select``; the window answers with :meth:`MemberPanel.show_selection`. Only the Tk
thread calls this.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from tkinter import ttk

from gui.chat_text import lookalikes
from gui.roles import role_label
from gui.safetext import display_name
from gui.theme import Palette
from gui.verify import badge
from net import client as ce
from net.client import Trust


@dataclass(frozen=True, slots=True)
class MemberLine:
    """One row of the list: the name as shown (badge and "(you)" included), its colour (None:
    the list's text colour) and the role column's word ("" for none)."""

    text: str
    colour: str | None
    role: str


def member_lines(
    rows: Sequence[ce.Member],
    *,
    username: str,
    trust_of: Callable[[ce.Member], Trust],
    palette: Palette,
) -> list[MemberLine]:
    """How ``rows`` read in the list: yours as "name (you)"; each other member with its trust
    badge (✓ verified, ⚠ key changed), and "≈ other" after a name that looks like another
    present member's; ``trust_of`` says how far a member is trusted now."""
    alike = lookalikes(rows)
    lines = []
    for member in rows:
        role = role_label(member.role)
        if member.name == username:
            lines.append(MemberLine(f"{display_name(member.name)} (you)", palette.accent, role))
            continue
        trust = trust_of(member)
        sign = badge(trust)
        shown = f"{sign} {display_name(member.name)}" if sign else display_name(member.name)
        if member.name in alike:
            shown += f" ≈ {display_name(alike[member.name])}"
        colour = None
        if trust is Trust.CHANGED or member.name in alike:
            colour = palette.warning
        elif trust is Trust.VERIFIED:
            colour = palette.good
        lines.append(MemberLine(shown, colour, role))
    return lines


class MemberPanel(ttk.Frame):
    """Made once by the chat window, which grids it beside the conversation."""

    def __init__(
        self,
        master: tk.Misc,
        *,
        palette: Palette,
        on_select: Callable[[], None],
        on_verify: Callable[[], None],
        on_menu: Callable[[int, int], None],
    ) -> None:
        super().__init__(master, padding=(12, 10, 12, 10))
        self._palette = palette
        self._on_select = on_select
        self._on_verify = on_verify
        self._on_menu = on_menu
        self._focused = False
        self.member_title = tk.StringVar(self, "")
        self.rowconfigure(1, weight=1)
        self.columnconfigure(0, weight=1)
        ttk.Label(self, textvariable=self.member_title, style="Header.TLabel").grid(
            row=0, column=0, sticky="w", pady=(0, 6)
        )
        # Names on the left, roles ("owner", "admin") in a column of their own on the right,
        # so that no name can pass for a role. The box draws the focus ring around both.
        self.member_box = tk.Frame(
            self,
            highlightthickness=2,  # the focus ring, invisible until the list has the focus
            highlightbackground=palette.background,
            highlightcolor=palette.accent,
            background=palette.background,
        )
        self.member_box.grid(row=1, column=0, sticky="nsew")
        self.member_box.rowconfigure(0, weight=1)
        self.member_box.columnconfigure(0, weight=1)
        self.member_list = tk.Listbox(
            self.member_box,
            width=20,
            activestyle="none",
            relief="flat",
            borderwidth=0,
            highlightthickness=0,
            background=palette.background,
            foreground=palette.text,
            selectbackground=palette.selection,
            selectforeground=palette.text,
            font="TkDefaultFont",
            # Reachable with Tab: Up/Down choose a member, Enter verifies, Menu opens its menu.
            takefocus=True,
            # Selecting text in the conversation must not unselect the member.
            exportselection=False,
            yscrollcommand=self._names_scrolled,
        )
        self.member_list.grid(row=0, column=0, sticky="nsew")
        self.role_list = tk.Listbox(
            self.member_box,
            width=0,  # as wide as "owner"
            activestyle="none",
            relief="flat",
            borderwidth=0,
            highlightthickness=0,
            background=palette.background,
            foreground=palette.muted,
            selectbackground=palette.selection,
            selectforeground=palette.text,
            font="TkDefaultFont",
            takefocus=False,
            exportselection=False,
        )
        self.role_list.grid(row=0, column=1, sticky="ns")
        self.role_list.grid_remove()  # until someone has a role
        for sequence in ("<Button-1>", "<B1-Motion>", "<ButtonRelease-1>"):
            self.role_list.bind(sequence, self._on_role_click)
        self.role_list.bind("<Double-Button-1>", self._on_role_double_click)
        self.role_list.bind("<Button-3>", self._on_right_click)
        for sequence in ("<Button-4>", "<Button-5>", "<MouseWheel>"):
            self.role_list.bind(sequence, self._on_role_wheel)
        names = self.member_list
        names.bind("<FocusIn>", lambda _e: self._show_ring(True), add="+")
        names.bind("<FocusOut>", lambda _e: self._show_ring(False), add="+")
        self.verify_button = ttk.Button(self, text="Verify…", command=on_verify)
        self.verify_button.grid(row=2, column=0, sticky="ew", pady=(8, 0))
        self.verify_button.state(["disabled"])
        names.bind("<<ListboxSelect>>", lambda _e: on_select())
        names.bind("<Double-Button-1>", lambda _e: on_verify())
        names.bind("<Button-3>", self._on_right_click)
        names.bind("<Return>", lambda _e: on_verify())
        names.bind("<KP_Enter>", lambda _e: on_verify())
        names.bind("<Menu>", self._on_menu_key)
        names.bind("<Shift-F10>", self._on_menu_key)
        names.bind("<FocusIn>", self._on_focus, add="+")

    def fill(self, lines: list[MemberLine], *, roles_shown: bool, selected: int | None) -> None:
        """Show ``lines``, the row ``selected`` selected (None: none); the role column only
        if ``roles_shown``. The window calls :meth:`show_selection` next."""
        self.member_list.delete(0, "end")
        self.role_list.delete(0, "end")
        for line in lines:
            self.role_list.insert("end", line.role)
        if roles_shown:
            self.role_list.grid()
        else:
            self.role_list.grid_remove()
        for index, line in enumerate(lines):
            self.member_list.insert("end", line.text)
            if line.colour is not None:
                self.member_list.itemconfigure(index, foreground=line.colour)
            if index == selected:
                self.member_list.selection_set(index)

    def selected_index(self) -> int | None:
        chosen = self.member_list.curselection()
        return chosen[0] if chosen else None

    def show_selection(self, *, verify: bool) -> None:
        """After every change of the selection: the Verify… button (usable or not), and the
        role column's row highlighted with the name's."""
        self.verify_button.state(["!disabled"] if verify else ["disabled"])
        self.role_list.selection_clear(0, "end")
        for index in self.member_list.curselection():
            self.role_list.selection_set(index)

    def apply_palette(self, palette: Palette) -> None:
        """Recolour the lists (the window fills them again for the names' colours)."""
        self._palette = palette
        self.member_box.configure(
            highlightcolor=palette.accent,
            highlightbackground=palette.background,
            background=palette.background,
        )
        self._show_ring(self._focused)
        self.member_list.configure(
            background=palette.background,
            foreground=palette.text,
            selectbackground=palette.selection,
            selectforeground=palette.text,
        )
        self.role_list.configure(
            background=palette.background,
            foreground=palette.muted,
            selectbackground=palette.selection,
            selectforeground=palette.text,
        )

    # -- the mouse and the keyboard ----------------------------------------------------------

    def _select(self, index: int) -> bool:
        """Select row ``index`` if there is one (a click, a right-click on it)."""
        if not 0 <= index < self.member_list.size():
            return False
        self.member_list.selection_clear(0, "end")
        self.member_list.selection_set(index)
        return True

    def _names_scrolled(self, first: float | str, _last: float | str) -> None:
        self.role_list.yview_moveto(float(first))  # the roles stay beside their names

    def _on_role_click(self, event: tk.Event) -> str:
        # A click on a role selects that member, as a click on the name would.
        index = self.member_list.nearest(event.y)
        if self._select(index):
            self.member_list.activate(index)
            self._on_select()
        return "break"

    def _on_role_double_click(self, _event: tk.Event) -> str:
        self._on_verify()
        return "break"

    def _on_role_wheel(self, event: tk.Event) -> str:
        step = -1 if event.num == 4 or getattr(event, "delta", 0) > 0 else 1
        self.member_list.yview_scroll(step, "units")
        return "break"

    def _on_right_click(self, event: tk.Event) -> str:
        if self._select(self.member_list.nearest(event.y)):
            self._on_select()
            self._on_menu(event.x_root, event.y_root)
        return "break"

    def _on_focus(self, _event: tk.Event) -> None:
        # Tabbing in selects someone, so Enter has a member to verify and Up/Down move on.
        size = self.member_list.size()
        if size and not self.member_list.curselection():
            index = min(1, size - 1)  # the first other member, else yourself
            self.member_list.selection_set(index)
            self.member_list.activate(index)
            self._on_select()

    def _on_menu_key(self, _event: tk.Event) -> str:
        chosen = self.member_list.curselection()
        if chosen:
            box = self.member_list.bbox(chosen[0]) or (0, 0, 0, 0)
            self._on_menu(
                self.member_list.winfo_rootx() + box[0] + 10,
                self.member_list.winfo_rooty() + box[1] + box[3],
            )
        return "break"

    def _show_ring(self, focused: bool) -> None:
        self._focused = focused
        colour = self._palette.accent if focused else self._palette.background
        self.member_box.configure(highlightbackground=colour)
