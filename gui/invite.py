"""The invite panel: what friends need to join a hosted room, and whether they can reach it.

First the invite: one string (``net.client.format_invite``) with the address, the port, the
room's id and relay key, and the passphrase; a friend pastes it into the login window (Paste
invite) or gives it to ``main.py chat``, and even a first connection is then protected against
a fake relay. When the router gave the room a public address, a second invite carries that one
(the first carries this network's address). Below, each value on its own, for typing by hand;
each has a Copy button. For a room hosted "for everyone" the panel also shows the
router's answer (the public address and port once a mapping exists, or what to do when no
router answered) and the reachability verdict, which :meth:`InvitePanel.refresh` updates as
events arrive (the app calls it on the Tk thread). The sentences come from ``gui/reach.py``.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Sequence
from tkinter import ttk

from gui.reach import ReachState, announce_text, reachability, router_text
from gui.theme import current_palette
from gui.validate import format_address
from net.client import Invite, InviteError, format_invite
from net.reach import Reach, Scope

_WRAP = 470


class InvitePanel(tk.Toplevel):
    """What friends need to join, each value copyable. Not modal; reopen from the chat header."""

    def __init__(
        self,
        parent: tk.Misc,
        *,
        addresses: Sequence[str],
        port: int,
        password: str,
        room_id: bytes,
        relay_key: bytes,
        state: ReachState | None = None,
    ) -> None:
        super().__init__(parent)
        self.withdraw()
        self.palette = current_palette(self)
        self.title("Invite friends")
        self.transient(parent.winfo_toplevel())
        self.resizable(False, False)
        self.addresses = list(addresses)
        self.port = port
        self.password = password
        self.room_id = room_id
        self.relay_key = relay_key
        self.reach = state
        self._vars: list[tk.StringVar] = []
        self.public = tk.StringVar(self, "")
        self.router = tk.StringVar(self, "")
        self.verdict = tk.StringVar(self, "")
        self.verdict_detail = tk.StringVar(self, "")
        self.announce = tk.StringVar(self, "")
        self.local_invite = tk.StringVar(self, self._invite(self._local_host(), port))
        self.public_invite = tk.StringVar(self, "")
        frame = ttk.Frame(self, padding=(22, 18, 22, 16))
        frame.grid(sticky="nsew")
        frame.columnconfigure(1, weight=1)
        ttk.Label(frame, text="Your room is open", style="Title.TLabel").grid(
            row=0, column=0, columnspan=3, sticky="w"
        )
        ttk.Label(
            frame,
            text="Send your friends the invite: it holds everything they need to join, the "
            "passphrase too, so send it by a way you trust (in person, or another private "
            "chat). They paste it into SocketChat's login window.",
            foreground=self.palette.muted,
            wraplength=_WRAP,
            justify="left",
        ).grid(row=1, column=0, columnspan=3, sticky="w", pady=(2, 12))
        row = 2
        self.public_invite_row = None
        everyone = state is not None and state.scope is Scope.EVERYONE
        self._value_row(
            frame,
            row,
            "Invite, this network" if everyone else "Invite",
            self.local_invite,
            wide=True,
        )
        row += 1
        if everyone:
            self.public_invite_row = self._value_row(
                frame, row, "Invite, internet", self.public_invite, wide=True
            )
            row += 1
        ttk.Label(
            frame,
            text="Or the same, value by value:",
            foreground=self.palette.muted,
        ).grid(row=row, column=0, columnspan=3, sticky="w", pady=(10, 2))
        row += 1
        shown = self.addresses or ["127.0.0.1"]
        for index, address in enumerate(shown):
            label = "This network" if index == 0 else ""
            self._value_row(frame, row, label, tk.StringVar(self, address))
            row += 1
        if not self.addresses:
            ttk.Label(
                frame,
                text="No network found: only this computer can join.",
                foreground=self.palette.warning,
            ).grid(row=row, column=1, sticky="w")
            row += 1
        self.public_row = None
        if state is not None and state.scope is Scope.EVERYONE:
            self.public_row = self._value_row(frame, row, "Internet", self.public)
            row += 1
        self._value_row(frame, row, "Port", tk.StringVar(self, str(port)))
        self._value_row(frame, row + 1, "Passphrase", tk.StringVar(self, password))
        row += 2
        self._text(frame, row, self.router, self.palette.muted, pady=(12, 0))
        self.verdict_label = ttk.Label(frame, textvariable=self.verdict, font="SocketChatHeader")
        self.verdict_label.grid(row=row + 1, column=0, columnspan=3, sticky="w", pady=(8, 0))
        self._text(frame, row + 2, self.verdict_detail, self.palette.muted)
        self._text(frame, row + 3, self.announce, self.palette.muted, pady=(8, 0))
        ttk.Label(
            frame,
            text="Closing the chat window closes the room for everyone.",
            foreground=self.palette.muted,
            wraplength=_WRAP,
            justify="left",
        ).grid(row=row + 4, column=0, columnspan=3, sticky="w", pady=(8, 0))
        actions = ttk.Frame(frame)
        actions.grid(row=row + 5, column=0, columnspan=3, sticky="e", pady=(14, 0))
        ttk.Button(actions, text="Copy invite", command=self.copy_invite).grid(
            row=0, column=0, padx=(0, 8)
        )
        ttk.Button(actions, text="Done", style="Accent.TButton", command=self.destroy).grid(
            row=0, column=1
        )
        self.bind("<Escape>", lambda _e: self.destroy())
        self.refresh(state)
        self.update_idletasks()
        top = parent.winfo_toplevel()
        x = top.winfo_rootx() + max(0, (top.winfo_width() - self.winfo_reqwidth()) // 2)
        y = top.winfo_rooty() + 60
        self.geometry(f"+{x}+{y}")
        self.deiconify()

    def refresh(self, state: ReachState | None) -> None:
        """Show what is now known about reaching the room (Tk thread)."""
        self.reach = state
        if state is None:
            self.router.set(
                "Friends on the same network use the address above. Friends elsewhere need "
                f"your public address and TCP port {self.port} forwarded to this computer."
            )
            return
        self.router.set(router_text(state))
        if state.scope is Scope.EVERYONE:
            if state.public_address:
                self.public.set(state.public_address)
                self.public_invite.set(
                    self._invite(state.public_address, state.public_port or self.port)
                )
            else:
                waiting = "asking your router…" if self._asking(state) else "unknown"
                self.public.set(waiting)
                self.public_invite.set(waiting)
        verdict = reachability(state)
        if verdict is None:
            self.verdict.set("")
            self.verdict_detail.set("")
        else:
            self.verdict.set(verdict.reach.value.capitalize())
            colour = {
                Reach.REACHABLE: self.palette.good,
                Reach.NOT_REACHABLE: self.palette.warning,
                Reach.UNKNOWN: self.palette.text,
            }[verdict.reach]
            self.verdict_label.configure(foreground=colour)
            self.verdict_detail.set(verdict.detail)
        self.announce.set(announce_text(state))

    @staticmethod
    def _asking(state: ReachState) -> bool:
        return state.asked_router and state.failure is None and not state.removed

    def _text(
        self, frame: ttk.Frame, row: int, var: tk.StringVar, colour: str, pady: object = 0
    ) -> None:
        label = ttk.Label(
            frame, textvariable=var, wraplength=_WRAP, justify="left", foreground=colour
        )
        label.grid(row=row, column=0, columnspan=3, sticky="w", pady=pady)  # type: ignore[arg-type]

    def _value_row(
        self, frame: ttk.Frame, row: int, label: str, var: tk.StringVar, *, wide: bool = False
    ) -> ttk.Entry:
        ttk.Label(frame, text=label).grid(row=row, column=0, sticky="w", padx=(0, 12), pady=3)
        self._vars.append(var)  # a collected StringVar unsets its Tcl variable: the entry empties
        entry = ttk.Entry(
            frame,
            textvariable=var,
            width=52 if wide else max(22, min(52, len(var.get()) + 2)),
            font="SocketChatMono",
        )
        entry.state(["readonly"])
        entry.grid(row=row, column=1, sticky="ew", pady=3)
        ttk.Button(frame, text="Copy", command=lambda: self.copy(var.get())).grid(
            row=row, column=2, padx=(8, 0), pady=3
        )
        return entry

    def copy(self, value: str) -> None:
        """Put one value on the clipboard."""
        self.clipboard_clear()
        self.clipboard_append(value)

    def invite_text(self) -> str:
        """The invite Copy invite copies: the internet one once the router gave the room a
        public address, else this network's."""
        public = self.public_invite.get()
        if public.startswith("socketchat://"):
            return public
        return self.local_invite.get()

    def copy_invite(self) -> None:
        self.copy(self.invite_text())

    def _local_host(self) -> str:
        return (self.addresses or ["127.0.0.1"])[0]

    def _invite(self, host: str, port: int) -> str:
        """The invite for ``host``/``port``, or why there is none (a host no invite can carry,
        say an IPv6 address with a zone)."""
        try:
            return format_invite(Invite(host, port, self.room_id, self.relay_key, self.password))
        except InviteError as error:
            return f"(no invite for {format_address(host, port)}: {error})"
