"""The login view: the first thing ``python main.py`` shows.

Host, port, room password (masked, with a Show switch) and a name, then **Connect** or
**Host a room…**. ``host:port`` or ``[IPv6]:port`` typed or pasted into Host is split into
the two fields when the field is left (or on Connect). Validation lives in
:func:`validate_login`, a plain function that tests call without a display (IDLE's
``Query.entry_ok`` pattern); :class:`LoginView` shows its messages under the fields. While
connecting, the view shows a progress bar and a Cancel button; the connection itself runs in
the client's worker thread, so the window never freezes.

The name is checked here with the room's own rules (``validate_username``: invisible
characters, mixed writing systems…) and the reason shown under the field before anything is
sent. A failure can come with one button (:meth:`LoginView.show_failure`'s ``action``: "Trust
the new relay and connect", "Connect again"). **Your safety code…** shows this device's code.

**Paste invite** (and an invite found on the clipboard when the view opens) fills host, port
and password from an invite (``net.client.parse_invite``) and keeps its room id and relay key
for the request, as long as those three fields still say what the invite says.
"""

from __future__ import annotations

import dataclasses
import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass, field
from tkinter import ttk

from gui.errors import invite_problem_text
from gui.safetext import display_name
from gui.settings import Settings
from gui.theme import current_palette
from gui.validate import (
    check_address,
    check_password,
    check_port,
    check_username,
    format_address,
    split_host_port,
)
from gui.widgets import message_label
from net.client import (
    DEFAULT_ROOM,
    Invite,
    InviteError,
    InvitePart,
    looks_like_invite,
    parse_invite,
)
from net.reach import FoundRoom

MAX_ROOMS_SHOWN = 8


def room_line(room: FoundRoom) -> str:
    """How a found room reads in the list: ``alice's room · 192.168.1.20:7777``."""
    return f"{display_name(room.label)}  ·  {format_address(room.address, room.port)}"


@dataclass(frozen=True)
class LoginRequest:
    """What the person asked for: join ``host:port`` as ``username``; from an invite, also the
    room to ask for and the relay key to expect (``b""``: whatever relay answers, pinned then)."""

    host: str
    port: int
    password: str = field(repr=False)  # never in a log line or a test failure
    username: str
    room_id: bytes = DEFAULT_ROOM
    relay_key: bytes = b""
    #: Remember the room on this device once joined (its keys in the keyring, not this
    #: password): the app opens it again by itself next time.
    remember: bool = False


def validate_login(
    host: str,
    port: str,
    password: str,
    username: str,
) -> tuple[LoginRequest | None, dict[str, str]]:
    """Check the four fields; return the request, or ``None`` and a message per bad field.

    A port typed in the Host field (``example.org:7777``, ``[2001:db8::1]:7777``) wins over the
    Port field, which is then not checked.
    """
    errors: dict[str, str] = {}
    checked_host, checked_port, message = check_address(host)
    if message:
        errors["host"] = message
    if checked_port is None:
        checked_port, message = check_port(port)
        if message:
            errors["port"] = message
    checked_password, message = check_password(password)
    if message:
        errors["password"] = message
    checked_name, message = check_username(username)
    if message:
        errors["username"] = message
    if (
        errors
        or checked_host is None
        or checked_port is None
        or checked_password is None
        or checked_name is None
    ):
        return None, errors
    return LoginRequest(checked_host, checked_port, checked_password, checked_name), {}


class LoginView(ttk.Frame):
    """Grid this into the root; it calls ``on_connect(request)`` or ``on_host()``.

    Then the app calls :meth:`show_progress` while the client works, and either replaces the
    view with the chat window or calls :meth:`show_failure`. ``on_cancel`` is called when the
    person cancels a connection in progress.
    """

    FIELDS = ("host", "port", "password", "username")

    def __init__(
        self,
        master: tk.Misc,
        settings: Settings,
        *,
        on_connect: Callable[[LoginRequest], None],
        on_host: Callable[[], None],
        on_cancel: Callable[[], None],
        logo: tk.PhotoImage | None = None,
        on_safety_code: Callable[[], object] | None = None,
        rooms_list: bool = False,
        remember: bool = False,
    ) -> None:
        super().__init__(master, padding=(24, 20, 24, 16))
        self.rooms: tuple[FoundRoom, ...] = ()
        self._rooms_list = rooms_list
        self._on_connect = on_connect
        self._on_host = on_host
        self._on_cancel = on_cancel
        self._on_safety_code = on_safety_code
        self._failure_action: Callable[[], None] | None = None
        self.busy = False
        self.vars = {
            "host": tk.StringVar(self, settings.host),
            "port": tk.StringVar(self, str(settings.port)),
            "password": tk.StringVar(self, ""),
            "username": tk.StringVar(self, settings.username),
        }
        self.show_password = tk.BooleanVar(self, False)
        self.error_vars = {name: tk.StringVar(self, "") for name in self.FIELDS}
        self.failure = tk.StringVar(self, "")
        self.progress_text = tk.StringVar(self, "")
        self.invite: Invite | None = None
        self.invite_status = tk.StringVar(self, "")
        #: "Remember this room" (offered when the app can keep rooms in the keyring).
        self._remember_offered = remember
        self.remember = tk.BooleanVar(self, False)  # the person asks for it
        self.remember_note = tk.StringVar(self, "")
        self._remember_was = False  # its switch was disabled before progress locked it
        self._build(logo)
        for name, var in self.vars.items():
            # Clear a field's complaint as soon as it is edited: the message was about old text.
            var.trace_add("write", lambda *_args, name=name: self.error_vars[name].set(""))
            var.trace_add("write", lambda *_args: self._invite_still_applies())
        self.after_idle(self._invite_from_clipboard)

    # -- layout -------------------------------------------------------------------------

    def _build(self, logo: tk.PhotoImage | None) -> None:
        palette = current_palette(self)
        self.columnconfigure(1, weight=1)
        head = ttk.Frame(self)
        head.grid(row=0, column=0, columnspan=3, sticky="w", pady=(0, 14))
        if logo is not None:
            ttk.Label(head, image=logo).grid(row=0, column=0, rowspan=2, padx=(0, 12))
        ttk.Label(head, text="SocketChat", style="Title.TLabel").grid(row=0, column=1, sticky="w")
        ttk.Label(head, text="End-to-end encrypted group chat", foreground=palette.muted).grid(
            row=1, column=1, sticky="w"
        )

        self.entries: dict[str, ttk.Entry] = {}
        labels = {
            "host": "Host",
            "port": "Port",
            "password": "Room password",
            "username": "Your name",
        }
        row = 1
        for name in self.FIELDS:
            ttk.Label(self, text=labels[name]).grid(
                row=row, column=0, sticky="w", padx=(0, 12), pady=(6, 0)
            )
            entry = ttk.Entry(self, textvariable=self.vars[name], width=32)
            if name == "port":
                entry.configure(width=8)
                entry.grid(row=row, column=1, sticky="w", pady=(6, 0))
            else:
                entry.grid(row=row, column=1, sticky="ew", pady=(6, 0))
            self.entries[name] = entry
            if name == "password":
                entry.configure(show="•")
                ttk.Checkbutton(
                    self, text="Show", variable=self.show_password, command=self._toggle_password
                ).grid(row=row, column=2, padx=(8, 0), pady=(6, 0), sticky="w")
            message_label(
                self,
                self.error_vars[name],
                foreground=palette.warning,
                wraplength=340,
                grid={"row": row + 1, "column": 1, "columnspan": 2, "sticky": "w"},
            )
            row += 2
        hint = ttk.Frame(self)
        hint.grid(row=row, column=0, columnspan=3, sticky="ew", pady=(10, 0))
        hint.columnconfigure(0, weight=1)
        ttk.Label(
            hint,
            text="Ask the person who hosts the room for an invite, or for the host, port and "
            "password.",
            foreground=palette.muted,
            wraplength=330,
        ).grid(row=0, column=0, sticky="w")
        self.invite_button = ttk.Button(hint, text="Paste invite", command=self.paste_invite)
        self.invite_button.grid(row=0, column=1, sticky="e", padx=(8, 0))
        self.invite_label = message_label(
            hint,
            self.invite_status,
            foreground=palette.good,
            wraplength=420,
            grid={"row": 1, "column": 0, "columnspan": 2, "sticky": "w", "pady": (4, 0)},
        )
        self.remember_button = ttk.Checkbutton(
            hint,
            text="Remember this room on this device (its keys, never the password)",
            variable=self.remember,
        )
        self.remember_label = message_label(
            hint,
            self.remember_note,
            foreground=palette.muted,
            wraplength=420,
            grid={"row": 3, "column": 0, "columnspan": 2, "sticky": "w", "pady": (2, 0)},
        )
        if self._remember_offered:
            self.remember_button.grid(row=2, column=0, columnspan=2, sticky="w", pady=(8, 0))
        row += 1  # the rooms list (if any) takes the hint's next row; the rest follows it
        if self._rooms_list:
            self._build_rooms(row)

        self.failure_label = message_label(
            self,
            self.failure,
            foreground=palette.warning,
            wraplength=420,
            grid={"row": row + 1, "column": 0, "columnspan": 3, "sticky": "w", "pady": (10, 0)},
        )

        self.action_button = ttk.Button(self, text="", command=self.run_failure_action)
        self.action_button.grid(row=row + 2, column=0, columnspan=3, sticky="w", pady=(8, 0))
        self.action_button.grid_remove()

        self.progress_frame = ttk.Frame(self)
        self.progress_frame.grid(row=row + 3, column=0, columnspan=3, sticky="ew", pady=(10, 0))
        self.progress_frame.columnconfigure(1, weight=1)
        self.progressbar = ttk.Progressbar(self.progress_frame, mode="indeterminate", length=120)
        self.progressbar.grid(row=0, column=0, padx=(0, 10))
        ttk.Label(self.progress_frame, textvariable=self.progress_text).grid(
            row=0, column=1, sticky="w"
        )
        self.cancel_button = ttk.Button(self.progress_frame, text="Cancel", command=self.cancel)
        self.cancel_button.grid(row=0, column=2, padx=(10, 0))
        self.progress_frame.grid_remove()

        buttons = ttk.Frame(self)
        buttons.grid(row=row + 4, column=0, columnspan=3, sticky="ew", pady=(16, 0))
        buttons.columnconfigure(0, weight=1)
        self.code_button: ttk.Button | None = None
        if self._on_safety_code is not None:
            self.code_button = ttk.Button(
                buttons, text="Your safety code…", command=self._on_safety_code
            )
            self.code_button.grid(row=0, column=0, sticky="w", padx=(0, 8))
        self.host_button = ttk.Button(buttons, text="Host a room…", command=self.host)
        self.host_button.grid(row=0, column=1, padx=(0, 8))
        self.connect_button = ttk.Button(
            buttons, text="Connect", command=self.connect, style="Accent.TButton", default="active"
        )
        self.connect_button.grid(row=0, column=2)

        self.entries["host"].bind("<FocusOut>", lambda _e: self.split_host(), add="+")
        self.entries["host"].bind("<<Paste>>", lambda _e: self.after_idle(self.split_host), add="+")
        self.bind("<Return>", lambda _e: self.connect())
        for entry in self.entries.values():
            entry.bind("<Return>", self._on_entry_return)
            entry.bind("<KP_Enter>", self._on_entry_return)
            entry.bind("<Escape>", lambda _e: self.cancel() if self.busy else None)

    def _build_rooms(self, row: int) -> None:
        """ "Rooms on this network": what others announce (mDNS), filled in as found."""
        frame = ttk.Frame(self)
        frame.grid(row=row, column=0, columnspan=3, sticky="ew", pady=(14, 0))
        frame.columnconfigure(0, weight=1)
        ttk.Label(frame, text="Rooms on this network", style="Header.TLabel").grid(
            row=0, column=0, sticky="w"
        )
        self.rooms_status = tk.StringVar(self, "Looking for rooms…")
        ttk.Label(
            frame,
            textvariable=self.rooms_status,
            foreground=current_palette(self).muted,
            wraplength=420,
        ).grid(row=1, column=0, sticky="w")
        self.rooms_box = tk.Listbox(
            frame, height=3, activestyle="none", exportselection=False, font="SocketChatMono"
        )
        self.rooms_box.grid(row=2, column=0, sticky="ew", pady=(4, 0))
        self.rooms_box.bind("<<ListboxSelect>>", self._room_clicked)

    def show_rooms(self, rooms: tuple[FoundRoom, ...]) -> None:
        """The rooms announced right now (Tk thread). Labels and host names are hostile text:
        shown through :func:`gui.safetext.display_name` (invisible and control characters as
        markers, at most 40 characters); the address was parsed before it got here."""
        self.rooms = rooms[:MAX_ROOMS_SHOWN]
        if not self._rooms_list:
            return
        self.rooms_box.delete(0, "end")
        for room in self.rooms:
            self.rooms_box.insert("end", room_line(room))
        self.rooms_box.configure(height=max(3, min(len(self.rooms), MAX_ROOMS_SHOWN)))
        self.rooms_status.set(
            "Click one to fill in its host and port."
            if self.rooms
            else "None found yet. A room hosted here with “Announce” on appears by itself."
        )

    def rooms_unavailable(self, why: str) -> None:
        """Browsing could not start (no multicast, say): say so instead of "looking"."""
        if self._rooms_list:
            self.rooms_status.set(f"Cannot look for rooms on this network ({why}).")

    def _room_clicked(self, _event: object = None) -> None:
        selection = self.rooms_box.curselection()
        if selection and selection[0] < len(self.rooms):
            self.choose_room(self.rooms[selection[0]])

    def choose_room(self, room: FoundRoom) -> None:
        """Fill host and port from a listed room; the password is next."""
        if self.busy:
            return
        self.vars["host"].set(room.address)
        self.vars["port"].set(str(room.port))
        self.failure.set("")
        self.entries["password"].focus_set()

    # -- invites ------------------------------------------------------------------------

    def paste_invite(self) -> bool:
        """The Paste invite button: fill the fields from the invite on the clipboard."""
        if self.busy:
            return False
        try:
            text = self.clipboard_get()
        except tk.TclError:  # nothing on the clipboard, or not text
            text = ""
        return self.use_invite(text)

    def use_invite(self, text: str, *, found: bool = False) -> bool:
        """Fill host, port and password from the invite ``text`` (pasted, or ``found`` on the
        clipboard at start) and keep its room id and relay key; or say which part is wrong."""
        palette = current_palette(self)
        try:
            invite = parse_invite(text)
        except InviteError as error:
            what = "The invite on your clipboard" if found else "That"
            self.invite_label.configure(foreground=palette.warning)
            if error.part is InvitePart.NOT_AN_INVITE and not found:
                self.invite_status.set(
                    "The clipboard holds no invite. Copy the whole invite (it starts with "
                    "socketchat://), then Paste invite."
                )
            else:
                self.invite_status.set(f"{what} cannot be used: {invite_problem_text(error)}")
            return False
        self.invite = None  # while the fields change
        self.vars["host"].set(invite.host)
        self.vars["port"].set(str(invite.port))
        self.vars["password"].set(invite.passphrase)
        self.invite = invite
        self.failure.set("")
        self.invite_label.configure(foreground=palette.good)
        where = format_address(invite.host, invite.port)
        self.invite_status.set(
            f"{'Filled in from the invite on your clipboard' if found else 'Invite pasted'}: "
            f"the room at {where}. Its relay is checked before your password is used."
        )
        self.focus_first_empty()
        if self.vars["username"].get():
            self.connect_button.focus_set()
        return True

    def _invite_from_clipboard(self) -> None:
        """At start: an invite on the clipboard fills the fields (nothing else is read)."""
        if self.busy or self.invite is not None:
            return
        try:
            text = self.clipboard_get()
        except tk.TclError:
            return
        if looks_like_invite(text):
            self.use_invite(text, found=True)

    def _invite_still_applies(self) -> None:
        """Forget the invite's room and relay key once a field no longer says what it said."""
        invite = self.invite
        if invite is None:
            return
        fields = (self.vars["host"].get().strip(), self.vars["port"].get().strip())
        if fields != (invite.host, str(invite.port)) or (
            self.vars["password"].get() != invite.passphrase
        ):
            self.invite = None
            self.invite_status.set("")

    def remember_unavailable(self, why: str) -> None:
        """No keyring: Remember cannot be offered; ``why`` says so, plainly."""
        self.remember.set(False)
        self.remember_button.state(["disabled"])
        self.remember_note.set(why)

    def prefill(self, host: str, port: int, username: str, note: str = "") -> None:
        """Fill host, port and name (a remembered room whose keys are not here): only the
        password is left to type; ``note`` says why, where failures are said."""
        self.vars["host"].set(host)
        self.vars["port"].set(str(port))
        self.vars["username"].set(username)
        self.vars["password"].set("")
        self.clear_failure()
        if note:
            self.failure.set(note)
        self.focus_first_empty()

    def focus_first_empty(self) -> None:
        """Put the cursor where the person most likely types next."""
        for name in self.FIELDS:
            if not self.vars[name].get():
                self.entries[name].focus_set()
                return
        self.entries["password"].focus_set()

    def _toggle_password(self) -> None:
        self.entries["password"].configure(show="" if self.show_password.get() else "•")

    # -- actions ------------------------------------------------------------------------

    def split_host(self) -> bool:
        """Move a port typed after the host (``host:port``, ``[IPv6]:port``) into the Port
        field; returns whether it did."""
        split = split_host_port(self.vars["host"].get())
        if split is None:
            return False
        self.vars["host"].set(split[0])
        self.vars["port"].set(split[1])
        return True

    def entry_ok(self) -> LoginRequest | None:
        """Validate the fields, show a message under each bad one, return the request or None."""
        self.split_host()
        request, errors = validate_login(*(self.vars[name].get() for name in self.FIELDS))
        invite = self.invite
        if request is not None and invite is not None:
            # Still the invite's host, port and password (edits drop the invite): its room.
            request = dataclasses.replace(
                request, room_id=invite.room_id, relay_key=invite.relay_key
            )
        if request is not None and self._remember_offered and self.remember.get():
            request = dataclasses.replace(request, remember=True)
        for name in self.FIELDS:
            self.error_vars[name].set(errors.get(name, ""))
        if errors:
            self.entries[next(name for name in self.FIELDS if name in errors)].focus_set()
        elif request is not None and self.vars["host"].get().strip() != request.host:
            # "[2001:db8::1]:7777" typed in Host: show what will be used, each in its field.
            self.vars["host"].set(request.host)
            self.vars["port"].set(str(request.port))
        return request

    def connect(self) -> None:
        """The Connect button: validate, then hand the request to the app."""
        if self.busy:
            return
        self.clear_failure()
        request = self.entry_ok()
        if request is not None:
            self._on_connect(request)

    def _on_entry_return(self, _event: tk.Event) -> str:
        self.connect()
        return "break"

    def host(self) -> None:
        """The Host a room button."""
        if not self.busy:
            self.clear_failure()
            self._on_host()

    def cancel(self) -> None:
        """The Cancel button (or Escape) while connecting."""
        if self.busy:
            self._on_cancel()
            self.set_idle()
            self.progress_text.set("")

    # -- called by the app --------------------------------------------------------------

    def show_progress(self, text: str) -> None:
        """Show that work is under way (``text`` says which step); inputs stay locked."""
        if not self.busy:
            self.busy = True
            self.clear_failure()
            for widget in (
                *self.entries.values(),
                self.connect_button,
                self.host_button,
                self.invite_button,
            ):
                widget.state(["disabled"])
            self._remember_was = self.remember_button.instate(["disabled"])
            self.remember_button.state(["disabled"])
            self.progress_frame.grid()
            self.progressbar.start(15)
        self.progress_text.set(text)

    def show_failure(self, text: str, action: tuple[str, Callable[[], None]] | None = None) -> None:
        """Stop the progress display and explain what went wrong and what to do; ``action``
        (label, callable) adds a button under the explanation that does it."""
        self.set_idle()
        self.failure.set(text)
        self._failure_action = None
        if action is not None:
            label, self._failure_action = action
            self.action_button.configure(text=label)
            self.action_button.grid()
        else:
            self.action_button.grid_remove()
        self.focus_first_empty()

    def clear_failure(self) -> None:
        """Forget the last failure and its button (a new attempt starts)."""
        self.failure.set("")
        self._failure_action = None
        self.action_button.grid_remove()

    @property
    def failure_action_label(self) -> str:
        """The failure's button as shown ("" when there is none)."""
        return str(self.action_button.cget("text")) if self._failure_action else ""

    def run_failure_action(self) -> None:
        """The button under a failure: run what it offers. The failure stays shown until the
        action starts a new attempt (it may ask first, and the person may say no)."""
        action = self._failure_action
        if action is None or self.busy:
            return
        action()

    def set_idle(self) -> None:
        """Unlock the inputs and hide the progress bar."""
        self.busy = False
        self.progressbar.stop()
        self.progress_frame.grid_remove()
        for widget in (
            *self.entries.values(),
            self.connect_button,
            self.host_button,
            self.invite_button,
        ):
            widget.state(["!disabled"])
        if not self._remember_was:
            self.remember_button.state(["!disabled"])
