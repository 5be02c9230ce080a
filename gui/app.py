"""The desktop app: one window that shows the login view, then the chat.

:func:`start` is what ``python main.py`` runs. :class:`App` owns the client, the hosted relay
(if any) and the event pump, and routes every event: to the login view until the client has
joined, then to the chat window. Closing the window from any state stops the client, the
relay and any room being started, then destroys the root: no thread is left behind.

At start it loads this device's identity and trust records (``data_dir``, else the user's data
folder). An identity that cannot be loaded is reported (``gui/identity_problem.py``), never
replaced. The app wires the chat window's trust decisions to the client, offers the login's
and the chat's buttons after a failure (Connect again, Reconnect, Trust the new relay and
connect: the last only after a confirmation that explains the risk), and pins the relay key
of a room it hosts, so that its own client expects exactly that relay. A room it hosts is owned
by this device's identity; the chat window's owner and admin actions (make admin, remove) go to
the client in that room (``_RoomActions``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
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
from gui.dialogs import ask
from gui.errors import (
    CONNECT_AGAIN,
    TRUST_NEW_RELAY,
    failure_action,
    failure_text,
    host_error_text,
    not_the_invited_relay,
    trust_relay_question,
)
from gui.host import HostDialog, HostRequest
from gui.hosting import (
    RoomFailed,
    RoomStarted,
    RoomStarter,
    lan_addresses,
    start_room_in_background,
)
from gui.icon import set_app_icon
from gui.identity_problem import IdentityProblemView, identity_problem_text
from gui.invite import InvitePanel
from gui.login import LoginRequest, LoginView
from gui.notify import DesktopNotifications
from gui.pump import EventPump
from gui.reach import ForRoom, OutsideSeen, ReachServices, ReachState, RoomsFound
from gui.screen import place_within
from gui.settings import THEMES, load_settings, room_key, save_settings
from gui.system_theme import system_prefers_dark
from gui.theme import Palette, apply_theme, clamp_zoom, set_zoom
from gui.validate import format_address
from gui.verify import SafetyCodeDialog
from net import client as ce
from net.client import DEFAULT_ROOM, ChatClient, ErrorKind, PendingMessage, relay_address
from net.reach import (
    OutsideWatcher,
    Scope,
    listen_plan,
)
from net.relay import RelayThread

#: What reaches the Tk thread through the pump: an event tagged with the generation of the
#: client or room start that produced it.
AppEvent: TypeAlias = ce.ClientEvent | RoomStarted | RoomFailed | ForRoom | RoomsFound

EXIT_OK = 0
EXIT_NO_DISPLAY = 2
_LOGIN_SIZE = (480, 320)
_CHAT_SIZE = (920, 640)

#: ``confirm(title, text, button)``: ask a yes/no question; True only for ``button``.
Confirm: TypeAlias = Callable[[str, str, str], bool]


class _RoomTrust:
    """What the person decides about members of the joined room ``room_id``: recorded through
    the client while it is in that room (it also forgets its warning for the key), else
    straight in the trust store (after a final failure, or while a Reconnect is under way)."""

    def __init__(self, app: App, room_id: bytes) -> None:
        self._app = app
        self._room_id = room_id

    def _client(self) -> ChatClient | None:
        client = self._app.client
        return client if client is not None and client.room_id == self._room_id else None

    def mark_verified(self, name: str, key: bytes) -> None:
        client = self._client()
        if client is not None:
            client.mark_verified(name, key)
        else:
            self._app.trust.mark_verified(self._room_id, name, key)

    def accept_key(self, name: str, key: bytes) -> None:
        client = self._client()
        if client is not None:
            client.accept_key(name, key)
        else:
            self._app.trust.accept_key(self._room_id, name, key)


class _RoomActions:
    """What the owner and admins ask of the joined room ``room_id`` (make or unmake an admin,
    remove a member): handed to the client while it is in that room. Each call returns at
    once; ``ValueError`` (the client's words, or "not connected") is shown by the chat
    window."""

    def __init__(self, app: App, room_id: bytes) -> None:
        self._app = app
        self._room_id = room_id

    def _client(self) -> ChatClient:
        client = self._app.client
        if client is None or client.room_id != self._room_id:
            raise ValueError(NOT_IN_THE_ROOM)
        return client

    def make_admin(self, name: str) -> None:
        self._client().make_admin(name)

    def unmake_admin(self, name: str) -> None:
        self._client().unmake_admin(name)

    def remove_member(self, name: str) -> None:
        self._client().remove_member(name)

    def change_password(self, *, remove: str | None = None) -> str:
        return self._client().change_password(remove=remove)

    def release_name(self, name: str) -> None:
        self._client().release_name(name)


NOT_IN_THE_ROOM = "You are not in the room right now: reconnect first."


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
    :func:`start` passes :meth:`ReachServices.real`.
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
        self.muted = tk.BooleanVar(root, False)
        self.muted.trace_add("write", self._muted_changed)
        self.view_menu: tk.Menu | None = None
        self.kdf_cost = kdf_cost
        self.bind_host = bind_host
        self.confirm = confirm or self._ask_yes_no
        self.services = reach or ReachServices.off()
        self.hosted: HostedServices | None = None  # the router and the announcement, hosting
        self.reach: ReachState | None = None  # what is known about reaching the hosted room
        self.sound = tk.BooleanVar(root, self.settings.sound)
        self.pump = EventPump(root, self._dispatch, after_batch=self._after_batch)
        # "Rooms on this network" for the login view (browsing only with real services).
        self.finder = RoomFinder(root, self.services, self.pump.put, self._in_background)
        self.client: ChatClient | None = None
        self._generation = 0  # events from an older client or room start are ignored
        self.request: LoginRequest | None = None
        self.hosting: HostRequest | None = None
        self.relay: RelayThread | None = None  # while hosting
        self.starter: RoomStarter | None = None
        self.host_dialog: HostDialog | None = None
        self.invite: InvitePanel | None = None
        self.chat: ChatWindow | None = None
        self.login: LoginView | None = None
        self.problem: IdentityProblemView | None = None
        self.code_dialog: SafetyCodeDialog | None = None
        # Key changes and messages kept from an earlier run that the client reports while
        # joining, before the chat window exists.
        self._early: list[ce.IdentityChanged | ce.OutboxRestored] = []
        self._closers: list[threading.Thread] = []
        self.closed = False
        root.title("SocketChat")
        root.protocol("WM_DELETE_WINDOW", self.request_close)
        root.columnconfigure(0, weight=1)
        root.rowconfigure(0, weight=1)
        for sequence in ("<Control-plus>", "<Control-equal>", "<Control-KP_Add>"):
            root.bind(sequence, lambda _e: self.change_zoom(1))
        for sequence in ("<Control-minus>", "<Control-KP_Subtract>"):
            root.bind(sequence, lambda _e: self.change_zoom(-1))
        for sequence in ("<Control-Key-0>", "<Control-KP_0>", "<Control-KP_Insert>"):
            root.bind(sequence, lambda _e: self.change_zoom(None))
        if self.identity is None:
            self.show_identity_problem()
        else:
            self.show_login()
        self.pump.start()

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
        if self.chat is not None:
            self.chat.apply_palette(self.palette)
        if self.view_menu is not None:
            self._colour_menu(self.view_menu)
        if self.login is not None:  # its coloured labels were made with the old palette
            self.login.destroy()
            self.login = None
            self.show_login()
        if self.invite is not None and self.invite.winfo_exists():
            self.invite.destroy()
            self.invite = None
            self.show_invite()
        self._save(theme=theme)

    def change_zoom(self, steps: int | None) -> str:
        """Ctrl+plus / Ctrl+minus (``steps`` ±1) and Ctrl+0 (``None``: back to 100 %)."""
        zoom = 0 if steps is None else self.zoom + steps
        if self.chat is not None:
            self.chat.messages.hold_pin()
        self.zoom = set_zoom(self.root, zoom)
        if self.chat is not None:
            self.chat.messages.update_wrap_width()
        self._save(zoom=self.zoom)
        return "break"

    def _build_view_menu(self, master: tk.Misc) -> tk.Menu:
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
        menu.add_checkbutton(label="Mute this room", variable=self.muted)
        menu.add_checkbutton(label="Sound for new messages", variable=self.sound)
        self._colour_menu(menu)
        self.view_menu = menu
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

    def _room_key(self) -> str | None:
        request = self.request
        if request is None:
            return None
        return room_key("your room" if self.hosting else request.host, request.port)

    def _muted_changed(self, *_args: object) -> None:
        key = self._room_key()
        if key is None or self.chat is None:
            return
        rooms = [room for room in self.settings.muted_rooms if room != key]
        if self.muted.get():
            rooms.append(key)
        self._save(muted_rooms=tuple(rooms[-200:]))

    def _save(self, **changes: object) -> None:
        self.settings = dataclasses.replace(self.settings, **changes)  # type: ignore[arg-type]
        save_settings(self.settings, self.settings_dir)

    # -- views --------------------------------------------------------------------------

    def show_login(self) -> None:
        """Show the login view (first window, and again after leaving a room)."""
        self.login = LoginView(
            self.root,
            self.settings,
            on_connect=self.connect,
            on_host=self.open_host_dialog,
            on_cancel=self.cancel_connect,
            logo=self._logo,
            on_safety_code=self.show_safety_code,
            rooms_list=self.finder.enabled,
        )
        self.login.grid(row=0, column=0, sticky="nsew")
        self.finder.start_soon()
        # The login view takes its natural size (it grows a little for error messages).
        self.root.minsize(*_LOGIN_SIZE)
        self.root.geometry("")
        self.login.focus_first_empty()

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
        self.problem.grid(row=0, column=0, sticky="nsew")
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

    def _show_chat(self, event: ce.Joined) -> None:
        request = self.request
        if request is None:  # cannot happen: connect() sets it before any client exists
            return
        room = format_address(request.host, request.port)
        title = f"Room {room}"
        if self.hosting is not None:
            room = f"your room (port {request.port})"
            title = f"Your room · port {request.port}"
        if self.login is not None:
            self.login.destroy()
            self.login = None
        self.finder.stop()
        self.chat = None  # the mute switch's trace must not save while it is set below
        self.muted.set(self._room_key() in self.settings.muted_rooms)
        self.chat = ChatWindow(
            self.root,
            room=room,
            room_title=title,
            username=event.your_name,
            members=tuple(event.members),
            send=self._send,
            max_message_bytes=event.max_message_bytes,
            palette=self.palette,
            sound=self.sound,
            on_invite=self.show_invite if self.hosting else None,
            notify=self.notifications.show,
            muted=self.muted,
            view_menu=self._build_view_menu,
            is_focused=self._is_focused,
            identity=self.identity.public if self.identity is not None else None,
            trust=_RoomTrust(self, event.room_id),
            on_reconnect=self.reconnect,
            on_trust_relay=self.trust_new_relay_from_chat,
            actions=_RoomActions(self, event.room_id),
            on_retry_now=self.retry_now,
            on_back=self.back_to_rooms,
        )
        self.chat.grid(row=0, column=0, sticky="nsew")
        self.root.minsize(640, 420)
        # Never off-screen: a login window near the screen's edge would otherwise grow past it.
        place_within(self.root, _CHAT_SIZE)
        self.chat.entry.focus_set()
        self.chat.handle(event)
        early, self._early = self._early, []
        for change in early:  # told while joining, before the window existed
            self.chat.handle(change)
        if self.hosting is not None:
            self.show_invite()

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

    def show_invite(self) -> None:
        """Open (or raise) the invite panel while hosting."""
        if self.hosting is None or self.relay is None:
            return
        if self.invite is not None and self.invite.winfo_exists():
            self.invite.lift()
            return
        secret = self.relay.relay.secret
        self.invite = InvitePanel(
            self.root,
            addresses=self._invite_addresses(),
            port=self.relay.port or self.hosting.port,
            password=self.hosting.password,
            room_id=secret.room_id,
            relay_key=secret.relay_key,
            state=self.reach,
        )

    def _hosted_password_changed(self, password: str) -> None:
        """We changed the password of the room we host: the invite carries the new one."""
        if self.hosting is None:
            return
        self.hosting = dataclasses.replace(self.hosting, password=password)
        if self.invite is not None and self.invite.winfo_exists():
            self.invite.destroy()
            self.invite = None
            self.show_invite()

    def _invite_addresses(self) -> list[str]:
        if self.hosting is not None and self.hosting.scope is Scope.COMPUTER:
            return []  # nobody else can join: the panel says "only this computer"
        return lan_addresses()

    # -- connecting ---------------------------------------------------------------------

    def connect(self, request: LoginRequest) -> None:
        """Join ``request``'s room: the client derives keys and connects in its thread."""
        if self.identity is None:
            return  # no identity: the problem view is shown instead of the login
        self.request = request
        self.hosting = None
        if self.login is not None:
            self.login.show_progress(f"Connecting to {format_address(request.host, request.port)}…")
        if request.relay_key:  # from an invite: expect its relay from the first connection on
            invite = ce.Invite(
                request.host, request.port, request.room_id, request.relay_key, request.password
            )
            ce.pin_invite(self.trust, invite)
        self._start_client(
            request.host,
            request.port,
            request.username,
            password=request.password,
            room_id=request.room_id,
        )

    def connect_again(self) -> None:
        """ "Connect again" after a login was interrupted: the same request, started by the
        person (the client never retries by itself once the password was at stake)."""
        if self.request is not None and self.login is not None and not self.login.busy:
            self.connect(self.request)

    def trust_new_relay(self) -> None:
        """ "Trust the new relay and connect" in the login view: after a confirmation, forget
        the relay key pinned for this address and connect; the new relay's key is pinned."""
        request = self.request
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

    def retry_now(self) -> None:
        """Retry now in the chat's connection banner: the client stops waiting and tries."""
        if self.client is not None:
            self.client.retry_now()

    def back_to_rooms(self) -> None:
        """Back to rooms in the chat's connection banner, after a final failure: the chat
        goes and the login view comes back in the same window (the failed client is closed
        in the background; a room hosted here is closed)."""
        if self.chat is None or not self._may_close_hosted_room("Going back to your rooms"):
            return
        self._generation += 1  # whatever the old client still says is dropped
        self._stop_client()
        self._stop_relay()
        self.hosting = None
        if self.invite is not None and self.invite.winfo_exists():
            self.invite.destroy()
        self.invite = None
        self.chat.destroy()
        self.chat = None
        self.root.title("SocketChat")
        self.show_login()

    def reconnect(self) -> None:
        """Rejoin in the chat window after a final failure: a new client with the same
        keys, identity and trust, asking for the room joined before."""
        old = self.client
        if old is None or self.chat is None:
            return
        self._stop_client()
        request = self.request
        self._start_client(
            old.host,
            old.port,
            old.username,
            # The password too (when known), should the relay hold a new room by that name.
            password=request.password if request is not None else None,
            keys=old.keys,
            room_id=old.ask_room,
        )

    def _pin_default_room(self) -> None:
        """Joined again from the chat window (Reconnect asks for the room itself): the next
        fresh login asks for the default room at this address, so it must expect the same
        relay. Fills a missing pin only (one forgotten by "Trust the new relay")."""
        client = self.client
        if client is None or not client.room_id:
            return
        key = self.trust.relay_key(relay_address(client.host, client.port, client.room_id))
        if key is not None:
            self.trust.pin_relay(relay_address(client.host, client.port, DEFAULT_ROOM), key)

    def trust_new_relay_from_chat(self) -> None:
        """The chat's "Trust the new relay and connect" after RELAY_CHANGED on a reconnect."""
        client = self.client
        if client is None or self.chat is None:
            return
        if not self.confirm(
            "Trust the new relay?", trust_relay_question(client.host, client.port), TRUST_NEW_RELAY
        ):
            return
        for room in {client.ask_room, DEFAULT_ROOM}:
            self.trust.forget_relay(relay_address(client.host, client.port, room))
        self.chat.reconnect()

    def _start_client(
        self,
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
        self._generation += 1
        self._early = []
        generation = self._generation
        put = self.pump.put
        self.client = ChatClient(
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
        )
        self.client.start()

    def cancel_connect(self) -> None:
        """Cancel while connecting or while the room is starting."""
        self._generation += 1
        self._stop_client()
        if self.starter is not None:
            starter, self.starter = self.starter, None
            starter.cancelled.set()  # the worker stops a relay that starts anyway
        self._stop_relay()
        self.hosting = None

    def _host_chosen(self, request: HostRequest | None) -> None:
        self.host_dialog = None
        if request is None or self.login is None:
            return
        self.hosting = request
        self.request = LoginRequest("127.0.0.1", request.port, request.password, request.username)
        self.login.show_progress(f"Starting your room on port {request.port}…")
        self._generation += 1
        generation = self._generation
        put = self.pump.put
        addresses = lan_addresses() if request.scope is not Scope.COMPUTER else []
        room = self.reach = ReachState(
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
                lambda peer: put((0, ForRoom(room, OutsideSeen(peer, time.strftime("%H:%M")))))
            )
        self.starter = start_room_in_background(
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
        if isinstance(event, ForRoom):  # the hosted room's services: dropped once it is closed
            self._reach_event(event)
            return
        if generation != self._generation:
            if isinstance(event, RoomStarted):
                event.relay.stop()  # a room nobody waits for any more
            return
        if isinstance(event, RoomStarted):
            self._room_started(event)
        elif isinstance(event, RoomFailed):
            self._room_failed(event)
        elif self.chat is not None:
            if isinstance(event, ce.Joined):
                self._pin_default_room()
            if isinstance(event, ce.PasswordChanged) and event.own and event.password:
                self._hosted_password_changed(event.password)
            self.chat.handle(event)
        else:
            self._login_event(event)

    def _login_event(self, event: ce.ClientEvent) -> None:
        login = self.login
        if login is None:
            return
        if isinstance(event, ce.DerivingKeys):
            login.show_progress("Deriving the room key from the password…")
        elif isinstance(event, ce.Queued):
            login.show_progress(_queued_text(event.position))
        elif isinstance(event, ce.Connecting) and self.request is not None:
            asked = self.request
            where = "your room" if self.hosting else format_address(asked.host, asked.port)
            login.show_progress(f"Connecting to {where}…")
        elif isinstance(event, ce.IdentityChanged | ce.OutboxRestored):
            self._early.append(event)  # the chat window shows it once it exists
        elif isinstance(event, ce.Joined):
            self._remember()
            self._show_chat(event)
        elif isinstance(event, ce.Failed):
            request = self.request
            hosted = self.hosting is not None
            self._stop_client()
            self._stop_relay()
            self.hosting = None
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

    def _room_started(self, event: RoomStarted) -> None:
        self.starter = None
        self.relay = event.relay
        hosting = self.hosting
        if hosting is None or self.login is None:  # cancelled meanwhile: the room goes too
            self._stop_relay()
            return
        self.request = LoginRequest("127.0.0.1", event.port, hosting.password, hosting.username)
        if event.relay_key:
            # Our own client must expect this room's relay, not one hosted here before.
            address = relay_address("127.0.0.1", event.port, DEFAULT_ROOM)
            self.trust.forget_relay(address)
            self.trust.pin_relay(address, event.relay_key)
        self.login.show_progress("Joining your room…")
        self._start_client("127.0.0.1", event.port, hosting.username, keys=event.keys)
        if self.reach is not None:
            self.hosted = HostedServices(
                self.services, self.reach, self.pump.put, self._in_background
            )
            self.hosted.start(hosting, event.port)

    # -- around the hosted room: the router, the announcement, rooms found -------------------

    def _reach_event(self, item: ForRoom) -> None:
        if item.room is not self.reach or self.reach is None:
            return  # a room that is closed (or another one)
        self.reach.apply(item.event)
        if self.invite is not None and self.invite.winfo_exists():
            self.invite.refresh(self.reach)

    def _stop_reach(self) -> None:
        """The hosted room is closing: the mapping and the announcement go too."""
        hosted, self.hosted = self.hosted, None
        if hosted is not None:
            hosted.stop()
        self.reach = None

    def _rooms_found(self, event: RoomsFound) -> None:
        if self.login is None:
            return
        if event.error:
            self.login.rooms_unavailable(event.error)
        else:
            self.login.show_rooms(event.rooms)

    def _room_failed(self, event: RoomFailed) -> None:
        self.starter = None
        request = self.hosting
        self.hosting = None
        self.reach = None
        if self.login is None:
            return
        self.login.set_idle()
        self.open_host_dialog(initial=request, error=host_error_text(event.error, event.port))

    def _after_batch(self) -> None:
        if self.chat is not None:
            self.chat.flush()

    def _send(self, text: str) -> PendingMessage:
        if self.client is None:
            raise ValueError("Not connected to a room.")
        return self.client.send(text)

    def _remember(self) -> None:
        request = self.request
        if request is None:
            return
        if self.hosting is not None:
            self._save(username=request.username, sound=self.sound.get())
        else:
            self._save(
                host=request.host,
                port=request.port,
                username=request.username,
                sound=self.sound.get(),
            )

    # -- closing ------------------------------------------------------------------------

    def request_close(self) -> None:
        """The window's close box: ask first if messages still wait to be sent, or if that
        closes a room for others (the safe answer, Cancel, is the default); then quit."""
        if not self._may_quit_with_waiting_messages():
            return
        if not self._may_close_hosted_room("Closing this window"):
            return
        self.close()

    def waiting_messages(self) -> int:
        """Messages written here that the relay has not confirmed: in the client's outbox,
        or handed back as not sent and not sent again."""
        waiting = len(self.client.pending()) if self.client is not None else 0
        if self.chat is not None:
            waiting += len(self.chat.unsent.texts)
        return waiting

    def _may_quit_with_waiting_messages(self) -> bool:
        waiting = self.waiting_messages()
        if not waiting:
            return True
        return self.confirm("Quit SocketChat?", quit_question(waiting), "Quit anyway")

    def _may_close_hosted_room(self, doing: str) -> bool:
        """True unless a room hosted here has a chat open and the person keeps it open."""
        if self.relay is None or self.chat is None:
            return True
        others = len(self.chat.members) - 1
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
        if self.chat is not None:
            self._save(sound=self.sound.get())
        self.notifications.close()
        self._generation += 1
        if self.starter is not None:
            self.starter.cancel()  # joins the worker: whatever it produced is queued by now
            self.starter = None
        # A room that finished starting just before the cancel waits in the queue under the old
        # generation: draining hands it to _dispatch, which stops it.
        self.pump.drain(limit=self.pump.pending() + 1)
        client, self.client = self.client, None
        if client is not None:
            client.close()
        self.finder.stop()
        self._stop_relay()
        for thread in self._closers:
            thread.join(5.0)
        with contextlib.suppress(tk.TclError):
            # Run pending idle work (ttk's <<ThemeChanged>> after a quick start) while the
            # root exists: left for later, it fails noisily on a destroyed interpreter.
            self.root.update_idletasks()
            self.root.destroy()

    def _stop_client(self) -> None:
        # close() joins the worker, which may be in the middle of scrypt: do it off the Tk
        # thread so Cancel answers at once; close() waits for these threads.
        client, self.client = self.client, None
        if client is not None:
            self._in_background(client.close)

    def _stop_relay(self) -> None:
        self._stop_reach()
        relay, self.relay = self.relay, None
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
    app = App(root, reach=ReachServices.real())
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


def quit_question(waiting: int) -> str:
    """What the close box asks while ``waiting`` messages have not reached the room."""
    what = "1 message you wrote has" if waiting == 1 else f"{waiting} messages you wrote have"
    them = "it" if waiting == 1 else "them"
    return (
        f"{what} not reached the room yet. If you quit now, {them} will not be sent: "
        f"copy {them} first, or wait until the connection is back."
    )


def _queued_text(position: int) -> str:
    return f"The room is letting others in first. You are number {position} in line…"
