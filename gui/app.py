"""The desktop app: one window with the room list, the login view and each room's chat.

:func:`start` is what ``python main.py`` runs. :class:`App` holds what the window is about:
this device's identity and trust records (loaded at start; an identity that cannot be loaded
is reported, never replaced), the settings, the event pump, and the rooms (``gui/room.py``:
each with its own client, its own relay when hosted here, its own chat window). It routes
every event to the room whose client or start produced it: to the login view while a room
started from it has not joined yet, then to the room's chat window; what a client or start
the room has left behind still says is dropped.

What the app does is in parts of their own, each working on the app on the Tk thread:
``app_views`` (which view the window shows, the room list, Ctrl+K), ``app_joining`` (joining
from the login view), ``app_hosting`` (hosting a room here, its invite, the network around
it), ``app_rooms`` (a room's client, relay and chat window; Retry now, Rejoin, Back to
rooms), ``app_room_menu`` (the room list's menu, Rename…), ``app_remembered`` (rooms kept in
the keyring, opened by themselves), ``app_history`` (this device's history: search, export,
forget), ``app_look`` (theme, zoom, View menu, mute), ``app_private`` (private
conversations: their rows, windows and events), ``app_tray`` (the tray icon: the
window hidden on close and brought back) and ``app_quit`` (the quit question; closing
everything, with no thread left behind). The methods at the end are what a person can
do in the window, each handed to the part that does it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import signal
import sys
import threading
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

from crypto.identity import Identity
from gui import focusring
from gui.app_history import HistoryActions
from gui.app_hosting import Hosting
from gui.app_joining import Joining
from gui.app_look import Look
from gui.app_private import PrivateConversations
from gui.app_quit import QuitFlow
from gui.app_remembered import RememberedRooms
from gui.app_room_menu import RoomMenu
from gui.app_rooms import RoomLife
from gui.app_tray import TrayFlow
from gui.app_views import Views
from gui.around import RoomFinder
from gui.chat import ChatWindow
from gui.crash import install_tk_handler
from gui.dialogs import ConfirmDialog, ask
from gui.exporting import ExportDialog
from gui.history import LocalHistory
from gui.host import HostDialog, HostRequest
from gui.hosting import RoomFailed, RoomStarted
from gui.icon import set_app_icon
from gui.identity_problem import IdentityProblemView, identity_problem_text
from gui.invite import InvitePanel
from gui.login import LoginRequest, LoginView
from gui.notify import DesktopNotifications
from gui.pump import EventPump
from gui.reach import ForRoom, ReachServices, ReachState, RoomsFound
from gui.room import Room
from gui.roomlist import JumpDialog, RoomList, RoomState
from gui.saved import LocalKey, MemoryEvent, MemoryFailed, MemoryOpened, RoomMemory, RoomsLoaded
from gui.search import SearchPanel
from gui.settings import load_settings, save_settings
from gui.system_theme import system_prefers_dark
from gui.theme import Palette, apply_theme, clamp_zoom
from gui.tray import TRAY_EVENTS, TrayEvent
from gui.verify import SafetyCodeDialog
from net import client as ce
from net.client import ChatClient, Keychain, PendingMessage, ReplyTo
from net.relay import RelayThread

__all__ = ["App", "start"]

#: What reaches the Tk thread through the pump: an event tagged with the generation of the
#: client or room start that produced it (0 for the app's own helpers; a tray icon's events
#: with the icon's own number).
AppEvent: TypeAlias = (
    ce.ClientEvent | RoomStarted | RoomFailed | ForRoom | RoomsFound | MemoryEvent | TrayEvent
)

EXIT_OK = 0
EXIT_NO_DISPLAY = 2

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
        self.theme = tk.StringVar(root, self.settings.theme)
        self.zoom = clamp_zoom(self.settings.zoom)
        self.look = Look(self, system_dark)
        self.palette: Palette = apply_theme(root, dark=self.look.dark(), zoom=self.zoom)
        focusring.install(root)
        self.icons = set_app_icon(root)
        self.logo = self._load_logo()
        self.notifications = notifications or DesktopNotifications()
        self.view_menus: dict[int, tk.Menu] = {}  # by room token
        self.kdf_cost = kdf_cost
        self.bind_host = bind_host
        self.confirm = confirm or self._ask_yes_no
        self.services = reach or ReachServices.off()
        self.sound = tk.BooleanVar(root, self.settings.sound)
        self.pump = EventPump(root, self._dispatch, after_batch=self._after_batch)
        # "Rooms on this network" for the login view (browsing only with real services).
        self.finder = RoomFinder(root, self.services, self.pump.put, self.in_background)
        self.rooms: list[Room] = []  # the room list, in order
        self.current: Room | None = None  # the room shown; None: the login view
        self.joining: Room | None = None  # started from the login view, not joined yet
        self._tokens = itertools.count(1)
        self._generation = 0  # the last one given out; events of older ones are dropped
        self._by_generation: dict[int, Room] = {}
        self._dirty: set[ChatWindow] = set()  # conversations that got events this batch
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
        self.keep_history = tk.BooleanVar(root, self.settings.keep_history)
        self.keep_in_tray = tk.BooleanVar(root, self.settings.keep_in_tray)
        self.search_panel: SearchPanel | None = None
        # The app's parts (see the module's docstring).
        self.views = Views(self, is_focused)
        self.joining_flow = Joining(self)
        self.hosting_flow = Hosting(self)
        self.room_life = RoomLife(self)
        self.privates = PrivateConversations(self)
        self.room_menus = RoomMenu(self)
        self.remembered = RememberedRooms(self)
        self.history_actions = HistoryActions(self)
        self.quit_flow = QuitFlow(self)
        self.tray_flow = TrayFlow(self)  # the icon at once, if the setting is on
        root.title("SocketChat")
        root.protocol("WM_DELETE_WINDOW", self.request_close)
        root.columnconfigure(1, weight=1)
        root.rowconfigure(0, weight=1)
        self.room_list = RoomList(
            root,
            on_choose=self.views.choose_room,
            on_new=self.views.show_login,
            room_menu=self.room_menus.room_menu,
            on_enter=self.views.focus_conversation,
            palette=self.palette,
        )
        for sequence in ("<Control-k>", "<Control-K>"):
            root.bind(sequence, lambda _e: self.views.open_jump())
        root.bind("<FocusIn>", self.views.window_focused, add="+")
        if self.identity is None:
            self.views.show_identity_problem()
        else:
            self.remembered.list_remembered()
            if self.rooms:
                self.views.choose_room(self.rooms[0].token)
            else:
                self.views.show_login()
        self.pump.start()
        if self.memory is not None and self.identity is not None:
            self.memory.start()

    # -- the current room ---------------------------------------------------------------------

    @property
    def chat(self) -> ChatWindow | None:
        """The chat window shown, the room's own or a private conversation's (None while the
        login view is)."""
        return self.current.shown_chat if self.current is not None else None

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

    # -- events -------------------------------------------------------------------------

    def _dispatch(self, item: tuple[int, AppEvent]) -> None:
        generation, event = item
        if isinstance(event, TRAY_EVENTS):  # tagged with its icon's number
            self.tray_flow.tray_event(generation, event)
            return
        if isinstance(event, RoomsFound):  # from the login view's browser: no generation
            self.joining_flow.rooms_found(event)
            return
        if isinstance(event, ForRoom):  # a hosted room's services: dropped once it is closed
            self.hosting_flow.reach_event(event)
            return
        if isinstance(event, MemoryOpened | RoomsLoaded | MemoryFailed | LocalKey):
            self.remembered.memory_event(event)
            return
        room = self._by_generation.get(generation)
        if room is None or room.generation != generation:
            if isinstance(event, RoomStarted):
                event.relay.stop()  # a room nobody waits for any more
            return
        if isinstance(event, RoomStarted):
            self.hosting_flow.room_started(room, event)
        elif isinstance(event, RoomFailed):
            self.hosting_flow.room_failed(room, event)
        elif room is self.joining:
            self.joining_flow.login_event(room, event)
        else:
            self._room_event(room, event)

    def _room_event(self, room: Room, event: ce.ClientEvent) -> None:
        """An event of a room in the list: its state for the list, then its chat window."""
        before = room.state
        if isinstance(event, ce.Joined):
            room.state = RoomState.JOINED
            room.room_id = event.room_id
            self.room_life.pin_default_room(room)
            self.remembered.keep_keys(room)
        elif isinstance(event, ce.Disconnected):
            room.state = RoomState.RECONNECTING
        elif isinstance(event, ce.Failed):
            room.state = RoomState.FAILED
        elif isinstance(event, ce.Connecting) and room.state is RoomState.FAILED:
            room.state = RoomState.CONNECTING  # a Rejoin
        if isinstance(event, ce.PasswordChanged) and event.own and event.password:
            self.hosting_flow.password_changed(room, event.password)
        if isinstance(event, ce.MessageReceived) and self.history is not None and room.room_id:
            self.history.touched(room.room_id)  # its client records it: search looks again
        # Private messages go to their conversations, and the connection's news there too.
        shown = self.privates.route(room, event)
        if shown is None:
            if room.state is not before:
                self.views.refresh_rooms()
            return
        event = shown
        if room.chat is None:
            if isinstance(event, ce.Joined):
                self.room_life.make_chat(room, event)
            else:
                room.keep_early(event)
        else:
            room.chat.handle(event)
            self._dirty.add(room.chat)
        if room.state is not before:
            self.views.refresh_rooms()

    def _after_batch(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for chat in dirty:
            if chat.winfo_exists():
                chat.flush()

    def mark_dirty(self, chat: ChatWindow) -> None:
        """``chat`` got events in this batch: scrolled and trimmed once, at its end."""
        self._dirty.add(chat)

    def send_to(self, room: Room, text: str, *, reply_to: ReplyTo | None = None) -> PendingMessage:
        """A chat window's ``send`` (and ``send_reply``): hand ``text`` to the room's client
        (thread-safe, at once)."""
        if room.client is None:
            raise ValueError("Not connected to a room.")
        return room.client.send(text, reply_to=reply_to)

    # -- the app's own bookkeeping -------------------------------------------------------------

    def new_room(self, *, label: str = "") -> Room:
        """A room for the list (joined, hosted or remembered), not in it yet."""
        return Room(self.next_token(), self.root, label=label)

    def next_token(self) -> int:
        """A new row of the room list: a room's, or a private conversation's."""
        return next(self._tokens)

    def new_generation(self, room: Room) -> int:
        """The tag of the room's next client or start; what older ones say is dropped."""
        self.forget_generation(room)
        self._generation += 1
        room.generation = self._generation
        self._by_generation[room.generation] = room
        return room.generation

    def forget_generation(self, room: Room) -> None:
        """Whatever the room's current client or start still says is dropped from now on."""
        self._by_generation.pop(room.generation, None)
        room.generation = 0

    def in_background(self, work: Callable[[], None]) -> None:
        """Run ``work`` (a blocking close) on a thread of its own; closing waits for it."""
        thread = threading.Thread(target=work, name="socketchat-closer", daemon=True)
        thread.start()
        self._closers = [t for t in self._closers if t.is_alive()] + [thread]

    def wait_for_background(self) -> None:
        for thread in self._closers:
            thread.join(5.0)

    def save_settings(self, **changes: object) -> None:
        """Remember ``changes`` in the settings file."""
        self.settings = dataclasses.replace(self.settings, **changes)  # type: ignore[arg-type]
        save_settings(self.settings, self.settings_dir)

    def _ask_yes_no(self, title: str, text: str, button: str) -> bool:
        return ask(self.root, title=title, heading=title, text=text, confirm=button)

    def _load_logo(self) -> tk.PhotoImage | None:
        for image in self.icons:
            if image.width() == 64:
                return image
        return None

    # -- what a person can do in the window --------------------------------------------------

    def show_login(self) -> None:
        self.views.show_login()

    def choose_room(self, token: int) -> None:
        self.views.choose_room(token)

    def open_host_dialog(self, initial: HostRequest | None = None, error: str = "") -> None:
        self.hosting_flow.open_host_dialog(initial, error)

    def set_theme(self, theme: str) -> None:
        self.look.set_theme(theme)

    def change_zoom(self, steps: int | None) -> str:
        return self.look.change_zoom(steps)

    def room_menu(self, token: int) -> tk.Menu | None:
        return self.room_menus.room_menu(token)

    def ask_rename(self, room: Room) -> ConfirmDialog:
        return self.room_menus.ask_rename(room)

    def rename_room(self, room: Room, label: str) -> None:
        self.room_menus.rename_room(room, label)

    def remember_room(self, room: Room) -> bool:
        return self.remembered.remember_room(room)

    def forget_room(self, room: Room) -> None:
        self.remembered.forget_room(room)

    def open_search(self) -> str:
        return self.history_actions.open_search()

    def export_room(self, room: Room) -> ExportDialog | None:
        return self.history_actions.export_room(room)

    def ask_forget(self, room: Room) -> None:
        self.history_actions.ask_forget(room)

    def waiting_messages(self) -> int:
        return self.quit_flow.waiting_messages()

    def request_close(self) -> None:
        self.quit_flow.request_close()

    def close(self) -> None:
        """Stop everything and destroy the root. Safe from any state, safe to call twice."""
        self.quit_flow.close()


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
