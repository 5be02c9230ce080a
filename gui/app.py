"""The desktop app: one window with the room list, the login view and each room's chat.

:func:`start` is what ``python main.py`` runs. :class:`App` owns the event pump and the rooms
(``gui/room.py``: each with its own client, its own relay when hosted here, its own chat
window) and routes every event to the room whose client or start produced it: to the login
view while a room started from it has not joined yet, then to the room's chat window. The
room list (``gui/roomlist.py``) sits beside the conversation once there is a room; only the
current room's chat window is shown; Ctrl+K jumps to a room by name. Closing the window from
any state stops every client, relay and room being started, then destroys the root: no thread
is left behind.

At start it loads this device's identity and trust records (``data_dir``, else the user's
data folder). An identity that cannot be loaded is reported (``gui/identity_problem.py``),
never replaced. Remembered rooms (``gui/saved.py``: their keys in the operating system's
keyring, never a password) are listed at once from ``rooms.json`` and opened as the keyring
gives their keys, one after the other, off the Tk thread; without a keyring the app says so
(in the login view) and remembers nothing secret.

The app wires each chat window's trust decisions and owner actions to that room's client,
offers the login's and the chat's buttons after a failure (Connect again, Rejoin, Back to
rooms, Trust the new relay and connect: the last only after a confirmation that explains the
risk), and pins the relay key of a room it hosts, so that its own client expects exactly that
relay. A room it hosts is owned by this device's identity.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import signal
import sys
import threading
import time
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

from crypto.identity import Identity
from crypto.kdf import RoomKeys
from gui import focusring
from gui.around import HostedServices, RoomFinder
from gui.chat import ChatWindow
from gui.crash import install_tk_handler
from gui.dialogs import ConfirmDialog, ask
from gui.errors import (
    CONNECT_AGAIN,
    TRUST_NEW_RELAY,
    failure_action,
    failure_text,
    host_error_text,
    not_the_invited_relay,
    trust_relay_question,
)
from gui.exporting import ExportDialog
from gui.history import FILE_NAME, LocalHistory
from gui.host import HostDialog, HostRequest
from gui.hosting import RoomFailed, RoomStarted, lan_addresses, start_room_in_background
from gui.icon import set_app_icon
from gui.identity_problem import IdentityProblemView, identity_problem_text
from gui.invite import InvitePanel
from gui.login import LoginRequest, LoginView
from gui.notify import DesktopNotifications
from gui.pump import EventPump
from gui.reach import ForRoom, OutsideSeen, ReachServices, ReachState, RoomsFound
from gui.room import NOT_IN_THE_ROOM, Room, RoomActions, RoomTrust
from gui.roomlist import JumpDialog, RoomList, RoomState
from gui.safetext import display_name
from gui.saved import (
    MAX_LABEL_CHARS,
    IndexEntry,
    LocalKey,
    MemoryEvent,
    MemoryFailed,
    MemoryOpened,
    RoomMemory,
    RoomsLoaded,
    SavedRoom,
    load_index,
    save_index,
)
from gui.screen import place_within
from gui.search import Hit, SearchPanel
from gui.settings import THEMES, config_dir, load_settings, room_key, save_settings
from gui.system_theme import system_prefers_dark
from gui.theme import Palette, apply_theme, clamp_zoom, set_zoom
from gui.validate import format_address
from gui.verify import SafetyCodeDialog
from net import client as ce
from net.client import (
    DEFAULT_ROOM,
    Archive,
    ArchiveError,
    ChatClient,
    ErrorKind,
    Keychain,
    PendingMessage,
    relay_address,
)
from net.reach import OutsideWatcher, Scope, listen_plan
from net.relay import RelayThread

__all__ = ["NOT_IN_THE_ROOM", "App", "quit_question", "start"]

#: What reaches the Tk thread through the pump: an event tagged with the generation of the
#: client or room start that produced it (0 for the app's own helpers).
AppEvent: TypeAlias = ce.ClientEvent | RoomStarted | RoomFailed | ForRoom | RoomsFound | MemoryEvent

EXIT_OK = 0
EXIT_NO_DISPLAY = 2
_LOGIN_SIZE = (480, 320)
_CHAT_SIZE = (920, 640)
_LIST_WIDTH = 230  # the room list's share of the window, beside the conversation
_OPEN_EVERY_MS = 40  # remembered rooms start one after the other, not all at once

#: ``confirm(title, text, button)``: ask a yes/no question; True only for ``button``.
Confirm: TypeAlias = Callable[[str, str, str], bool]


class App:
    """Build on a fresh ``tk.Tk`` root, then run ``root.mainloop()``.

    ``settings_dir``, ``data_dir`` (identity and trust records) and ``kdf_cost`` exist for tests
    (temporary folders, a cheap scrypt).
    ``confirm`` asks yes/no questions (tests replace it); ``notifications`` sends desktop
    notifications (tests pass one with a recording sender); ``system_dark`` says whether the
    system prefers dark (default: ask it, ``gui/system_theme.py``).
    ``bind_host``, if given, replaces
    the listening addresses that the host dialog's choice implies (tests: 127.0.0.1).
    ``reach`` is what the app may do on the network around a hosted room (ask the router,
    announce, browse): :meth:`ReachServices.off` unless given, so a test's app never does it;
    :func:`start` passes :meth:`ReachServices.real`. ``keychain`` opens the keyring where
    remembered rooms are kept (:meth:`Keychain.open` from :func:`start`); without it the app
    remembers no room and does not offer to.
    """

    def __init__(
        self,
        root: tk.Tk,
        *,
        settings_dir: Path | None = None,
        data_dir: Path | None = None,
        kdf_cost: int | None = None,
        bind_host: str | tuple[str, ...] | None = None,
        confirm: Confirm | None = None,
        notifications: DesktopNotifications | None = None,
        system_dark: Callable[[], bool | None] = system_prefers_dark,
        is_focused: Callable[[], bool] | None = None,
        reach: ReachServices | None = None,
        keychain: Callable[[], Keychain] | None = None,
    ) -> None:
        self.root = root
        # This device's identity (created on first start) and what it remembers about relays
        # and members. A damaged identity file is reported at start, never replaced silently.
        self.data_dir = data_dir
        self.identity: Identity | None = None
        self.identity_problem = ""
        try:
            self.identity = ce.load_identity(data_dir)
        except (OSError, ValueError) as error:
            self.identity_problem = identity_problem_text(error)
        self.trust = ce.open_trust(data_dir)
        self.settings_dir = settings_dir
        self.settings = load_settings(settings_dir)
        self._system_dark = system_dark() if self.settings.theme == "system" else None
        self._system_dark_asked = self.settings.theme == "system"
        self._system_dark_reader = system_dark
        self.theme = tk.StringVar(root, self.settings.theme)
        self.zoom = clamp_zoom(self.settings.zoom)
        self.palette: Palette = apply_theme(root, dark=self._dark(), zoom=self.zoom)
        focusring.install(root)
        self.icons = set_app_icon(root)
        self._logo = self._load_logo()
        self.notifications = notifications or DesktopNotifications()
        self._is_focused = is_focused
        self.view_menus: dict[int, tk.Menu] = {}  # by room token
        self.kdf_cost = kdf_cost
        self.bind_host = bind_host
        self.confirm = confirm or self._ask_yes_no
        self.services = reach or ReachServices.off()
        self.sound = tk.BooleanVar(root, self.settings.sound)
        self.pump = EventPump(root, self._dispatch, after_batch=self._after_batch)
        # "Rooms on this network" for the login view (browsing only with real services).
        self.finder = RoomFinder(root, self.services, self.pump.put, self._in_background)
        self.rooms: list[Room] = []  # the room list, in order
        self.current: Room | None = None  # the room shown; None: the login view
        self.joining: Room | None = None  # started from the login view, not joined yet
        self._tokens = itertools.count(1)
        self._generation = 0  # the last one given out; events of older ones are dropped
        self._by_generation: dict[int, Room] = {}
        self._dirty: set[Room] = set()  # rooms whose conversation got events this batch
        #: The login view's last request (Connect again, Trust the new relay and connect).
        self.last_request: LoginRequest | None = None
        self.host_dialog: HostDialog | None = None
        self.login: LoginView | None = None
        self.problem: IdentityProblemView | None = None
        self.code_dialog: SafetyCodeDialog | None = None
        self.jump: JumpDialog | None = None
        self._closers: list[threading.Thread] = []
        self.closed = False
        # Remembered rooms: the keyring on a thread of its own.
        self.memory = RoomMemory(self.pump.put, keychain) if keychain is not None else None
        self.memory_available: bool | None = None  # None: not asked yet (or no keychain)
        self.memory_why = ""  # why nothing secret is remembered
        # The local history (its key from the keyring): past conversations, search, export.
        self.history: LocalHistory | None = None
        self.history_problem = ""  # why there is none, once said
        self._history_told = False
        self.keep_history = tk.BooleanVar(root, self.settings.keep_history)
        self.keep_history.trace_add("write", lambda *_: self._keep_history_changed())
        self.search_panel: SearchPanel | None = None
        root.title("SocketChat")
        root.protocol("WM_DELETE_WINDOW", self.request_close)
        root.columnconfigure(1, weight=1)
        root.rowconfigure(0, weight=1)
        self.room_list = RoomList(
            root,
            on_choose=self.choose_room,
            on_new=self.show_login,
            room_menu=self.room_menu,
            on_enter=self._focus_conversation,
            palette=self.palette,
        )
        for sequence in ("<Control-plus>", "<Control-equal>", "<Control-KP_Add>"):
            root.bind(sequence, lambda _e: self.change_zoom(1))
        for sequence in ("<Control-minus>", "<Control-KP_Subtract>"):
            root.bind(sequence, lambda _e: self.change_zoom(-1))
        for sequence in ("<Control-Key-0>", "<Control-KP_0>", "<Control-KP_Insert>"):
            root.bind(sequence, lambda _e: self.change_zoom(None))
        for sequence in ("<Control-k>", "<Control-K>"):
            root.bind(sequence, lambda _e: self.open_jump())
        root.bind("<FocusIn>", self._window_focused, add="+")
        if self.identity is None:
            self.show_identity_problem()
        else:
            self._list_remembered()
            if self.rooms:
                self.choose_room(self.rooms[0].token)
            else:
                self.show_login()
        self.pump.start()
        if self.memory is not None and self.identity is not None:
            self.memory.start()

    # -- the current room ---------------------------------------------------------------------

    @property
    def chat(self) -> ChatWindow | None:
        """The chat window shown (None while the login view is)."""
        return self.current.chat if self.current is not None else None

    def _focus_room(self) -> Room | None:
        """The room the window is about: the current one, else the one being joined."""
        return self.current if self.current is not None else self.joining

    @property
    def client(self) -> ChatClient | None:
        room = self._focus_room()
        return room.client if room is not None else None

    @property
    def relay(self) -> RelayThread | None:
        room = self._focus_room()
        return room.relay if room is not None else None

    @property
    def reach(self) -> ReachState | None:
        room = self._focus_room()
        return room.reach if room is not None else None

    @property
    def invite(self) -> InvitePanel | None:
        room = self.current
        return room.invite if room is not None else None

    @property
    def hosting(self) -> HostRequest | None:
        room = self._focus_room()
        return room.hosting if room is not None else None

    @property
    def request(self) -> LoginRequest | None:
        room = self._focus_room()
        if room is not None and room.request is not None:
            return room.request
        return self.last_request

    @property
    def view_menu(self) -> tk.Menu | None:
        room = self.current
        return self.view_menus.get(room.token) if room is not None else None

    def room_of(self, token: int) -> Room | None:
        return next((room for room in self.rooms if room.token == token), None)

    # -- look ---------------------------------------------------------------------------

    def _dark(self) -> bool:
        theme = self.theme.get()
        if theme == "system":
            if not self._system_dark_asked:
                self._system_dark = self._system_dark_reader()
                self._system_dark_asked = True
            return bool(self._system_dark)
        return theme == "dark"

    def set_theme(self, theme: str) -> None:
        """View → Theme: "system", "light" or "dark"; every window follows, and it is
        remembered."""
        if theme not in THEMES:
            raise ValueError(f"unknown theme {theme!r}")
        self.theme.set(theme)
        self.palette = apply_theme(self.root, dark=self._dark(), zoom=self.zoom)
        for room in self.rooms:
            if room.chat is not None:
                room.chat.apply_palette(self.palette)
        for menu in self.view_menus.values():
            self._colour_menu(menu)
        self.room_list.apply_palette(self.palette)
        if self.login is not None:  # its coloured labels were made with the old palette
            shown = self.current is None
            busy = self.login.busy
            if not busy:
                self.login.destroy()
                self.login = None
                if shown:
                    self.show_login()
        for room in self.rooms:
            if room.invite is not None and room.invite.winfo_exists():
                room.invite.destroy()
                room.invite = None
                self.show_invite(room)
        self._save(theme=theme)

    def change_zoom(self, steps: int | None) -> str:
        """Ctrl+plus / Ctrl+minus (``steps`` ±1) and Ctrl+0 (``None``: back to 100 %)."""
        zoom = 0 if steps is None else self.zoom + steps
        if self.chat is not None:
            self.chat.messages.hold_pin()
        self.zoom = set_zoom(self.root, zoom)
        for room in self.rooms:
            if room.chat is not None:
                room.chat.messages.update_wrap_width()
        self._save(zoom=self.zoom)
        return "break"

    def _build_view_menu(self, master: tk.Misc, room: Room) -> tk.Menu:
        menu = tk.Menu(master, tearoff=False)
        for value, label in (
            ("system", "Theme: follow the system"),
            ("light", "Theme: light"),
            ("dark", "Theme: dark"),
        ):
            menu.add_radiobutton(
                label=label,
                value=value,
                variable=self.theme,
                command=functools.partial(self.set_theme, value),
            )
        menu.add_separator()
        menu.add_command(label="Zoom in", accelerator="Ctrl++", command=lambda: self.change_zoom(1))
        menu.add_command(
            label="Zoom out", accelerator="Ctrl+-", command=lambda: self.change_zoom(-1)
        )
        menu.add_command(
            label="Actual size", accelerator="Ctrl+0", command=lambda: self.change_zoom(None)
        )
        menu.add_separator()
        menu.add_checkbutton(label="Mute this room", variable=room.muted)
        menu.add_checkbutton(label="Sound for new messages", variable=self.sound)
        if self.memory is not None:
            menu.add_checkbutton(label="Keep history on this device", variable=self.keep_history)
        menu.add_separator()
        menu.add_command(
            label="Jump to a room…", accelerator="Ctrl+K", command=lambda: self.open_jump()
        )
        menu.add_command(label="Search…", accelerator="Ctrl+F", command=lambda: self.open_search())
        self._colour_menu(menu)
        self.view_menus[room.token] = menu
        return menu

    def _colour_menu(self, menu: tk.Menu) -> None:
        p = self.palette
        menu.configure(
            background=p.surface,
            foreground=p.text,
            activebackground=p.selection,
            activeforeground=p.text,
            disabledforeground=p.muted,
            selectcolor=p.text,
        )

    def _mute_key(self, room: Room) -> str:
        return room_key("your room" if room.hosting else room.host, room.port)

    def _watch_mute(self, room: Room) -> None:
        """The room's Mute switch starts as remembered, and is remembered when changed."""
        room.muted.set(self._mute_key(room) in self.settings.muted_rooms)
        room.muted.trace_add("write", lambda *_: self._muted_changed(room))

    def _muted_changed(self, room: Room) -> None:
        key = self._mute_key(room)
        rooms = [other for other in self.settings.muted_rooms if other != key]
        if room.muted.get():
            rooms.append(key)
        self._save(muted_rooms=tuple(rooms[-200:]))

    def _save(self, **changes: object) -> None:
        self.settings = dataclasses.replace(self.settings, **changes)  # type: ignore[arg-type]
        save_settings(self.settings, self.settings_dir)

    # -- views --------------------------------------------------------------------------

    def show_login(self) -> None:
        """Show the login view: the first window, Join or host a room…, Back to rooms.
        While a room started from it is still joining, the same view (with its progress)
        comes back."""
        if self.identity is None:
            return
        self._hide_current()
        self.current = None
        if self.login is None:
            self.login = LoginView(
                self.root,
                self.settings,
                on_connect=self.connect,
                on_host=self.open_host_dialog,
                on_cancel=self.cancel_connect,
                logo=self._logo,
                on_safety_code=self.show_safety_code,
                rooms_list=self.finder.enabled,
                remember=self.memory is not None,
            )
            if self.memory_available is False:
                self.login.remember_unavailable(self.memory_why)
        self.login.grid(row=0, column=1, sticky="nsew")
        self.finder.start_soon()
        self.root.title("SocketChat")
        self._layout()
        self.login.focus_first_empty()
        self._refresh_rooms()

    def _hide_current(self) -> None:
        """Take the current view off the window (the room stays as it is)."""
        if self.current is not None and self.current.chat is not None:
            self.current.chat.grid_remove()
        if self.login is not None:
            if self.login.busy:
                self.login.grid_remove()  # its attempt goes on; Join or host shows it again
            else:
                self.login.destroy()
                self.login = None
                self.finder.stop()

    def _layout(self) -> None:
        """The room list beside the view once there is a room; the window's size for it."""
        listed = bool(self.rooms)
        if listed:
            self.room_list.grid(row=0, column=0, sticky="ns")
        else:
            self.room_list.grid_remove()
        extra = _LIST_WIDTH if listed else 0
        if self.current is None:
            self.root.minsize(_LOGIN_SIZE[0] + extra, _LOGIN_SIZE[1])
            if not listed:
                self.root.geometry("")  # the login view's natural size
        else:
            self.root.minsize(640 + extra, 420)

    def show_identity_problem(self) -> None:
        """Instead of the login view: this device's identity cannot be loaded (and is not
        replaced); say why, where it lives, and offer Quit."""
        folder = self.data_dir
        if folder is None:
            with contextlib.suppress(Exception):  # only for the text: never fail here
                folder = ce.data_dir()
        self.problem = IdentityProblemView(
            self.root, text=self.identity_problem, folder=folder, on_quit=self.close
        )
        self.problem.grid(row=0, column=1, sticky="nsew")
        self.root.title("SocketChat — cannot start")
        self.root.minsize(*_LOGIN_SIZE)
        self.problem.quit_button.focus_set()

    def show_safety_code(self) -> SafetyCodeDialog | None:
        """ "Your safety code…" from the login view: this device's code, to read aloud."""
        if self.identity is None:
            return None
        if self.code_dialog is not None and self.code_dialog.winfo_exists():
            self.code_dialog.lift()
            return self.code_dialog
        self.code_dialog = SafetyCodeDialog(self.root, self.identity.public)
        return self.code_dialog

    def choose_room(self, token: int) -> None:
        """Show the room ``token`` (a click in the room list, Ctrl+K, a remembered room at
        start). A remembered room that is closed opens (or, without its keys, the login view
        comes with its host, port and name filled in)."""
        room = self.room_of(token)
        if room is None or (room is self.current and room.chat is not None):
            return
        if room.state is RoomState.CLOSED and not self._reopen(room):
            return
        self._hide_current()
        self.current = room
        if room.chat is None:
            self._make_chat(room, None)
        chat = room.chat
        assert chat is not None
        chat.grid(row=0, column=1, sticky="nsew")
        chat.update_title()
        self._layout()
        place_within(self.root, (_CHAT_SIZE[0] + _LIST_WIDTH, _CHAT_SIZE[1]))
        if self._window_has_focus():
            chat.mark_read()
        self._refresh_rooms()

    def _focus_conversation(self, token: int) -> None:
        """Enter in the room list: the keyboard goes to the room's compose box."""
        self.choose_room(token)
        room = self.room_of(token)
        if room is not None and room.chat is not None:
            room.chat.entry.focus_set()

    def open_jump(self) -> str:
        """Ctrl+K: a small box to jump to a room by typing part of its name."""
        if not self.rooms:
            return "break"
        if self.jump is not None and self.jump.winfo_exists():
            self.jump.lift()
            return "break"
        self.jump = JumpDialog(
            self.root,
            [room.row() for room in self.rooms],
            on_jump=self._focus_conversation,
            palette=self.palette,
        )
        return "break"

    def _refresh_rooms(self) -> None:
        """The room list says what the rooms are now (after any change of state or count)."""
        current = self.current.token if self.current is not None else None
        self.room_list.show([room.row() for room in self.rooms], current)

    def _window_has_focus(self) -> bool:
        if self._is_focused is not None:
            return self._is_focused()
        try:
            return self.root.focus_displayof() is not None
        except (KeyError, tk.TclError):
            return False

    def _window_focused(self, _event: tk.Event) -> None:
        if self.chat is not None:
            self.chat.mark_read()

    # -- a room's chat window -------------------------------------------------------------------

    def _make_chat(self, room: Room, event: ce.Joined | None) -> ChatWindow:
        """The room's chat window, made the first time it is shown or joins (``event``);
        events that came before are replayed to it."""
        identity = self.identity
        room_id = event.room_id if event is not None else room.room_id
        title = f"Your room · port {room.port}" if room.hosting else f"Room {room.address}"
        if room.entry is not None:
            title = room.label
        chat = ChatWindow(
            self.root,
            room=room.address,
            room_title=title,
            username=event.your_name if event is not None else room.username,
            members=tuple(event.members) if event is not None else (),
            send=lambda text: self._send(room, text),
            max_message_bytes=event.max_message_bytes if event is not None else 4000,
            palette=self.palette,
            sound=self.sound,
            on_invite=(lambda: self.show_invite(room)) if room.hosting else None,
            notify=self.notifications.show,
            muted=room.muted,
            view_menu=lambda master: self._build_view_menu(master, room),
            is_focused=lambda: self.current is room and self._window_has_focus(),
            identity=identity.public if identity is not None else None,
            trust=RoomTrust(room, self.trust, room_id),
            on_reconnect=lambda: self.rejoin(room),
            on_trust_relay=lambda: self.trust_new_relay_from_chat(room),
            actions=RoomActions(room, room_id),
            on_retry_now=lambda: self.retry_now(room),
            on_back=lambda: self.back_to_rooms(room),
            shown=lambda: self.current is room,
            on_unread=self._refresh_rooms,
            joined=event is not None,
            on_jump=self.open_jump,
            on_search=self.open_search,
        )
        room.chat = chat
        if self.history is not None and room_id:
            chat.show_kept(self.history.latest(room_id))  # where the conversation left off
        self._tell_history_problem(chat)
        if event is not None:
            chat.handle(event)
        for early in room.take_early():  # told before the window existed
            chat.handle(early)
        chat.flush()
        return chat

    def open_host_dialog(self, initial: HostRequest | None = None, error: str = "") -> None:
        """The Host a room button: ask for port, passphrase and name."""
        if self.login is None or self.login.busy:
            return  # only from the login view, and not while already connecting
        if self.host_dialog is not None and self.host_dialog.winfo_exists():
            self.host_dialog.lift()
            return
        username = self.login.vars["username"].get() if self.login else self.settings.username
        self.host_dialog = HostDialog(
            self.root, on_done=self._host_chosen, username=username, initial=initial, error=error
        )

    def show_invite(self, room: Room | None = None) -> None:
        """Open (or raise) the invite panel of a room hosted here (the current one)."""
        room = room or self.current
        if room is None or room.hosting is None or room.relay is None:
            return
        if room.invite is not None and room.invite.winfo_exists():
            room.invite.lift()
            return
        secret = room.relay.relay.secret
        room.invite = InvitePanel(
            self.root,
            addresses=self._invite_addresses(room),
            port=room.relay.port or room.hosting.port,
            password=room.hosting.password,
            room_id=secret.room_id,
            relay_key=secret.relay_key,
            state=room.reach,
        )

    def _hosted_password_changed(self, room: Room, password: str) -> None:
        """We changed the password of a room we host: its invite carries the new one."""
        if room.hosting is None:
            return
        room.hosting = dataclasses.replace(room.hosting, password=password)
        if room.invite is not None and room.invite.winfo_exists():
            room.invite.destroy()
            room.invite = None
            self.show_invite(room)

    def _invite_addresses(self, room: Room) -> list[str]:
        if room.hosting is not None and room.hosting.scope is Scope.COMPUTER:
            return []  # nobody else can join: the panel says "only this computer"
        return lan_addresses()

    # -- connecting from the login view ----------------------------------------------------------

    def connect(self, request: LoginRequest) -> None:
        """Join ``request``'s room: the client derives keys and connects in its thread."""
        if self.identity is None:
            return  # no identity: the problem view is shown instead of the login
        self.last_request = request
        room = self.joining = Room(next(self._tokens), self.root)
        room.request = request
        room.label = format_address(request.host, request.port)
        if self.login is not None:
            self.login.show_progress(f"Connecting to {format_address(request.host, request.port)}…")
        if request.relay_key:  # from an invite: expect its relay from the first connection on
            invite = ce.Invite(
                request.host, request.port, request.room_id, request.relay_key, request.password
            )
            ce.pin_invite(self.trust, invite)
        self._start_client(
            room,
            request.host,
            request.port,
            request.username,
            password=request.password,
            room_id=request.room_id,
        )

    def connect_again(self) -> None:
        """ "Connect again" after a login was interrupted: the same request, started by the
        person (the client never retries by itself once the password was at stake)."""
        request = self.last_request
        if request is not None and self.login is not None and not self.login.busy:
            self.connect(request)

    def trust_new_relay(self) -> None:
        """ "Trust the new relay and connect" in the login view: after a confirmation, forget
        the relay key pinned for this address and connect; the new relay's key is pinned."""
        request = self.last_request
        if request is None or self.login is None or self.login.busy:
            return
        if not self.confirm(
            "Trust the new relay?",
            trust_relay_question(request.host, request.port),
            TRUST_NEW_RELAY,
        ):
            return
        self.trust.forget_relay(relay_address(request.host, request.port, DEFAULT_ROOM))
        self.connect(request)

    def cancel_connect(self) -> None:
        """Cancel while connecting or while the room is starting."""
        room, self.joining = self.joining, None
        if room is None:
            return
        self._forget_generation(room)
        self._stop_client(room)
        if room.starter is not None:
            starter, room.starter = room.starter, None
            starter.cancelled.set()  # the worker stops a relay that starts anyway
        self._stop_relay(room)

    def _host_chosen(self, request: HostRequest | None) -> None:
        self.host_dialog = None
        if request is None or self.login is None:
            return
        room = self.joining = Room(next(self._tokens), self.root)
        room.hosting = request
        room.request = LoginRequest("127.0.0.1", request.port, request.password, request.username)
        room.label = f"Your room · port {request.port}"
        self.login.show_progress(f"Starting your room on port {request.port}…")
        generation = self._new_generation(room)
        put = self.pump.put
        addresses = lan_addresses() if request.scope is not Scope.COMPUTER else []
        reach = room.reach = ReachState(
            scope=request.scope,
            port=request.port,
            asked_router=request.maps_port and self.services.mapper is not None,
            lan_address=addresses[0] if addresses else "",
        )
        plan = listen_plan(request.scope)
        accept_peer = plan.accept_peer
        if request.scope is Scope.EVERYONE:
            # Lets everyone in, and tells the invite panel when someone from outside came.
            accept_peer = OutsideWatcher(
                lambda peer: put((0, ForRoom(reach, OutsideSeen(peer, time.strftime("%H:%M")))))
            )
        room.starter = start_room_in_background(
            request.password,
            request.port,
            lambda event: put((generation, event)),
            bind_host=plan.host if self.bind_host is None else self.bind_host,
            accept_peer=accept_peer,
            kdf_cost=self.kdf_cost,
            owner=self.identity,  # the host owns the room: appoints admins, removes members
            history_for_newcomers=request.history_for_newcomers,
        )

    # -- events -------------------------------------------------------------------------

    def _dispatch(self, item: tuple[int, AppEvent]) -> None:
        generation, event = item
        if isinstance(event, RoomsFound):  # from the login view's browser: no generation
            self._rooms_found(event)
            return
        if isinstance(event, ForRoom):  # a hosted room's services: dropped once it is closed
            self._reach_event(event)
            return
        if isinstance(event, MemoryOpened | RoomsLoaded | MemoryFailed | LocalKey):
            self._memory_event(event)
            return
        room = self._by_generation.get(generation)
        if room is None or room.generation != generation:
            if isinstance(event, RoomStarted):
                event.relay.stop()  # a room nobody waits for any more
            return
        if isinstance(event, RoomStarted):
            self._room_started(room, event)
        elif isinstance(event, RoomFailed):
            self._room_failed(room, event)
        elif room is self.joining:
            self._login_event(room, event)
        else:
            self._room_event(room, event)

    def _room_event(self, room: Room, event: ce.ClientEvent) -> None:
        """An event of a room in the list: its state for the list, then its chat window."""
        before = room.state
        if isinstance(event, ce.Joined):
            room.state = RoomState.JOINED
            room.room_id = event.room_id
            self._pin_default_room(room)
            self._keep_remembered_keys(room)
        elif isinstance(event, ce.Disconnected):
            room.state = RoomState.RECONNECTING
        elif isinstance(event, ce.Failed):
            room.state = RoomState.FAILED
        elif isinstance(event, ce.Connecting) and room.state is RoomState.FAILED:
            room.state = RoomState.CONNECTING  # a Rejoin
        if isinstance(event, ce.PasswordChanged) and event.own and event.password:
            self._hosted_password_changed(room, event.password)
        if isinstance(event, ce.MessageReceived) and self.history is not None and room.room_id:
            self.history.touched(room.room_id)  # its client records it: search looks again
        if room.chat is None:
            if isinstance(event, ce.Joined):
                self._make_chat(room, event)
            else:
                room.keep_early(event)
        else:
            room.chat.handle(event)
            self._dirty.add(room)
        if room.state is not before:
            self._refresh_rooms()

    def _login_event(self, room: Room, event: ce.ClientEvent) -> None:
        login = self.login
        if login is None:
            return
        if isinstance(event, ce.DerivingKeys):
            login.show_progress("Deriving the room key from the password…")
        elif isinstance(event, ce.Queued):
            login.show_progress(_queued_text(event.position))
        elif isinstance(event, ce.Connecting):
            where = "your room" if room.hosting else room.address
            login.show_progress(f"Connecting to {where}…")
        elif isinstance(event, ce.IdentityChanged | ce.OutboxRestored):
            room.keep_early(event)  # the chat window shows it once it exists
        elif isinstance(event, ce.Joined):
            self._joined_from_login(room, event)
        elif isinstance(event, ce.Failed):
            self._login_failed(room, event)

    def _login_failed(self, room: Room, event: ce.Failed) -> None:
        login = self.login
        assert login is not None
        request = room.request
        hosted = room.hosting is not None
        self.joining = None
        self._forget_generation(room)
        self._stop_client(room)
        self._stop_relay(room)
        text = failure_text(
            event.kind,
            event.message,
            host=request.host if request else "",
            port=request.port if request else 0,
            username=request.username if request else "",
        )
        label = failure_action(event.kind)
        action: tuple[str, Callable[[], None]] | None = None
        if event.kind is ErrorKind.RELAY_CHANGED and request is not None and request.relay_key:
            # The invite named the relay: trusting another one would overrule it.
            text, label = not_the_invited_relay(request.host, request.port), None
        if label is not None and request is not None and not hosted:
            if event.kind is ErrorKind.RELAY_CHANGED:
                action = (TRUST_NEW_RELAY, self.trust_new_relay)
            elif label == CONNECT_AGAIN:
                action = (CONNECT_AGAIN, self.connect_again)
        login.show_failure(text, action)

    def _joined_from_login(self, room: Room, event: ce.Joined) -> None:
        """The room started from the login view is in: it joins the list and is shown."""
        self.joining = None
        room.state = RoomState.JOINED
        room.room_id = event.room_id
        self._remember_login(room)
        # A remembered room joined again by password (its keys were not here): one row.
        for other in list(self.rooms):
            if other.room_id == event.room_id and other.state is RoomState.CLOSED:
                room.entry, room.label = other.entry, other.label
                self.rooms.remove(other)
        self._watch_mute(room)
        self.rooms.append(room)
        if self.login is not None:
            self.login.destroy()
            self.login = None
        self.finder.stop()
        self._make_chat(room, event)
        if self.current is not None and self.current.chat is not None:
            self.current.chat.grid_remove()
        self.current = None
        self.choose_room(room.token)
        chat = room.chat
        assert chat is not None
        chat.entry.focus_set()
        request = room.request
        if request is not None and request.remember and room.hosting is None:
            self.remember_room(room)
        elif room.entry is not None:
            self._keep_remembered_keys(room)
        if room.hosting is not None:
            self.show_invite(room)

    def _room_started(self, room: Room, event: RoomStarted) -> None:
        room.starter = None
        room.relay = event.relay
        hosting = room.hosting
        if hosting is None or self.login is None or room is not self.joining:
            self._stop_relay(room)  # cancelled meanwhile: the room goes too
            return
        room.request = LoginRequest("127.0.0.1", event.port, hosting.password, hosting.username)
        room.label = f"Your room · port {event.port}"
        if event.relay_key:
            # Our own client must expect this room's relay, not one hosted here before.
            address = relay_address("127.0.0.1", event.port, DEFAULT_ROOM)
            self.trust.forget_relay(address)
            self.trust.pin_relay(address, event.relay_key)
        self.login.show_progress("Joining your room…")
        self._start_client(room, "127.0.0.1", event.port, hosting.username, keys=event.keys)
        if room.reach is not None:
            room.hosted = HostedServices(
                self.services, room.reach, self.pump.put, self._in_background
            )
            room.hosted.start(hosting, event.port)

    def _room_failed(self, room: Room, event: RoomFailed) -> None:
        room.starter = None
        request = room.hosting
        self.joining = None
        self._forget_generation(room)
        if self.login is None:
            return
        self.login.set_idle()
        self.open_host_dialog(initial=request, error=host_error_text(event.error, event.port))

    # -- around hosted rooms: the router, the announcement, rooms found ------------------------

    def _reach_event(self, item: ForRoom) -> None:
        for room in [*self.rooms, *([self.joining] if self.joining else [])]:
            if room.reach is not None and item.room is room.reach:
                room.reach.apply(item.event)
                if room.invite is not None and room.invite.winfo_exists():
                    room.invite.refresh(room.reach)
                return  # a room that is closed is no longer listed: dropped

    def _stop_reach(self, room: Room) -> None:
        """The hosted room is closing: the mapping and the announcement go too."""
        hosted, room.hosted = room.hosted, None
        if hosted is not None:
            hosted.stop()
        room.reach = None

    def _rooms_found(self, event: RoomsFound) -> None:
        if self.login is None:
            return
        if event.error:
            self.login.rooms_unavailable(event.error)
        else:
            self.login.show_rooms(event.rooms)

    def _after_batch(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for room in dirty:
            if room.chat is not None:
                room.chat.flush()

    def _send(self, room: Room, text: str) -> PendingMessage:
        if room.client is None:
            raise ValueError("Not connected to a room.")
        return room.client.send(text)

    def _remember_login(self, room: Room) -> None:
        """After a join from the login view: its host, port and name fill the next login."""
        request = room.request
        if request is None:
            return
        if room.hosting is not None:
            self._save(username=request.username, sound=self.sound.get())
        else:
            self._save(
                host=request.host,
                port=request.port,
                username=request.username,
                sound=self.sound.get(),
            )

    # -- a room's life after joining -------------------------------------------------------------

    def retry_now(self, room: Room) -> None:
        """Retry now in a chat's connection banner: the client stops waiting and tries."""
        if room.client is not None:
            room.client.retry_now()

    def rejoin(self, room: Room) -> None:
        """Rejoin in a chat window after a final failure: a new client with the same
        keys, identity and trust, asking for the room joined before."""
        old = room.client
        if old is None:
            return
        self._stop_client(room)
        request = room.request
        self._start_client(
            room,
            old.host,
            old.port,
            old.username,
            # The password too (when known), should the relay hold a new room by that name.
            password=request.password if request is not None else None,
            keys=old.keys,
            room_id=old.ask_room,
        )

    def back_to_rooms(self, room: Room) -> None:
        """Back to rooms after a final failure: the room closes (a room hosted here closes
        for everyone, after a question) and the login view comes back in the same window;
        a remembered room stays in the list, closed, to open again later."""
        if not self._may_close_hosted_room(room, "Going back to your rooms"):
            return
        self.close_room(room)
        self.show_login()

    def close_room(self, room: Room) -> None:
        """Stop the room's client (and relay), drop its chat window; it leaves the list
        unless it is remembered (then it stays, closed)."""
        self._forget_generation(room)
        self._stop_client(room)
        self._stop_relay(room)
        room.hosting = None
        room.drop_chat()
        self.view_menus.pop(room.token, None)
        if self.current is room:
            self.current = None
        if room.remembered:
            room.state = RoomState.CLOSED
        elif room in self.rooms:
            self.rooms.remove(room)
        self._refresh_rooms()
        self._layout()

    def _reopen(self, room: Room) -> bool:
        """A closed remembered room was chosen: open it with its keys (True), or, without
        them, show the login view with its host, port and name (False)."""
        if room.saved is not None and self.identity is not None:
            self._open_saved(room)
            return True
        self.show_login()
        if self.login is not None and not self.login.busy:
            note = (
                "Type the room password to open this room again: this device does not have "
                "its keys."
            )
            if self.memory_available is False:
                note = f"{self.memory_why} Type the room password to open this room again."
            self.login.prefill(room.host, room.port, room.username, note)
        return False

    def _pin_default_room(self, room: Room) -> None:
        """Joined with the room's id (a Rejoin, a remembered room): the next fresh login
        asks for the default room at this address, so it must expect the same relay. Fills a
        missing pin only (one forgotten by "Trust the new relay")."""
        client = room.client
        if client is None or not client.room_id:
            return
        key = self.trust.relay_key(relay_address(client.host, client.port, client.room_id))
        if key is not None:
            self.trust.pin_relay(relay_address(client.host, client.port, DEFAULT_ROOM), key)

    def trust_new_relay_from_chat(self, room: Room) -> None:
        """The chat's "Trust the new relay and connect" after RELAY_CHANGED on a reconnect."""
        client = room.client
        if client is None or room.chat is None:
            return
        if not self.confirm(
            "Trust the new relay?", trust_relay_question(client.host, client.port), TRUST_NEW_RELAY
        ):
            return
        for asked in {client.ask_room, DEFAULT_ROOM}:
            self.trust.forget_relay(relay_address(client.host, client.port, asked))
        room.chat.reconnect()

    def _new_generation(self, room: Room) -> int:
        self._forget_generation(room)
        self._generation += 1
        room.generation = self._generation
        self._by_generation[room.generation] = room
        return room.generation

    def _forget_generation(self, room: Room) -> None:
        """Whatever the room's current client or start still says is dropped from now on."""
        self._by_generation.pop(room.generation, None)
        room.generation = 0

    def _start_client(
        self,
        room: Room,
        host: str,
        port: int,
        username: str,
        *,
        password: str | None = None,
        keys: RoomKeys | None = None,
        room_id: bytes = DEFAULT_ROOM,
    ) -> None:
        identity = self.identity
        if identity is None:
            return
        room.early = []
        archive = self._archive_opener()
        generation = self._new_generation(room)
        put = self.pump.put
        room.client = ChatClient(
            host=host,
            port=port,
            username=username,
            password=password,
            keys=keys,
            identity=identity,
            trust=self.trust,
            room_id=room_id,
            on_event=lambda event: put((generation, event)),
            kdf_cost=self.kdf_cost,
            archive=archive,
        )
        room.kept = archive is not None
        room.client.start()

    # -- remembered rooms ---------------------------------------------------------------------

    def _index_dir(self) -> Path:
        return self.settings_dir if self.settings_dir is not None else config_dir()

    def _list_remembered(self) -> None:
        """At start: the remembered rooms join the list at once (their keys come later)."""
        if self.memory is None:
            return
        for entry in load_index(self._index_dir()):
            room = Room(next(self._tokens), self.root, label=entry.label)
            room.entry = entry
            room.room_id = entry.room_id
            self._watch_mute(room)
            self.rooms.append(room)

    def _memory_event(self, event: MemoryEvent) -> None:
        if isinstance(event, MemoryOpened):
            self.memory_available = event.available
            if event.available and self.keep_history.get() and self.memory is not None:
                self.memory.local_key()  # asked first: the history opens before the rooms
            if not event.available:
                self.memory_why = event.why
                if self.login is not None:
                    self.login.remember_unavailable(event.why)
                for room in list(self.rooms):
                    if room.entry is not None and room.client is None:
                        self._cannot_open(room)
                self._refresh_rooms()
                return
            waiting = [room.room_id for room in self.rooms if room.entry is not None]
            if waiting and self.memory is not None:
                self.memory.load(waiting)
        elif isinstance(event, RoomsLoaded):
            self._remembered_loaded(event)
        elif isinstance(event, LocalKey):
            self._open_history(event)
        elif isinstance(event, MemoryFailed):
            self.memory_why = event.why

    def _remembered_loaded(self, event: RoomsLoaded) -> None:
        """The keyring gave the remembered rooms' keys: open them, one after the other."""
        delay = 0
        for room in self.rooms:
            if room.room_id not in event.rooms or room.client is not None:
                continue
            saved = event.rooms[room.room_id]
            if saved is None:
                self._cannot_open(room)  # no keys here: the password opens it again
                continue
            room.saved = saved
            self.root.after(delay, functools.partial(self._open_saved, room))
            delay += _OPEN_EVERY_MS
        self._refresh_rooms()

    def _cannot_open(self, room: Room) -> None:
        """A remembered room whose keys are not to be had: listed closed; if it is the one
        shown (the first room, at start), the login view comes with it filled in."""
        room.state = RoomState.CLOSED
        shown = self.current is room
        room.drop_chat()
        if shown:
            self.current = None
            self._reopen(room)

    def _open_saved(self, room: Room) -> None:
        """Open a remembered room with its keys (no password), asking for it by id."""
        saved = room.saved
        if saved is None or room.client is not None or room not in self.rooms or self.closed:
            return
        room.state = RoomState.CONNECTING
        if room.chat is not None and room.chat.closed_for_good:
            room.chat.connection.connecting()
        self._start_client(
            room, saved.host, saved.port, saved.username, keys=saved.keys, room_id=saved.room_id
        )
        self._refresh_rooms()

    def remember_room(self, room: Room) -> bool:
        """Remember ``room`` on this device: its keys to the keyring, its place in the list
        to ``rooms.json``. Not for a room hosted here, nor before its keys are known."""
        client = room.client
        if (
            self.memory is None
            or self.memory_available is False
            or room.hosting is not None
            or client is None
            or client.keys is None
            or not room.room_id
        ):
            return False
        label = room.label or room.address
        saved = SavedRoom(room.host, room.port, room.username, label, client.keys)
        self.memory.save(saved)
        room.saved, room.entry, room.label = saved, saved.entry(), label
        self._save_index()
        self._refresh_rooms()
        return True

    def _keep_remembered_keys(self, room: Room) -> None:
        """A remembered room joined: if its keys changed (a new password), keep the new."""
        client = room.client
        if room.entry is None or client is None or client.keys is None or self.memory is None:
            return
        if room.saved is not None and room.saved.keys == client.keys:
            return
        saved = SavedRoom(room.host, room.port, room.username, room.label, client.keys)
        room.saved = saved
        self.memory.save(saved)

    def forget_room(self, room: Room) -> None:
        """Forget ``room`` on this device (its keyring entry and its place in the list); an
        open room stays open until it is closed."""
        if room.entry is None:
            return
        if self.memory is not None:
            self.memory.forget(room.entry.room_id)
        room.entry = None
        room.saved = None
        self._save_index()
        if room.state is RoomState.CLOSED:
            self.rooms.remove(room)
            if self.current is room:
                self.current = None
        self._refresh_rooms()
        self._layout()

    def _save_index(self) -> None:
        entries: list[IndexEntry] = [room.entry for room in self.rooms if room.entry is not None]
        save_index(entries, self._index_dir())

    def room_menu(self, token: int) -> tk.Menu | None:
        """The room list's menu for a room: Remember / Forget, Leave or Open."""
        room = self.room_of(token)
        if room is None:
            return None
        p = self.palette
        menu = tk.Menu(
            self.root,
            tearoff=False,
            background=p.surface,
            foreground=p.text,
            activebackground=p.selection,
            activeforeground=p.text,
            disabledforeground=p.muted,
        )
        if room.state is RoomState.CLOSED:
            menu.add_command(label="Open", command=lambda: self.choose_room(token))
        elif room.hosting is not None:
            menu.add_command(label="Close your room…", command=lambda: self.leave_room(room))
        else:
            menu.add_command(label="Leave", command=lambda: self.leave_room(room))
        menu.add_command(label="Rename…", command=lambda: self.ask_rename(room))
        menu.add_separator()
        menu.add_command(
            label="Export…",
            command=lambda: self.export_room(room),
            state="normal" if self.history is not None and room.room_id else "disabled",
        )
        if room.entry is not None or (self.history is not None and room.room_id):
            menu.add_command(label="Forget this room…", command=lambda: self.ask_forget(room))
        if self.memory is not None and room.hosting is None:
            menu.add_separator()
            if room.entry is None:
                usable = (
                    self.memory_available is not False
                    and room.client is not None
                    and room.client.keys is not None
                )
                menu.add_command(
                    label="Remember this room",
                    command=lambda: self.remember_room(room),
                    state="normal" if usable else "disabled",
                )
            else:
                menu.add_command(
                    label="Do not remember this room", command=lambda: self.forget_room(room)
                )
        return menu

    # -- local history: past conversations, search, export, forgetting ----------------------

    def _history_path(self) -> Path:
        return (self.data_dir if self.data_dir is not None else ce.data_dir()) / FILE_NAME

    def _open_history(self, event: LocalKey) -> None:
        """The keyring gave the history's key (or could not): open the file for reading."""
        if event.key is None or self.closed or not self.keep_history.get():
            return
        try:
            self.history = LocalHistory(self._history_path(), event.key)
        except (ArchiveError, OSError, ValueError) as error:
            self.history_problem = (
                f"This device's history cannot be opened ({error}). Nothing is kept or shown "
                "from it until that is sorted out."
            )
            if self.chat is not None:
                self._tell_history_problem(self.chat)
            return
        for room in self.rooms:  # opened before the key came (the first room, at start)
            if room.chat is not None and room.room_id:
                room.chat.show_kept(self.history.latest(room.room_id))

    def _tell_history_problem(self, chat: ChatWindow) -> None:
        if self.history_problem and not self._history_told:
            self._history_told = True
            chat.messages.add_notice(self.history_problem, "warning")

    def _archive_opener(self) -> Callable[[], Archive] | None:
        """What a new client keeps its room's messages with (None: nothing is kept)."""
        if self.history is None or not self.keep_history.get():
            return None
        return self.history.opener

    def _keep_history_changed(self) -> None:
        """View → Keep history on this device: rooms opened from now on follow it; turned
        on, the keyring is asked for the history's key if it was not open."""
        keep = self.keep_history.get()
        self._save(keep_history=keep)
        if keep and self.history is None and self.memory_available and self.memory is not None:
            self.memory.local_key()

    def open_search(self) -> str:
        """Ctrl+F: the search panel over the current room's conversation."""
        chat = self.chat
        if chat is None:
            return "break"
        panel = self.search_panel
        if panel is None or not panel.winfo_exists() or panel.master is not chat.messages:
            if panel is not None and panel.winfo_exists():
                panel.destroy()
            unavailable = ""
            if self.history is None:
                unavailable = (
                    self.history_problem
                    or "This device keeps no history (View → Keep history on this device), "
                    "so there is nothing to search."
                )
            panel = self.search_panel = SearchPanel(
                chat.messages,
                search=self._search,
                on_choose=self._search_chosen,
                on_close=lambda: self._search_closed(chat),
                palette=self.palette,
                unavailable=unavailable,
            )
        panel.show()
        return "break"

    def _search(self, query: str, all_rooms: bool) -> list[Hit]:
        current = self.current
        if self.history is None or current is None:
            return []
        if not all_rooms and not current.room_id:
            return []
        found = self.history.search(query, room_id=None if all_rooms else current.room_id)
        rooms = {room.room_id: room for room in self.rooms if room.room_id}
        hits = []
        for message in found:
            room = rooms.get(message.room_id)
            if room is not None:  # a room forgotten from the list is not offered
                hits.append(Hit(room.token, room.label, message))
        return hits

    def _search_chosen(self, hit: Hit) -> None:
        """A match was chosen: its room comes, and the message lights up."""
        room = self.room_of(hit.token)
        if room is None:
            return
        if room is not self.current:
            self.choose_room(room.token)
        chat = room.chat
        if chat is None:
            return
        if not chat.messages.show_message(hit.message.message_id):
            chat.messages.flash(
                "That message is older than what this conversation shows; it is in the "
                "export (room menu → Export…)."
            )

    def _search_closed(self, chat: ChatWindow) -> None:
        if chat.winfo_exists():
            chat.entry.focus_set()

    def export_room(self, room: Room) -> ExportDialog | None:
        """Export… (the room's menu): what this device kept of the room, to a file."""
        if self.history is None or not room.room_id:
            return None
        folder = Path.home()
        with contextlib.suppress(Exception):
            import platformdirs

            folder = Path(platformdirs.user_documents_dir())
        if not folder.is_dir():
            folder = Path.home()

        def exported(path: Path) -> None:
            if room.chat is not None:
                room.chat.messages.flash(f"Exported the room to {path}.")

        return ExportDialog(
            self.root,
            label=room.label,
            messages=self.history.everything(room.room_id),
            folder=folder,
            on_done=exported,
        )

    def ask_forget(self, room: Room) -> None:
        """Forget this room… (the room's menu): after a question (Cancel is the default),
        leave it and delete what this device kept of it, history and keys."""
        if not self.confirm("Forget this room?", forget_question(room.label), "Forget this room"):
            return
        self.forget_everything(room)

    def forget_everything(self, room: Room) -> None:
        """Leave ``room`` and delete its local history and its keyring entry."""
        room_id = room.room_id
        client, room.client = room.client, None
        if client is not None:
            client.close()  # here, not in the background: its last records go first
        if room.entry is not None:
            self.forget_room(room)
        shown = self.current is room
        self.close_room(room)
        if room in self.rooms:
            self.rooms.remove(room)
            self._refresh_rooms()
            self._layout()
        if self.history is not None and room_id:
            self.history.forget(room_id)
        if shown:
            self.show_login()

    def ask_rename(self, room: Room) -> ConfirmDialog:
        """Rename… (the room's menu): the room's label in the list and its header, on this
        device only (remembered rooms keep it)."""
        dialog = ConfirmDialog(
            self.root,
            title="Rename the room",
            heading="Rename the room",
            text="How this room is called in your room list, on this device only.",
            confirm="Rename",
            entry="Name",
            check=label_problem,
            on_done=lambda yes: self.rename_room(room, dialog.value.get()) if yes else None,
        )
        dialog.value.set(room.label)
        dialog.entry.select_range(0, "end")
        return dialog

    def rename_room(self, room: Room, label: str) -> None:
        label = " ".join(label.split())
        if label_problem(label) is not None:
            return
        room.label = label
        if room.chat is not None:
            room.chat.set_room_title(label)
        if room.entry is not None:
            room.entry = dataclasses.replace(room.entry, label=label)
            if room.saved is not None and self.memory is not None:
                room.saved = dataclasses.replace(room.saved, label=label)
                self.memory.save(room.saved)
            self._save_index()
        self._refresh_rooms()

    def leave_room(self, room: Room) -> None:
        """Leave a room from its menu (asking first if it is hosted here)."""
        if not self._may_close_hosted_room(room, "Closing it"):
            return
        shown = self.current is room
        self.close_room(room)
        if shown:
            self.show_login()

    # -- closing ------------------------------------------------------------------------

    def request_close(self) -> None:
        """The window's close box: ask first if messages still wait to be sent, or if that
        closes a room for others (the safe answer, Cancel, is the default); then quit."""
        if not self._may_quit_with_waiting_messages():
            return
        for room in self.rooms:
            if not self._may_close_hosted_room(room, "Closing this window"):
                return
        self.close()

    def waiting_messages(self) -> int:
        """Messages written here that the relay has not confirmed, in every room: in the
        clients' outboxes, or handed back as not sent and not sent again."""
        return sum(self._waiting(room, kept=True) + self._waiting(room) for room in self.rooms)

    def _waiting(self, room: Room, *, kept: bool = False) -> int:
        """The room's unconfirmed messages that are kept on disk (``kept``: its client has
        the archive, so the next one sends them) or only in memory (lost on quitting)."""
        count = 0
        if room.client is not None and room.kept == kept:
            count += len(room.client.pending())
        if room.chat is not None and not kept:
            count += len(room.chat.unsent.texts)
        return count

    def _may_quit_with_waiting_messages(self) -> bool:
        lost = sum(self._waiting(room) for room in self.rooms)
        kept = sum(self._waiting(room, kept=True) for room in self.rooms)
        if not lost and not kept:
            return True
        return self.confirm("Quit SocketChat?", quit_question(lost, kept), "Quit anyway")

    def _may_close_hosted_room(self, room: Room, doing: str) -> bool:
        """True unless ``room`` is hosted here, has a chat open, and the person keeps it."""
        if room.relay is None or room.chat is None:
            return True
        others = len(room.chat.members) - 1
        detail = (
            f"{others} other member{'s' if others != 1 else ''} will be disconnected."
            if others > 0
            else "Nobody else is in it right now."
        )
        return self.confirm(
            "Close the room?",
            f"{doing} closes the room for everyone. {detail}",
            "Close the room",
        )

    def close(self) -> None:
        """Stop everything and destroy the root. Safe from any state, safe to call twice."""
        if self.closed:
            return
        self.closed = True
        self.pump.stop()
        with contextlib.suppress(tk.TclError):
            self.root.withdraw()  # the window disappears at once; the rest takes a moment
        if self.rooms:
            self._save(sound=self.sound.get())
        self.notifications.close()
        rooms = [*self.rooms, *([self.joining] if self.joining is not None else [])]
        for room in rooms:
            if room.starter is not None:
                room.starter.cancel()  # joins the worker: what it produced is queued by now
                room.starter = None
        # A room that finished starting just before the cancel waits in the queue under its
        # generation: forgetting the generations, then draining, hands it to _dispatch, which
        # stops it.
        for room in rooms:
            self._forget_generation(room)
        self.pump.drain(limit=self.pump.pending() + 1)
        for room in rooms:
            client, room.client = room.client, None
            if client is not None:
                self._in_background(client.close)  # every room says goodbye at once
        self.finder.stop()
        for thread in self._closers:
            thread.join(5.0)
        for room in rooms:  # after the clients: the host's own goodbye reaches its relay
            self._stop_relay(room)
        if self.memory is not None:
            self.memory.stop()
        if self.history is not None:
            self.history.close()
            self.history = None
        with contextlib.suppress(tk.TclError):
            # Run pending idle work (ttk's <<ThemeChanged>> after a quick start) while the
            # root exists: left for later, it fails noisily on a destroyed interpreter.
            self.root.update_idletasks()
            self.root.destroy()

    def _stop_client(self, room: Room) -> None:
        # close() joins the worker, which may be in the middle of scrypt: do it off the Tk
        # thread so Cancel answers at once; close() waits for these threads.
        client, room.client = room.client, None
        if client is not None:
            self._in_background(client.close)

    def _stop_relay(self, room: Room) -> None:
        self._stop_reach(room)
        relay, room.relay = room.relay, None
        if relay is not None:
            relay.stop()

    def _in_background(self, work: Callable[[], None]) -> None:
        thread = threading.Thread(target=work, name="socketchat-closer", daemon=True)
        thread.start()
        self._closers = [t for t in self._closers if t.is_alive()] + [thread]

    def _ask_yes_no(self, title: str, text: str, button: str) -> bool:
        return ask(self.root, title=title, heading=title, text=text, confirm=button)

    def _load_logo(self) -> tk.PhotoImage | None:
        for image in self.icons:
            if image.width() == 64:
                return image
        return None


def _enable_dpi_awareness() -> None:
    """Windows: draw sharply at the monitor's scale instead of being bitmap-stretched."""
    if sys.platform != "win32":
        return
    import ctypes

    try:
        ctypes.windll.shcore.SetProcessDpiAwareness(2)  # per-monitor aware (Windows 8.1+)
    except (AttributeError, OSError):
        with contextlib.suppress(AttributeError, OSError):
            ctypes.windll.user32.SetProcessDPIAware()  # system aware (Vista+)


def start() -> int:
    """Run the desktop app until its window closes; return the exit status for ``main.py``."""
    _enable_dpi_awareness()
    try:
        # className gives the Linux WM_CLASS ("socketchat", "Socketchat": Tk title-cases the
        # class); taskbars group and name windows by it.
        root = tk.Tk(className="socketchat")
    except tk.TclError as error:
        print(
            f"SocketChat: cannot open a window ({error}). The desktop app needs a graphical "
            "display; for a headless machine see `python main.py --help`.",
            file=sys.stderr,
        )
        return EXIT_NO_DISPLAY
    install_tk_handler(root)  # a failing callback: log file + dialog, not a lost traceback
    app = App(root, reach=ReachServices.real(), keychain=Keychain.open)
    # SIGTERM (a logout, `kill`) closes like the window's close box, minus the question; the
    # pump's tick runs Python often enough for the handler to run promptly.
    with contextlib.suppress(ValueError, OSError):  # not the main thread / no such signal
        signal.signal(signal.SIGTERM, lambda _sig, _frame: root.after(0, app.close))
    try:
        root.mainloop()
    except KeyboardInterrupt:
        pass  # Ctrl-C in the terminal that started the app: close quietly below
    finally:
        app.close()
    return EXIT_OK


def quit_question(lost: int, kept: int = 0) -> str:
    """What the close box asks while messages have not reached their room: ``lost`` exist
    only in this window, ``kept`` are on disk and go out the next time their room opens."""
    waiting = lost + kept
    what = "1 message you wrote has" if waiting == 1 else f"{waiting} messages you wrote have"
    if not lost:
        them = "It stays" if kept == 1 else "They stay"
        return (
            f"{what} not reached the room yet. {them} on this device and "
            f"{'is' if kept == 1 else 'are'} sent the next time you open the room."
        )
    them = "it" if lost == 1 else "them"
    lost_part = f"{lost} of them" if kept else ("it" if lost == 1 else "they")
    return (
        f"{what} not reached the room yet. If you quit now, {lost_part} will not be sent: "
        f"copy {them} first, or wait until the connection is back."
    )


def label_problem(label: str) -> str | None:
    """What is wrong with a room's new name (None: nothing)."""
    words = " ".join(label.split())
    if not words:
        return "Type a name."
    if len(words) > MAX_LABEL_CHARS:
        return f"At most {MAX_LABEL_CHARS} characters."
    if any(not character.isprintable() for character in words):
        return "Use visible characters only."
    return None


def forget_question(label: str) -> str:
    """What Forget this room… asks."""
    return (
        f"This device leaves {display_name(label)} and deletes everything it kept of it: its "
        "messages, anything still waiting to be sent, and its keys in the keyring. The other "
        "members keep theirs. To come back you need the room password or an invite."
    )


def _queued_text(position: int) -> str:
    return f"The room is letting others in first. You are number {position} in line…"
