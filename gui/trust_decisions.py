"""Members' keys in a chat window: key changes, Verify, and what the person decides.

A key change (``IdentityChanged``, or a member list that says ``Trust.CHANGED`` first) puts a
row in :class:`KeyChangeBanners` at the top of the conversation, with **Verify…**; the row
stays until the new key is accepted, and that member's messages are marked until then (the
message list does that, from the trust the window reports). **Verify…** (the banner's, the
button under the member list, a double-click, the member's menu) opens the Verify dialog
(``gui/verify.py``); **Your safety code…** shows this device's code.

:class:`TrustDecisions` records what the person decides through ``trust`` (the room's client
``mark_verified`` / ``accept_key``) and also remembers it, since the member lists in later
events carry the trust the client saw when the member arrived: :meth:`TrustDecisions.trust_of`
is what the window shows. It works on its chat window (``gui/chat.py``), on the Tk thread.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import TYPE_CHECKING

from gui.chat_text import changed_banner_text, changed_notice
from gui.safetext import display_name
from gui.theme import Palette
from gui.verify import (
    SafetyCodeDialog,
    TrustActions,
    VerifyDialog,
    public_identity,
    verify_view,
)
from net import client as ce
from net.client import Trust

if TYPE_CHECKING:
    from gui.chat import ChatWindow


class _BannerRow(tk.Frame):
    """One warning line at the top of the conversation, its buttons on the right."""

    def __init__(self, master: tk.Misc, palette: Palette, text: str = "") -> None:
        super().__init__(master, background=palette.warning_surface, padx=14, pady=6)
        self.columnconfigure(0, weight=1)
        self.label = tk.Label(
            self,
            text=text,
            background=palette.warning_surface,
            foreground=palette.warning,
            anchor="w",
            justify="left",
            wraplength=640,
            font="TkDefaultFont",
        )
        self.label.grid(row=0, column=0, sticky="w")

    def recolour(self, palette: Palette) -> None:
        self.configure(background=palette.warning_surface)
        self.label.configure(background=palette.warning_surface, foreground=palette.warning)


class KeyChangeBanners(tk.Frame):
    """Key changes: one warning row each, until dealt with. Grid it once, then call
    :meth:`hide`: it shows itself while it has a row."""

    def __init__(self, master: tk.Misc, palette: Palette) -> None:
        super().__init__(master, background=palette.warning_surface)
        self.columnconfigure(0, weight=1)
        self._palette = palette
        self._rows: dict[str, _BannerRow] = {}

    def add(self, name: str, on_verify: Callable[[], object]) -> None:
        """A row for ``name``'s changed key (none if there is one already)."""
        if name in self._rows:
            return
        row = _BannerRow(self, self._palette, changed_banner_text(name))
        ttk.Button(row, text="Verify…", command=on_verify).grid(
            row=0, column=1, sticky="e", padx=(8, 0)
        )
        row.grid(row=len(self._rows) + 1, column=0, sticky="ew")
        self._rows[name] = row
        self._update()

    def remove(self, name: str) -> None:
        row = self._rows.pop(name, None)
        if row is not None:
            row.destroy()
        self._update()

    def hide(self) -> None:
        self.grid_remove()

    def texts(self) -> list[str]:
        """What the rows say, top to bottom."""
        return [str(row.label.cget("text")) for row in self._rows.values()]

    def apply_palette(self, palette: Palette) -> None:
        self._palette = palette
        self.configure(background=palette.warning_surface)
        for row in self._rows.values():
            row.recolour(palette)

    def _update(self) -> None:
        if self._rows:
            self.grid()
        else:
            self.grid_remove()


class TrustDecisions:
    """Made once by the chat window; ``trust`` records decisions (None: only remembered)."""

    def __init__(
        self, chat: ChatWindow, banners: KeyChangeBanners, trust: TrustActions | None
    ) -> None:
        self._chat = chat
        self._banners = banners
        self._store = trust
        # What the person recorded in this window, by name: (key, trust). It outranks the trust
        # in later events, whose member lists keep what the client saw on arrival.
        self._decided: dict[str, tuple[bytes, Trust]] = {}
        self.changed: dict[str, ce.IdentityChanged] = {}  # key changes not accepted, by name
        self._told: set[tuple[str, bytes]] = set()  # key changes noted in the conversation

    def trust_of(self, name: str, key: bytes, reported: Trust) -> Trust:
        """How far ``name``'s ``key`` is trusted now: what the person recorded in this window
        for that key, else what the client ``reported``."""
        decided = self._decided.get(name)
        if decided is not None and decided[0] == key:
            return decided[1]
        return reported

    def identity_changed(self, event: ce.IdentityChanged) -> None:
        """``IdentityChanged``: the banner, the member list's ⚠, and one line per new key."""
        chat = self._chat
        self._decided.pop(event.name, None)  # the trust store moved on: events say it now
        self.changed[event.name] = event
        self._show_banner(event.name)
        chat.member_events.set_members(chat.members)
        if (event.name, event.new_key) in self._told:
            return  # told again by a new connection: the banner and the notice are there
        self._told.add((event.name, event.new_key))
        chat.messages.add_notice(
            changed_notice(event.name, was_verified=event.was_verified), "warning"
        )

    def listed_as_changed(self, member: ce.Member) -> None:
        """The member list says ``member``'s key changed: the client tells ``IdentityChanged``
        once per key, and the list may say it first."""
        if member.name in self.changed:
            return
        self.changed[member.name] = ce.IdentityChanged(
            name=member.name, old_key=b"", new_key=member.signing_key, was_verified=False
        )
        self._show_banner(member.name)

    def verify_selected(self) -> None:
        """The Verify… button (or a double-click): the Verify dialog for the selected member;
        for your own row, your safety code."""
        member = self._chat.selected_member()
        if member is None:
            return
        if member.name == self._chat.username:
            self.show_safety_code()
        else:
            self.open_verify(member.name)

    def show_safety_code(self) -> SafetyCodeDialog | None:
        """Your safety code… : this device's code in a small dialog, with Copy."""
        chat = self._chat
        if chat.identity is None:
            return None
        chat.close_dialog()
        dialog = chat.dialog = SafetyCodeDialog(chat, chat.identity)
        return dialog

    def open_verify(self, name: str) -> VerifyDialog | None:
        """The Verify dialog for ``name``: the pair code, how to compare it, Mark as verified;
        for a changed key, the warning and Accept the new key."""
        chat = self._chat
        if chat.identity is None or name == chat.username:
            return None
        member = chat.member_events.member_named(name)
        change = self.changed.get(name)
        if member is not None:
            key, keys = member.signing_key, public_identity(member.signing_key, member.dh_key)
            trust = self.trust_of(name, key, member.trust)
        elif change is not None:  # seen in history only: nothing to compare, still acceptable
            key, keys, trust = change.new_key, None, Trust.CHANGED
        else:
            return None
        view = verify_view(
            chat.identity,
            name,
            keys,
            trust,
            was_verified=change.was_verified if change is not None else False,
        )
        chat.close_dialog()
        dialog = chat.dialog = VerifyDialog(
            chat,
            view,
            on_verify=lambda: self.mark_verified(name, key),
            on_accept=lambda: self.accept_key(name, key),
        )
        return dialog

    def mark_verified(self, name: str, key: bytes) -> None:
        """The person compared ``name``'s code and it matched: record it, show ✓."""
        if self._store is not None:
            self._store.mark_verified(name, key)
        self._decided[name] = (key, Trust.VERIFIED)
        self._chat.messages.add_notice(f"You verified {display_name(name)}.", "good")
        self._resolve_change(name, key)

    def accept_key(self, name: str, key: bytes) -> None:
        """The person accepts ``name``'s new key: their messages are no longer marked."""
        if self._store is not None:
            self._store.accept_key(name, key)
        self._decided[name] = (key, Trust.KNOWN)
        self._chat.messages.add_notice(
            f"You accepted {display_name(name)}'s new key. Compare safety codes (Verify…) to be "
            "sure it is them.",
        )
        self._resolve_change(name, key)

    def recorded_elsewhere(self, name: str, key: bytes, trust: Trust) -> None:
        """Another window of the room recorded ``trust`` for ``name``'s ``key`` (Verify in a
        private conversation, say): this one shows it too, without a line of its own."""
        self._decided[name] = (key, trust)
        self._resolve_change(name, key)

    def _resolve_change(self, name: str, key: bytes) -> None:
        change = self.changed.get(name)
        if change is not None and change.new_key == key:
            del self.changed[name]
            self._banners.remove(name)
        chat = self._chat
        chat.member_events.set_members(chat.members)
        chat.messages.flush()

    def _show_banner(self, name: str) -> None:
        self._banners.add(name, lambda: self.open_verify(name))
