"""Host a room: the dialog that asks for port, passphrase, name and who can join.

:class:`HostDialog` is modal (``transient`` + ``grab_set``, Return and Escape bound, like
IDLE's ``query.Query``) but does not block: it calls ``on_done(request)`` or ``on_done(None)``.
Validation is :func:`validate_host_request`, a plain function. Besides the port, passphrase
and name it asks who can join (everyone, this network only, this computer only: see
``net.reach.scope``), whether to ask the router to open the port, whether to announce the
room on the local network, and whether new members can read the room's recent history (a
setting of the room itself, signed into it when it is created: it cannot change later). After
the room is running the app opens :class:`gui.invite.InvitePanel`.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass, field
from tkinter import ttk

from crypto.passphrase import generate_passphrase
from gui.settings import DEFAULT_PORT
from gui.theme import current_palette
from gui.validate import check_password, check_port, check_username
from gui.widgets import message_label
from net.reach import SCOPE_TEXTS, Scope


@dataclass(frozen=True)
class HostRequest:
    """Start a room on ``port`` with ``password`` and join it as ``username``; who may reach
    it (``scope``), whether to ask the router to open the port (``map_port``, "everyone"
    only), whether to announce it on the local network (``announce``) and whether new
    members can read its recent history (``history_for_newcomers``: the room's own setting,
    for good)."""

    port: int
    password: str = field(repr=False)  # never in a log line or a test failure
    username: str
    scope: Scope = Scope.EVERYONE
    map_port: bool = True
    announce: bool = True
    history_for_newcomers: bool = True

    @property
    def maps_port(self) -> bool:
        return self.map_port and self.scope is Scope.EVERYONE

    @property
    def announces(self) -> bool:
        return self.announce and self.scope is not Scope.COMPUTER


ROUTER_TEXT = (
    "Ask the router to open the port",
    "So friends on the internet get through (UPnP or NAT-PMP); closed again with the room.",
)
ANNOUNCE_TEXT = (
    "Announce the room on this network",
    "Computers here list it under “Rooms on this network”: its name and port, no secret.",
)
HISTORY_TEXT = (
    "New members can read recent history",
    "Off: newcomers see only what is sent after they join. It cannot be changed later.",
)


def validate_host_request(
    port: str,
    password: str,
    username: str,
    *,
    scope: Scope = Scope.EVERYONE,
    map_port: bool = True,
    announce: bool = True,
    history_for_newcomers: bool = True,
) -> tuple[HostRequest | None, dict[str, str]]:
    """Check the dialog's fields; return the request, or ``None`` and a message per bad field."""
    errors: dict[str, str] = {}
    checked_port, message = check_port(port)
    if message:
        errors["port"] = message
    checked_password, message = check_password(password)
    if message:
        errors["password"] = message.replace(
            "ask the person who hosts the room", "or press New passphrase"
        )
    checked_name, message = check_username(username)
    if message:
        errors["username"] = message
    if errors or checked_port is None or checked_password is None or checked_name is None:
        return None, errors
    return (
        HostRequest(
            checked_port,
            checked_password,
            checked_name,
            scope=scope,
            map_port=map_port,
            announce=announce,
            history_for_newcomers=history_for_newcomers,
        ),
        {},
    )


def strength_text(password: str, generated: bool) -> tuple[str, bool]:
    """The hint under the passphrase, and whether it is good enough to show in green."""
    if generated:
        return "Strong: 7 random words (about 90 bits). Recommended.", True
    if not password:
        return "Type a passphrase, or press New passphrase.", False
    from crypto.password import estimate_strength

    strength = estimate_strength(password)
    text = f"{strength.label.capitalize()}: {strength.hint}"
    if strength.score < 3:
        text += " A generated passphrase is much safer."
    return text, strength.score >= 3


class HostDialog(tk.Toplevel):
    """Ask how to host; calls ``on_done(HostRequest)`` or ``on_done(None)`` and closes."""

    def __init__(
        self,
        parent: tk.Misc,
        *,
        on_done: Callable[[HostRequest | None], None],
        username: str = "",
        initial: HostRequest | None = None,
        error: str = "",
        passphrase: Callable[[], str] = generate_passphrase,
    ) -> None:
        super().__init__(parent)
        self.withdraw()  # laid out hidden, then shown: no flicker of a half-built dialog
        self.title("Host a room")
        self.resizable(False, False)
        self.transient(parent.winfo_toplevel())
        self._on_done = on_done
        self._passphrase = passphrase
        self._strength_after: str | None = None
        self.result: HostRequest | None = None
        self.port = tk.StringVar(self, str(initial.port if initial else DEFAULT_PORT))
        first = initial.password if initial else passphrase()
        self.password = tk.StringVar(self, first)
        self.generated = initial is None
        self._generated_value = first if self.generated else ""
        self.username = tk.StringVar(self, initial.username if initial else username)
        self.scope = tk.StringVar(self, (initial.scope if initial else Scope.EVERYONE).value)
        self.map_port = tk.BooleanVar(self, initial.map_port if initial else True)
        self.announce = tk.BooleanVar(self, initial.announce if initial else True)
        self.history = tk.BooleanVar(self, initial.history_for_newcomers if initial else True)
        self.errors = {name: tk.StringVar(self, "") for name in ("port", "password", "username")}
        self.strength = tk.StringVar(self, "")
        self.general_error = tk.StringVar(self, error)
        self._build()
        self.password.trace_add("write", self._password_edited)
        self._show_strength()
        if error and initial is not None:
            self.errors["port"].set(error)
            self.general_error.set("")
        self.protocol("WM_DELETE_WINDOW", self.cancel)
        self.bind("<Return>", lambda _e: self.ok())
        self.bind("<KP_Enter>", lambda _e: self.ok())
        self.bind("<Escape>", lambda _e: self.cancel())
        self._place_over(parent)
        self.deiconify()
        self.grab_set()
        self.entries["username" if not self.username.get() else "port"].focus_set()

    def _build(self) -> None:
        palette = self.palette = current_palette(self)
        frame = ttk.Frame(self, padding=(22, 18, 22, 16))
        frame.grid(sticky="nsew")
        frame.columnconfigure(1, weight=1)
        ttk.Label(frame, text="Host a room", style="Title.TLabel").grid(
            row=0, column=0, columnspan=3, sticky="w"
        )
        ttk.Label(
            frame,
            text="The room runs on this computer while this window is open. "
            "Friends join with your address, the port and the passphrase.",
            foreground=palette.muted,
            wraplength=440,
            justify="left",
        ).grid(row=1, column=0, columnspan=3, sticky="w", pady=(2, 12))
        self.entries: dict[str, ttk.Entry] = {}

        def field(row: int, name: str, label: str, width: int, sticky: str) -> ttk.Entry:
            ttk.Label(frame, text=label).grid(
                row=row, column=0, sticky="w", padx=(0, 12), pady=(6, 0)
            )
            entry = ttk.Entry(frame, textvariable=getattr(self, name), width=width)
            entry.grid(row=row, column=1, sticky=sticky, pady=(6, 0))
            message_label(
                frame,
                self.errors[name],
                foreground=palette.warning,
                grid={"row": row + 1, "column": 1, "columnspan": 2, "sticky": "w"},
            )
            self.entries[name] = entry
            return entry

        field(2, "port", "Port", 8, "w")
        field(4, "password", "Passphrase", 58, "ew")  # seven words fit without scrolling
        buttons = ttk.Frame(frame)
        buttons.grid(row=6, column=1, sticky="w", pady=(4, 0))
        ttk.Button(buttons, text="New passphrase", command=self.regenerate).grid(row=0, column=0)
        ttk.Button(buttons, text="Copy", command=self.copy_passphrase).grid(
            row=0, column=1, padx=(6, 0)
        )
        self.strength_label = ttk.Label(
            frame, textvariable=self.strength, wraplength=400, justify="left"
        )
        self.strength_label.grid(row=7, column=1, columnspan=2, sticky="w", pady=(4, 0))
        field(8, "username", "Your name", 32, "ew")
        self._build_reach(frame, row=10)
        self._build_history(frame, row=12)
        message_label(
            frame,
            self.general_error,
            foreground=palette.warning,
            wraplength=440,
            grid={"row": 13, "column": 0, "columnspan": 3, "sticky": "w", "pady": (8, 0)},
        )
        actions = ttk.Frame(frame)
        actions.grid(row=14, column=0, columnspan=3, sticky="e", pady=(14, 0))
        ttk.Button(actions, text="Cancel", command=self.cancel).grid(row=0, column=0, padx=(0, 8))
        ttk.Button(
            actions,
            text="Start the room",
            style="Accent.TButton",
            command=self.ok,
            default="active",
        ).grid(row=0, column=1)

    def _build_reach(self, frame: ttk.Frame, *, row: int) -> None:
        """Who can join (three choices), the router and the announcement switches."""
        ttk.Label(frame, text="Who can join").grid(
            row=row, column=0, sticky="nw", padx=(0, 12), pady=(12, 0)
        )
        choices = ttk.Frame(frame)
        choices.grid(row=row, column=1, columnspan=2, sticky="w", pady=(12, 0))
        self.scope_buttons: dict[Scope, ttk.Radiobutton] = {}
        for index, scope in enumerate(Scope):
            title, explanation = SCOPE_TEXTS[scope]
            button = ttk.Radiobutton(
                choices,
                text=title,
                value=scope.value,
                variable=self.scope,
                command=self._scope_changed,
            )
            button.grid(row=2 * index, column=0, sticky="w")
            _explain(choices, explanation, row=2 * index + 1)
            self.scope_buttons[scope] = button
        switches = ttk.Frame(frame)
        switches.grid(row=row + 1, column=1, columnspan=2, sticky="w", pady=(8, 0))
        self.router_check = ttk.Checkbutton(switches, text=ROUTER_TEXT[0], variable=self.map_port)
        self.router_check.grid(row=0, column=0, sticky="w")
        _explain(switches, ROUTER_TEXT[1], row=1)
        self.announce_check = ttk.Checkbutton(
            switches, text=ANNOUNCE_TEXT[0], variable=self.announce
        )
        self.announce_check.grid(row=2, column=0, sticky="w", pady=(4, 0))
        _explain(switches, ANNOUNCE_TEXT[1], row=3)
        self._scope_changed()

    def _build_history(self, frame: ttk.Frame, *, row: int) -> None:
        """The room's history setting: one switch and its explanation."""
        ttk.Label(frame, text="History").grid(
            row=row, column=0, sticky="nw", padx=(0, 12), pady=(12, 0)
        )
        box = ttk.Frame(frame)
        box.grid(row=row, column=1, columnspan=2, sticky="w", pady=(12, 0))
        self.history_check = ttk.Checkbutton(box, text=HISTORY_TEXT[0], variable=self.history)
        self.history_check.grid(row=0, column=0, sticky="w")
        _explain(box, HISTORY_TEXT[1], row=1)

    def _scope_changed(self) -> None:
        """Only "everyone" can use the router; "this computer only" has nobody to tell."""
        scope = self.chosen_scope()
        self.router_check.state(["!disabled" if scope is Scope.EVERYONE else "disabled"])
        self.announce_check.state(["!disabled" if scope is not Scope.COMPUTER else "disabled"])

    def chosen_scope(self) -> Scope:
        return Scope(self.scope.get())

    def _place_over(self, parent: tk.Misc) -> None:
        self.update_idletasks()
        top = parent.winfo_toplevel()
        x = top.winfo_rootx() + max(0, (top.winfo_width() - self.winfo_reqwidth()) // 2)
        y = top.winfo_rooty() + max(0, (top.winfo_height() - self.winfo_reqheight()) // 3)
        self.geometry(f"+{x}+{y}")

    # -- passphrase ---------------------------------------------------------------------

    def regenerate(self) -> None:
        """New passphrase button."""
        value = self._passphrase()
        self._generated_value = value
        self.password.set(value)

    def copy_passphrase(self) -> None:
        """Copy button: the passphrase to the clipboard."""
        self.clipboard_clear()
        self.clipboard_append(self.password.get())

    def _password_edited(self, *_args: object) -> None:
        self.errors["password"].set("")
        self.generated = self.password.get() == self._generated_value and bool(
            self._generated_value
        )
        # zxcvbn takes a few ms per call; wait for a pause in typing.
        if self._strength_after is not None:
            self.after_cancel(self._strength_after)
        self._strength_after = self.after(150, self._show_strength)

    def _show_strength(self) -> None:
        self._strength_after = None
        text, good = strength_text(self.password.get(), self.generated)
        self.strength.set(text)
        palette = self.palette
        self.strength_label.configure(foreground=palette.good if good else palette.warning)

    # -- outcome ------------------------------------------------------------------------

    def entry_ok(self) -> HostRequest | None:
        """Validate; show messages under bad fields; return the request or None."""
        request, errors = validate_host_request(
            self.port.get(),
            self.password.get(),
            self.username.get(),
            scope=self.chosen_scope(),
            map_port=self.map_port.get(),
            announce=self.announce.get(),
            history_for_newcomers=self.history.get(),
        )
        for name, var in self.errors.items():
            var.set(errors.get(name, ""))
        self.general_error.set("")
        return request

    def ok(self) -> None:
        """Start the room button (or Return)."""
        self.result = self.entry_ok()
        if self.result is not None:
            self._finish()

    def cancel(self) -> None:
        """Cancel button, Escape or the window's close box."""
        self.result = None
        self._finish()

    def _finish(self) -> None:
        if self._strength_after is not None:
            self.after_cancel(self._strength_after)
        self.grab_release()
        self.destroy()
        self._on_done(self.result)


def _explain(parent: tk.Misc, text: str, *, row: int) -> None:
    """The one muted line under a choice."""
    muted = current_palette(parent).muted
    ttk.Label(parent, text=text, foreground=muted, wraplength=420, justify="left").grid(
        row=row, column=0, sticky="w", padx=(26, 0)
    )
