"""The chat window: header, message list, member list, message entry and status line.

The app builds a :class:`ChatWindow` when the client reports ``Joined`` and then feeds it every
client event through :meth:`ChatWindow.handle` (on the Tk thread, from the pump), followed by
:meth:`ChatWindow.flush` once per batch. Sending goes through the ``send`` callable (the
client's thread-safe ``send``), which returns at once; the message shows as pending until the
relay echoes it back, and messages typed while disconnected are sent after reconnecting.

While the window is not focused, a new message adds to the unread count in the title and, unless
the room is muted, calls ``notify(title, body)`` (the app's desktop notifications,
``gui/notify.py``); a message that mentions you (``@yourname``) always does. Keys in the compose
box: Enter sends, Shift+Enter adds a line, Ctrl+Tab a tab, Tab / Shift+Tab move the focus on,
PgUp / PgDn and Ctrl+Home / Ctrl+End scroll the conversation, Up in an empty box brings back the
last message you sent (to edit and send as a new message).

Identities and trust: the member list puts ✓ before a member you verified and ⚠ before one
whose safety code changed; **Verify…** (the button under the list, a double-click, or the
right-click menu) opens the Verify dialog (``gui/verify.py``), and **Your safety code…** in
the header shows this device's code. A key change (``IdentityChanged``) puts a banner at the
top of the conversation that stays until the new key is accepted, and that member's messages
are marked until then. What the person records goes to ``trust`` (the client's
``mark_verified`` / ``accept_key``); the window also remembers it, since the member lists in
later events carry the trust the client saw when the member arrived. A final failure
(``Failed``) shows the reason in a bar with **Reconnect** (``on_reconnect``), or, when the
relay is not the one joined before, **Trust the new relay and connect** (``on_trust_relay``).

Owners and admins (``gui/roles.py`` decides, this window shows): the member list has a column
that says "owner" or "admin" beside those names (never inside the name's text, which another
person wrote); each action is a line in the conversation; the member list's menu offers Make
admin / Remove admin rights (the owner) and Remove from room… (the owner and admins, by the
room's rules), which asks first in a small dialog. What the person decides goes to ``actions``
(the client's ``make_admin`` / ``unmake_admin`` / ``remove_member``); a ``ValueError`` from it is
shown as a notice. A member who was removed sees ``Failed(REMOVED)``, without Reconnect. In a
room with an owner the header also says the room's setting, chosen when it was created: "New
members can read recent history" or "New members see only what is sent after they join".
"""

from __future__ import annotations

import time
import tkinter as tk
from collections import defaultdict
from collections.abc import Callable, Iterable
from tkinter import ttk

from typing_extensions import assert_never

from crypto.identity import PublicIdentity
from gui.connection import BACK_TO_ROOMS, REJOIN, Action, ConnectionBanner
from gui.dialogs import ConfirmDialog
from gui.errors import TRUST_NEW_RELAY, failure_text, may_reconnect
from gui.links import mentions
from gui.messages import MessageList, format_time
from gui.roles import (
    ACTION_LABELS,
    MemberAction,
    RoomActions,
    RoomRoles,
    member_actions,
    new_password_text,
    password_changed_notice,
    password_question,
    refusal_notice,
    release_problem,
    release_question,
    removal_question,
    role_change_notice,
    role_label,
)
from gui.safetext import body_pieces, display_name
from gui.theme import PALETTE, Palette
from gui.unsent import UnsentMessages
from gui.verify import (
    SafetyCodeDialog,
    TrustActions,
    VerifyDialog,
    badge,
    public_identity,
    verify_view,
)
from net import client as ce
from net.client import (
    MAX_MESSAGE_BYTES,
    ActionKind,
    ErrorKind,
    PendingMessage,
    Role,
    StoredMessage,
    Trust,
    name_skeleton,
)

_WARN_REMAINING = 400  # show the remaining-bytes counter this close to the limit

SENDING = "sending…"
WAITING = "waiting: sent once the connection is back"
#: A message handed back as not sent but kept on this device: the next client sends it.
KEPT = "not sent yet: kept on this device, sent when you rejoin"
HINT = "Enter sends · Shift+Enter adds a line · ↑ in an empty box: your last message, sent as new"
ENCRYPTED = "● End-to-end encrypted and signed: the relay cannot read or forge messages"
#: The room's setting, chosen by its owner when it was created (rooms with an owner only).
HISTORY_SHARED = "New members can read recent history"
HISTORY_NOT_SHARED = "New members see only what is sent after they join"
PREVIEW_CHARS = 120  # of a message, in its desktop notification

Notify = Callable[[str, str], None]


def notification_text(sender: str, text: str) -> tuple[str, str]:
    """The title and body of a desktop notification for a message: the sender's name as the
    chat shows it, and the start of the body on one line, escaped characters as markers."""
    body = " ".join("".join(piece for piece, _ in body_pieces(text)).split())
    if len(body) > PREVIEW_CHARS:
        body = body[: PREVIEW_CHARS - 1].rstrip() + "…"
    return display_name(sender), body


#: How the client's sentences about a loss go on to say what it does next ("The relay is
#: restarting; reconnecting."): the banner says that, and once the connection is back the
#: conversation's line would say it wrongly, so the line keeps only the cause.
_NEXT_STEPS = ("reconnecting", "trying again")


def loss_reason(reason: str) -> str:
    """The client's sentence about a lost connection, to follow "Connection lost at 14:02:"
    (the cause only, its first letter in lower case, no full stop, one line)."""
    words = " ".join(str(reason).split()).rstrip(".")
    cause, _, then = words.rpartition("; ")
    if cause and then.lower().startswith(_NEXT_STEPS):
        words = cause
    if len(words) > 1 and words[0].isupper() and not words[1].isupper():
        words = words[0].lower() + words[1:]
    return words or "no reason given"


def message_size_problem(text: str, limit: int) -> str | None:
    """Why ``text`` cannot be sent, in plain words, or None if it can."""
    if not text.strip():
        return "Type a message first."
    size = len(text.encode("utf-8"))
    if size > limit:
        return (
            f"This message is too long by {size - limit:,} bytes "
            f"(the limit is {limit:,} bytes; emoji and accented letters count double "
            "or more). Split it into several messages."
        )
    return None


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


def lookalikes(members: Iterable[ce.Member]) -> dict[str, str]:
    """Members whose name could be mistaken for another present member's (same UTS #39
    skeleton, another identity key): name -> the first name it looks like. The relay refuses
    such names; a relay that let one in is not doing its job, so the window flags them."""
    groups: dict[str, list[ce.Member]] = defaultdict(list)
    for member in members:
        groups[name_skeleton(member.name)].append(member)
    found: dict[str, str] = {}
    for group in groups.values():
        for member in group:
            other = next((o for o in group if o.signing_key != member.signing_key), None)
            if other is not None:
                found[member.name] = other.name
    return found


def changed_banner_text(name: str) -> str:
    """The banner for a member whose key changed."""
    return f"⚠ {display_name(name)}'s safety code changed — this may be someone else."


def forged_notice(claimed_sender: str, why: str) -> str:
    """The conversation's line for a message that failed verification (never its content)."""
    return (
        f"A message claiming to come from {display_name(claimed_sender)} was dropped: it "
        f"failed verification ({why}). Someone may be trying to impersonate them."
    )


def unproven_notice(name: str) -> str:
    """The conversation's line for a listed member who did not prove the room password."""
    return (
        f"⚠ The relay lists {display_name(name)} as a member, but they did not prove they know "
        "the room password: they receive nothing and their messages are refused. Whoever runs "
        "the relay may be trying to listen in."
    )


class ChatWindow(ttk.Frame):
    """Grid this into the root once joined; feed it events with :meth:`handle`."""

    def __init__(
        self,
        master: tk.Misc,
        *,
        room: str,
        username: str,
        members: tuple[ce.Member, ...],
        room_title: str = "",
        send: Callable[[str], PendingMessage],
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        palette: Palette = PALETTE,
        sound: tk.BooleanVar | None = None,
        on_invite: Callable[[], None] | None = None,
        is_focused: Callable[[], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
        notify: Notify | None = None,
        muted: tk.BooleanVar | None = None,
        view_menu: Callable[[tk.Misc], tk.Menu] | None = None,
        open_url: Callable[[str], None] | None = None,
        identity: PublicIdentity | None = None,
        trust: TrustActions | None = None,
        on_reconnect: Callable[[], None] | None = None,
        on_trust_relay: Callable[[], None] | None = None,
        actions: RoomActions | None = None,
        on_retry_now: Callable[[], None] | None = None,
        on_back: Callable[[], None] | None = None,
        shown: Callable[[], bool] | None = None,
        on_unread: Callable[[], None] | None = None,
        joined: bool = True,
        on_jump: Callable[[], object] | None = None,
        on_search: Callable[[], object] | None = None,
    ) -> None:
        super().__init__(master)
        # In a window of several rooms, the app says whether this one is the one shown (the
        # title is its own then) and marks it read; alone, the window does both itself.
        self._shown = shown
        self._on_unread = on_unread
        self._on_jump = on_jump
        self._on_search = on_search
        self._actions = actions  # the owner's and admins' requests go there
        self._owner: bytes | None = None  # the room's owner, once reported (it never changes)
        self.roles = RoomRoles()  # the owner and admins, from the latest member list
        self._member_focused = False
        self._removed: set[str] = set()  # removals told, whose departure needs no second line
        self.identity = identity  # this device's: your safety code, and half of every pair code
        self._trust = trust
        self._on_reconnect = on_reconnect
        self._on_trust_relay = on_trust_relay
        self._on_retry_now = on_retry_now
        self._on_back = on_back
        # The conversation's one line about the current loss of connection, updated in place
        # when it is back: (its key, when it was lost, why). None while connected.
        self._outage: tuple[str, str, str] | None = None
        self._outages = 0
        self._archive_told = False
        self._alone_told = False  # "You are alone in the room" said, and nobody came since
        # What the person recorded in this window, by name: (key, trust). It outranks the trust
        # in later events, whose member lists keep what the client saw on arrival.
        self._decided: dict[str, tuple[bytes, Trust]] = {}
        self.changed: dict[str, ce.IdentityChanged] = {}  # key changes not accepted, by name
        self._banners: dict[str, _BannerRow] = {}
        self._told: set[tuple[str, bytes]] = set()  # key changes noted in the conversation
        self._rows: list[ce.Member] = []  # the member list's rows, in order
        # The one open (tests look): a safety code, Verify, or the removal confirmation.
        self.dialog: SafetyCodeDialog | VerifyDialog | ConfirmDialog | None = None
        #: The room password this device set last (the app updates its invite with it).
        self.new_password: str | None = None
        self.member_menu: tk.Menu | None = None
        self.failure: ce.Failed | None = None
        self.room = room
        self.room_title = room_title or f"Room {room}"
        self.username = username
        self.members: tuple[ce.Member, ...] = ()
        self._send = send
        self.max_message_bytes = max_message_bytes
        self._palette = palette
        self.sound = sound if sound is not None else tk.BooleanVar(self, False)
        self._is_focused = is_focused or self._window_has_focus
        self._clock = clock
        self._notify_desktop = notify
        self.muted = muted if muted is not None else tk.BooleanVar(self, False)
        self._open_url = open_url
        self._status_before_link: str | None = None
        self.last_sent = ""  # what Up brings back into an empty compose box
        self.notified: list[tuple[str, str]] = []  # (title, body) handed to notify, for tests
        self.connected = True
        self.closed_for_good = False
        self.unread = 0
        self.pending: dict[bytes, str] = {}  # message id -> text, until the relay echoes it
        self.status = tk.StringVar(self, "")
        self.encryption = tk.StringVar(self, "")
        #: The room's history setting, under the encryption line ("" in a room without owner).
        self.room_setting = tk.StringVar(self, "")
        self.member_title = tk.StringVar(self, "")
        self.limit_text = tk.StringVar(self, "")
        self._build(on_invite, view_menu, clock)
        self.set_members(members)
        self._set_connected(joined)
        if not joined:  # opened before its client joined (a remembered room)
            self.connection.connecting()
            self.status.set("Connecting…")
        if shown is None:
            self.winfo_toplevel().bind("<FocusIn>", self._on_focus_in, add="+")
        self.update_title()

    # -- layout -------------------------------------------------------------------------

    def _build(
        self,
        on_invite: Callable[[], None] | None,
        view_menu: Callable[[tk.Misc], tk.Menu] | None,
        clock: Callable[[], float],
    ) -> None:
        self.columnconfigure(0, weight=1)
        self.rowconfigure(4, weight=1)

        header = ttk.Frame(self, padding=(14, 10, 14, 8))
        header.grid(row=0, column=0, sticky="ew")
        header.columnconfigure(1, weight=1)
        self.title_label = ttk.Label(header, text=self.room_title, style="Header.TLabel")
        self.title_label.grid(row=0, column=0, sticky="w")
        self.encryption_label = ttk.Label(header, textvariable=self.encryption)
        # Under the buttons too: the whole width of the window is the label's.
        self.encryption_label.grid(row=1, column=0, columnspan=5, sticky="w")
        self.setting_label = ttk.Label(
            header, textvariable=self.room_setting, foreground=self._palette.muted
        )
        self.setting_label.grid(row=2, column=0, columnspan=5, sticky="w")
        self.setting_label.grid_remove()  # shown for a room with an owner, once joined
        self.code_button: ttk.Button | None = None
        if self.identity is not None:
            self.code_button = ttk.Button(
                header, text="Your safety code…", command=self.show_safety_code
            )
            self.code_button.grid(row=0, column=2, sticky="e", padx=(8, 0))
        if on_invite is not None:
            ttk.Button(header, text="Invite friends…", command=on_invite).grid(
                row=0, column=3, sticky="e", padx=(8, 0)
            )
        self.view_button: ttk.Menubutton | None = None
        if view_menu is not None:
            self.view_button = ttk.Menubutton(header, text="View")
            self.view_button.configure(menu=view_menu(self.view_button))
            self.view_button.grid(row=0, column=4, sticky="e", padx=(8, 0))
        # How the connection stands (reconnecting, or stopped for good): one row, above all.
        self.connection = ConnectionBanner(
            self,
            palette=self._palette,
            on_retry_now=self._retry_now if self._on_retry_now is not None else None,
            clock=clock,
        )
        self.connection.grid(row=1, column=0, sticky="ew")
        self.connection.hide()
        # Key changes: one warning row each, until dealt with.
        self.banner = tk.Frame(self, background=self._palette.warning_surface)
        self.banner.grid(row=2, column=0, sticky="ew")
        self.banner.columnconfigure(0, weight=1)
        self.banner.grid_remove()
        ttk.Separator(self).grid(row=3, column=0, sticky="ew")

        body = ttk.Frame(self)
        body.grid(row=4, column=0, sticky="nsew")
        body.columnconfigure(0, weight=1)
        body.rowconfigure(0, weight=1)
        self.messages = MessageList(
            body, palette=self._palette, on_hover=self._show_link_target, open_url=self._open_url
        )
        self.messages.mention_name = self.username
        self.messages.grid(row=0, column=0, sticky="nsew")
        self.unsent = UnsentMessages(self.messages, retry=self.retry_message)
        side = ttk.Frame(body, padding=(12, 10, 12, 10))
        side.grid(row=0, column=1, sticky="ns")
        side.rowconfigure(1, weight=1)
        side.columnconfigure(0, weight=1)
        ttk.Label(side, textvariable=self.member_title, style="Header.TLabel").grid(
            row=0, column=0, sticky="w", pady=(0, 6)
        )
        # Names on the left, roles ("owner", "admin") in a column of their own on the right,
        # so that no name can pass for a role. The box draws the focus ring around both.
        self.member_box = tk.Frame(
            side,
            highlightthickness=2,  # the focus ring, invisible until the list has the focus
            highlightbackground=self._palette.background,
            highlightcolor=self._palette.accent,
            background=self._palette.background,
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
            background=self._palette.background,
            foreground=self._palette.text,
            selectbackground=self._palette.selection,
            selectforeground=self._palette.text,
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
            background=self._palette.background,
            foreground=self._palette.muted,
            selectbackground=self._palette.selection,
            selectforeground=self._palette.text,
            font="TkDefaultFont",
            takefocus=False,
            exportselection=False,
        )
        self.role_list.grid(row=0, column=1, sticky="ns")
        self.role_list.grid_remove()  # until someone has a role
        for sequence in ("<Button-1>", "<B1-Motion>", "<ButtonRelease-1>"):
            self.role_list.bind(sequence, self._on_role_click)
        self.role_list.bind("<Double-Button-1>", self._on_role_double_click)
        self.role_list.bind("<Button-3>", self._on_member_right_click)
        for sequence in ("<Button-4>", "<Button-5>", "<MouseWheel>"):
            self.role_list.bind(sequence, self._on_role_wheel)
        self.member_list.bind("<FocusIn>", lambda _e: self._show_member_ring(True), add="+")
        self.member_list.bind("<FocusOut>", lambda _e: self._show_member_ring(False), add="+")
        self.verify_button = ttk.Button(side, text="Verify…", command=self.verify_selected)
        self.verify_button.grid(row=2, column=0, sticky="ew", pady=(8, 0))
        self.verify_button.state(["disabled"])
        self.member_list.bind("<<ListboxSelect>>", lambda _e: self._update_verify_button())
        self.member_list.bind("<Double-Button-1>", lambda _e: self.verify_selected())
        self.member_list.bind("<Button-3>", self._on_member_right_click)
        self.member_list.bind("<Return>", lambda _e: self.verify_selected())
        self.member_list.bind("<KP_Enter>", lambda _e: self.verify_selected())
        self.member_list.bind("<Menu>", self._on_member_menu_key)
        self.member_list.bind("<Shift-F10>", self._on_member_menu_key)
        self.member_list.bind("<FocusIn>", self._on_member_focus, add="+")

        ttk.Separator(self).grid(row=5, column=0, sticky="ew")
        compose = ttk.Frame(self, padding=(14, 10, 14, 4))
        compose.grid(row=6, column=0, sticky="ew")
        compose.columnconfigure(0, weight=1)
        self.entry = tk.Text(
            compose,
            height=3,
            wrap="word",
            undo=True,
            relief="solid",
            borderwidth=1,
            highlightthickness=2,
            highlightcolor=self._palette.accent,
            highlightbackground=self._palette.border,
            background=self._palette.surface,
            foreground=self._palette.text,
            insertbackground=self._palette.text,
            selectbackground=self._palette.selection,
            selectforeground=self._palette.text,
            font="SocketChatMessage",
            padx=8,
            pady=6,
        )
        self.entry.grid(row=0, column=0, sticky="ew")
        self.send_button = ttk.Button(
            compose, text="Send", style="Accent.TButton", command=self.send_entry
        )
        self.send_button.grid(row=0, column=1, sticky="se", padx=(10, 0))
        hint = ttk.Frame(compose)
        hint.grid(row=1, column=0, columnspan=2, sticky="ew", pady=(4, 0))
        hint.columnconfigure(0, weight=1)
        self.hint_label = ttk.Label(hint, text=HINT, foreground=self._palette.muted)
        self.hint_label.grid(row=0, column=0, sticky="w")
        self.limit_label = ttk.Label(
            hint,
            textvariable=self.limit_text,
            wraplength=520,
            foreground=self._palette.muted,
            justify="right",
        )
        self.limit_label.grid(row=0, column=1, sticky="e")
        self.entry.bind("<Return>", self._on_return)
        self.entry.bind("<KP_Enter>", self._on_return)
        self.entry.bind("<Shift-Return>", self._on_shift_return)
        self.entry.bind("<Shift-KP_Enter>", self._on_shift_return)
        self.entry.bind("<<Modified>>", self._on_modified)
        self.entry.bind("<Tab>", self._focus_next)
        self.entry.bind("<Shift-Tab>", self._focus_prev)
        self.entry.bind("<ISO_Left_Tab>", self._focus_prev)  # Shift+Tab on X11
        self.entry.bind("<Control-Tab>", self._insert_tab)
        self.entry.bind("<Prior>", lambda _e: self._scroll(self.messages.scroll_pages, -1))
        self.entry.bind("<Next>", lambda _e: self._scroll(self.messages.scroll_pages, 1))
        self.entry.bind("<Control-Home>", lambda _e: self._scroll(self.messages.scroll_to_top))
        self.entry.bind("<Control-End>", lambda _e: self._scroll(self.messages.scroll_to_end))
        self.entry.bind("<Up>", self._on_up)
        # Ctrl+R: the connection banner's first button (Retry now, Rejoin…), from the
        # places the keyboard usually is.
        for widget in (self.entry, self.messages.text, self.member_list):
            widget.bind("<Control-r>", self._on_banner_key)
            widget.bind("<Control-R>", self._on_banner_key)
            # Ctrl+K: jump to another room (before the text box's own Ctrl+K, which cuts
            # to the end of the line).
            widget.bind("<Control-k>", self._on_jump_key)
            widget.bind("<Control-K>", self._on_jump_key)
            # Ctrl+F: search what this device kept (before the text box's own Ctrl+F).
            widget.bind("<Control-f>", self._on_search_key)
            widget.bind("<Control-F>", self._on_search_key)

        status = ttk.Frame(self, padding=(14, 2, 14, 8))
        status.grid(row=7, column=0, sticky="ew")
        status.columnconfigure(0, weight=1)
        self.status_label = ttk.Label(
            status, textvariable=self.status, foreground=self._palette.muted
        )
        self.status_label.grid(row=0, column=0, sticky="w")
        self.mute_button = ttk.Checkbutton(status, text="Mute this room", variable=self.muted)
        self.mute_button.grid(row=0, column=1, sticky="e", padx=(0, 12))
        ttk.Checkbutton(status, text="Sound for new messages", variable=self.sound).grid(
            row=0, column=2, sticky="e"
        )

    # -- events from the client -----------------------------------------------------------

    def handle(self, event: ce.ClientEvent) -> None:
        """Show one client event (on the Tk thread, from the pump)."""
        match event:
            case ce.Joined():
                self._on_joined(event)
            case ce.MessageReceived():
                self._on_message(event)
            case ce.MessageStored(message_id=message_id):
                self._on_stored(message_id)
            case ce.MessageNotSent():
                self._on_not_sent(event)
            case ce.OutboxRestored(messages=restored):
                self._on_outbox_restored(restored)
            case ce.NotSent():
                self._on_handed_back(event)
            case ce.ArchiveFailed(reason=reason):
                self._on_archive_failed(reason)
            case ce.ForgedMessage():
                self._on_forged(event)
            case ce.MessageLocked(
                sender=sender, message_id=message_id, from_history=old, withheld=withheld
            ):
                self.messages.add_locked(sender, message_id, from_history=old, withheld=withheld)
            case ce.UnprovenMember(name=name):
                self.messages.add_notice(unproven_notice(name), "warning")
            case ce.RoleChange():
                self._on_role_change(event)
            case ce.ActionNotTaken(reason=reason):
                self.messages.add_notice(refusal_notice(reason), "warning")
            case ce.PasswordChanged():
                self._on_password_changed(event)
            case ce.IdentityChanged():
                self._on_identity_changed(event)
            case ce.MemberJoined():
                self._on_member_joined(event)
            case ce.MemberLeft():
                self._on_member_left(event)
            case ce.AloneInRoom():
                self._on_alone()
            case ce.RateLimited():
                self._on_rate_limited()
            case ce.Disconnected():
                self._on_disconnected(event)
            case ce.Connecting():
                self._on_connecting(event)
            case ce.Queued(position=position):
                if not self.connected:
                    self.connection.queued(position)
            case ce.Failed():
                self._on_failed(event)
            case ce.DerivingKeys():
                pass  # only before the first join, which the login view shows
            case _:
                assert_never(event)

    def flush(self) -> None:
        """Once per pump batch: scroll and trim the message list."""
        self.messages.flush()

    def _on_joined(self, event: ce.Joined) -> None:
        if len(event.members) > 1:
            self._alone_told = False
        self.messages.start_session()
        self.set_members(tuple(event.members))
        self._show_room_setting(event.history_for_newcomers)
        self._set_connected(True)
        if self.closed_for_good:  # joined again after a final failure (Rejoin)
            self.closed_for_good = False
            self.failure = None
            self.send_button.state(["!disabled"])
            self.unsent.set_retry_enabled(True)
        self.max_message_bytes = event.max_message_bytes
        outage, self._outage = self._outage, None
        if event.reconnected:
            if outage is not None:
                key, since, reason = outage
                self.messages.replace_notice(
                    key, f"Connection lost at {since}: {reason}. Back at {self._now()}."
                )
        else:
            self.messages.add_notice(
                f"You joined the room as {display_name(event.your_name)}.", "good"
            )
        for message_id in self.pending:  # waiting ones, and any kept from before: going out
            self.messages.set_pending_note(message_id, SENDING, tag="pendnote")

    def _show_room_setting(self, history_for_newcomers: bool | None) -> None:
        """The room's history setting in the header; nothing for a room without an owner."""
        if history_for_newcomers is None:
            self.room_setting.set("")
            self.setting_label.grid_remove()
            return
        self.room_setting.set(HISTORY_SHARED if history_for_newcomers else HISTORY_NOT_SHARED)
        self.setting_label.grid()

    def _on_message(self, event: ce.MessageReceived) -> None:
        if event.own and event.message_id in self.pending:
            self.pending.pop(event.message_id)
            self.messages.mark_delivered(event.message_id)
            return
        trust = self.trust_of(event.sender, event.sender_key, event.trust)
        shown = self.messages.add_message(
            event.sender,
            event.text,
            event.timestamp_ms,
            own=event.own,
            from_history=event.from_history,
            message_id=event.message_id,
            sender_key=event.sender_key,
            changed=trust is Trust.CHANGED and not event.own,
        )
        if shown and not event.own and not event.from_history:
            self._notify(event.sender, event.text)

    def _on_not_sent(self, event: ce.MessageNotSent) -> None:
        if self.pending.pop(event.message_id, None) is not None:
            self.messages.set_pending_note(event.message_id, f"not sent: {event.reason}")

    def _on_stored(self, message_id: bytes) -> None:
        """The relay stored our message: it is sent (its echo, if it comes, adds nothing)."""
        if self.pending.pop(message_id, None) is not None:
            self.messages.mark_delivered(message_id)
        elif message_id in self.unsent.texts:  # kept, handed back, and sent by a new client
            self.unsent.resolve(message_id, "")
            self.messages.mark_delivered(message_id)

    def _on_outbox_restored(self, restored: tuple[PendingMessage, ...]) -> None:
        """Messages written in an earlier run (or before a Rejoin) and never confirmed: they
        go out now, with their first ids; shown as sending where they are, else at the end."""
        note = SENDING if self.connected else WAITING
        for message in restored:
            self.pending[message.message_id] = message.text
            if self.messages.seen(message.message_id):
                self.messages.set_pending_note(message.message_id, note, tag="pendnote")
                continue
            self._show_own(message, note)

    def _on_handed_back(self, event: ce.NotSent) -> None:
        """The client stopped for good with these unconfirmed: kept ones wait for the next
        client (a note), the others are marked Not sent with Retry and Copy."""
        for message in event.messages:
            self.pending.pop(message.message_id, None)
            if not self.messages.seen(message.message_id):
                self._show_own(message, KEPT if event.kept else WAITING)
            if event.kept:
                self.messages.set_pending_note(message.message_id, KEPT, tag="pendnote")
            else:
                self.unsent.mark(message.message_id, message.text)
        if not event.kept and event.messages:
            self.unsent.set_retry_enabled(False)  # a Failed follows; Rejoin enables them

    def _on_archive_failed(self, reason: str) -> None:
        if self._archive_told:
            return
        self._archive_told = True
        self.messages.add_notice(
            f"This device cannot keep this room's history right now ({reason}). Messages "
            "still go out, but nothing is kept here after you close the app.",
            "warning",
        )

    def retry_message(self, message_id: bytes) -> bool:
        """Retry on a message that was not sent: send its text again through the room's
        current client (a new message, at the end); False if that is not possible now."""
        text = self.unsent.texts.get(message_id)
        if text is None or self.closed_for_good:
            return False
        try:
            message = self._send(text)
        except ValueError as error:
            self._show_limit(str(error), error=True)
            return False
        self.unsent.resolve(message_id)
        self.pending[message.message_id] = text
        self._show_own(message, SENDING if self.connected else WAITING)
        self.messages.follow_next()
        self.messages.flush()
        return True

    def _on_forged(self, event: ce.ForgedMessage) -> None:
        self.messages.drop_locked(event.message_id)
        self.messages.add_notice(forged_notice(event.claimed_sender, event.why), "warning")

    def _on_identity_changed(self, event: ce.IdentityChanged) -> None:
        self._decided.pop(event.name, None)  # the trust store moved on: events say it now
        self.changed[event.name] = event
        self._show_changed_banner(event.name)
        self.set_members(self.members)
        if (event.name, event.new_key) in self._told:
            return  # told again by a new connection: the banner and the notice are there
        self._told.add((event.name, event.new_key))
        verified = " You had verified the old one." if event.was_verified else ""
        self.messages.add_notice(
            f"{display_name(event.name)}'s safety code changed: this may be someone else."
            f"{verified} Their messages are marked until you accept the new key (Verify…).",
            "warning",
        )

    def _on_member_joined(self, event: ce.MemberJoined) -> None:
        self._alone_told = False
        self.set_members(tuple(event.members))
        self.messages.add_notice(f"{display_name(event.name)} joined the room.")
        other = lookalikes(event.members).get(event.name)
        if other is not None:
            self.messages.add_notice(
                f"{display_name(event.name)}'s name looks like {display_name(other)}'s: "
                "check who is who (Verify…) before you trust either.",
                "warning",
            )

    def _on_member_left(self, event: ce.MemberLeft) -> None:
        self.set_members(tuple(event.members))
        if event.name in self._removed:  # "… removed carol from the room." says it already
            self._removed.discard(event.name)
            return
        self.messages.add_notice(f"{display_name(event.name)} left the room.")

    def _on_role_change(self, event: ce.RoleChange) -> None:
        self.set_members(tuple(event.members))
        notice = role_change_notice(event, self.username)
        if notice is None:
            return
        if event.kind is ActionKind.REMOVE and self.member_named(event.target) is not None:
            self._removed.add(event.target)  # its departure follows
        self.messages.add_notice(notice)

    def _on_alone(self) -> None:
        if self._alone_told:
            return  # said already, and nobody came since (a reconnect says it again)
        self._alone_told = True
        self.messages.add_notice(
            "You are alone in the room. Others can join with the host, port and room password."
        )

    def _on_rate_limited(self) -> None:
        self.messages.add_notice(
            "The room asked you to slow down: your messages are delayed, not lost.", "warning"
        )

    def _on_disconnected(self, event: ce.Disconnected) -> None:
        if self.closed_for_good:
            return  # a late event from a client that has already stopped
        self._set_connected(False)
        if self._outage is None:  # one line per loss, however many attempts follow
            self._outages += 1
            key = f"outage{self._outages}"
            reason = loss_reason(event.reason)
            self._outage = (key, self._now(), reason)
            self.messages.add_notice(
                f"Connection lost at {self._now()}: {reason}.",
                "warning",
                key=key,
            )
        for message_id in self.pending:
            self.messages.set_pending_note(message_id, WAITING)
        self.connection.waiting(event.retry_in)

    def _on_connecting(self, _event: ce.Connecting) -> None:
        if not self.connected and not self.closed_for_good:
            self.connection.connecting()

    def _on_failed(self, event: ce.Failed) -> None:
        self._set_connected(False)
        self.closed_for_good = True
        self.failure = event
        self.unsent.set_retry_enabled(False)
        text = failure_text(event.kind, event.message, username=self.username)
        outage, self._outage = self._outage, None
        if outage is None or not self.messages.replace_notice(
            outage[0], f"Disconnected: {text}", "warning"
        ):
            self.messages.add_notice(f"Disconnected: {text}", "warning")
        for message_id in self.pending:
            self.messages.set_pending_note(message_id, "not sent: disconnected")
        self.pending.clear()
        self.send_button.state(["disabled"])
        actions: list[Action] = []
        if event.kind is ErrorKind.RELAY_CHANGED and self._on_trust_relay is not None:
            actions.append((TRUST_NEW_RELAY, self._on_trust_relay))
            self.status.set("Disconnected: this is not the relay you joined before.")
        elif not may_reconnect(event.kind):  # removed: joining again cannot work
            self.status.set("Disconnected for good: this device cannot join the room again.")
        elif self._on_reconnect is not None:
            actions.append((REJOIN, self.reconnect))
            self.status.set("Disconnected. Rejoin when the room is back.")
        else:
            self.status.set("Disconnected.")
        if self._on_back is not None:
            actions.append((BACK_TO_ROOMS, self._on_back))
        self.connection.failed(f"Disconnected: {text}", actions)

    def reconnect(self) -> None:
        """Rejoin after a final failure: the app starts a new client with the same settings,
        keys, identity and trust; its events arrive here as usual (``Joined``, or another
        ``Failed`` if the room is not back yet)."""
        if self._on_reconnect is None or not self.closed_for_good:
            return
        self.connection.connecting()
        self.status.set("Rejoining…")
        self._on_reconnect()

    def _retry_now(self) -> None:
        """Retry now in the banner: the client stops waiting and tries at once."""
        if self._on_retry_now is not None and not self.connected and not self.closed_for_good:
            self._on_retry_now()

    def set_room_title(self, title: str) -> None:
        """The room was renamed (its label in the room list): the header follows."""
        self.room_title = title
        self.title_label.configure(text=display_name(title))

    def _on_search_key(self, _event: tk.Event) -> str | None:
        if self._on_search is None:
            return None
        self._on_search()
        return "break"

    def show_kept(self, kept: Iterable[StoredMessage]) -> None:
        """Messages this device kept of the room (its local history, oldest first), shown
        where the room's earlier messages go; the relay's copies of them add nothing."""
        mine = self.identity.signing_public if self.identity is not None else None
        for message in kept:
            self.messages.add_message(
                message.sender,
                message.text,
                message.timestamp_ms,
                own=message.own or (mine is not None and message.signing_key == mine),
                from_history=True,
                message_id=message.message_id,
                sender_key=message.signing_key,
            )
        self.messages.flush()

    def _on_jump_key(self, _event: tk.Event) -> str | None:
        if self._on_jump is None:
            return None
        self._on_jump()
        return "break"

    def _on_banner_key(self, _event: tk.Event) -> str:
        self.connection.press_first()
        return "break"

    def _now(self) -> str:
        return format_time(int(time.time() * 1000))

    # -- state --------------------------------------------------------------------------

    def set_members(self, members: tuple[ce.Member, ...]) -> None:
        """Replace the member list (own name first, then alphabetical), names on one line,
        each other member with its trust badge: ✓ verified, ⚠ key changed (warning colour)."""
        self.members = members
        selected = self.selected_member()
        own = [m for m in members if m.name == self.username]
        others = sorted(
            (m for m in members if m.name != self.username), key=lambda m: m.name.casefold()
        )
        self._rows = own[:1] + others
        alike = lookalikes(members)
        roles = self.roles = RoomRoles.from_members(members, owner=self._owner)
        self._owner = roles.owner
        self.member_list.delete(0, "end")
        self.role_list.delete(0, "end")
        for member in self._rows:
            self.role_list.insert("end", role_label(member.role))
        if any(member.role is not Role.MEMBER for member in self._rows):
            self.role_list.grid()
        else:
            self.role_list.grid_remove()
        for index, member in enumerate(self._rows):
            if member.name == self.username:
                self.member_list.insert("end", f"{display_name(member.name)} (you)")
                self.member_list.itemconfigure(index, foreground=self._palette.accent)
                if selected is not None and member.name == selected.name:
                    self.member_list.selection_set(index)
                continue
            trust = self.trust_of(member.name, member.signing_key, member.trust)
            sign = badge(trust)
            shown = f"{sign} {display_name(member.name)}" if sign else display_name(member.name)
            if member.name in alike:
                shown += f" ≈ {display_name(alike[member.name])}"
            self.member_list.insert("end", shown)
            if trust is Trust.CHANGED or member.name in alike:
                self.member_list.itemconfigure(index, foreground=self._palette.warning)
            elif trust is Trust.VERIFIED:
                self.member_list.itemconfigure(index, foreground=self._palette.good)
            if trust is Trust.CHANGED and member.name not in self.changed:
                # The client tells IdentityChanged once per key; the list may say it first.
                self.changed[member.name] = ce.IdentityChanged(
                    name=member.name,
                    old_key=b"",
                    new_key=member.signing_key,
                    was_verified=False,
                )
                self._show_changed_banner(member.name)
            if selected is not None and member.name == selected.name:
                self.member_list.selection_set(index)
        self.member_title.set(f"Members ({len(members)})")
        self._update_verify_button()

    # -- trust ----------------------------------------------------------------------------

    def trust_of(self, name: str, key: bytes, reported: Trust) -> Trust:
        """How far ``name``'s ``key`` is trusted now: what the person recorded in this window
        for that key, else what the client ``reported``."""
        decided = self._decided.get(name)
        if decided is not None and decided[0] == key:
            return decided[1]
        return reported

    def member_named(self, name: str) -> ce.Member | None:
        return next((m for m in self.members if m.name == name), None)

    def selected_member(self) -> ce.Member | None:
        """The member selected in the list, or None."""
        chosen = self.member_list.curselection() if self._rows else ()
        if not chosen or chosen[0] >= len(self._rows):
            return None
        return self._rows[chosen[0]]

    def _update_verify_button(self) -> None:
        """After every change of the selection: the Verify… button, and the role column's
        row highlighted with the name's."""
        member = self.selected_member()
        usable = member is not None and (member.name != self.username or self.identity)
        self.verify_button.state(["!disabled"] if usable else ["disabled"])
        self.role_list.selection_clear(0, "end")
        for index in self.member_list.curselection():
            self.role_list.selection_set(index)

    def _names_scrolled(self, first: float | str, _last: float | str) -> None:
        self.role_list.yview_moveto(float(first))  # the roles stay beside their names

    def _on_role_click(self, event: tk.Event) -> str:
        # A click on a role selects that member, as a click on the name would.
        index = self.member_list.nearest(event.y)
        if 0 <= index < len(self._rows):
            self.member_list.selection_clear(0, "end")
            self.member_list.selection_set(index)
            self.member_list.activate(index)
            self._update_verify_button()
        return "break"

    def _on_role_double_click(self, _event: tk.Event) -> str:
        self.verify_selected()
        return "break"

    def _on_role_wheel(self, event: tk.Event) -> str:
        step = -1 if event.num == 4 or getattr(event, "delta", 0) > 0 else 1
        self.member_list.yview_scroll(step, "units")
        return "break"

    def _show_member_ring(self, focused: bool) -> None:
        self._member_focused = focused
        colour = self._palette.accent if focused else self._palette.background
        self.member_box.configure(highlightbackground=colour)

    # -- owners and admins ----------------------------------------------------------------

    def my_key(self) -> bytes | None:
        """This device's signing key: the identity's, else our own entry's in the list."""
        if self.identity is not None:
            return self.identity.signing_public
        own = self.member_named(self.username)
        return own.signing_key if own is not None else None

    def actions_for(self, member: ce.Member) -> list[MemberAction]:
        """What the menu offers for ``member`` beyond Verify…: by the room's rules for our
        role and theirs, and only while there is a room to ask (connected or reconnecting)."""
        me = self.my_key()
        if self._actions is None or me is None or self.closed_for_good:
            return []
        return member_actions(me, member, self.roles)

    def make_admin(self, name: str) -> None:
        """Make admin (the owner): ask the room; the outcome arrives as RoleChange."""
        self._act(MemberAction.MAKE_ADMIN, name)

    def unmake_admin(self, name: str) -> None:
        """Remove admin rights (the owner)."""
        self._act(MemberAction.UNMAKE_ADMIN, name)

    def ask_remove(self, name: str) -> ConfirmDialog | None:
        """Remove from room…: say what removal does, and remove only after Remove is pressed
        (Cancel is the default button)."""
        member = self.member_named(name)
        if member is None or MemberAction.REMOVE not in self.actions_for(member):
            return None
        question = removal_question(name, member.role)
        self._close_dialog()
        self.dialog = ConfirmDialog(
            self,
            title=question.title,
            heading=question.heading,
            text=question.text,
            confirm=question.confirm,
            on_done=lambda yes: self._act(MemberAction.REMOVE, name) if yes else None,
        )
        return self.dialog

    def ask_change_password(self, name: str | None = None) -> ConfirmDialog | None:
        """Change room password… (on your own row), or with ``name`` Remove and change
        password…: say what happens, and do it only after the button is pressed."""
        if self._actions is None or self.closed_for_good:
            return None
        question = password_question(name)
        self._close_dialog()
        self.dialog = ConfirmDialog(
            self,
            title=question.title,
            heading=question.heading,
            text=question.text,
            confirm=question.confirm,
            on_done=lambda yes: self._change_password(name) if yes else None,
        )
        return self.dialog

    def ask_release_name(self) -> ConfirmDialog | None:
        """Release a name… (on your own row): which name, then release it."""
        if self._actions is None or self.closed_for_good:
            return None
        question = release_question()
        present = [m.name for m in self.members]
        self._close_dialog()
        dialog = ConfirmDialog(
            self,
            title=question.title,
            heading=question.heading,
            text=question.text,
            confirm=question.confirm,
            entry="Name",
            check=lambda name: release_problem(name, present),
            # Called once the dialog is closed, long after ``dialog`` is bound.
            on_done=lambda yes: self._release(dialog.value.get()) if yes else None,
        )
        self.dialog = dialog
        return dialog

    def _release(self, name: str) -> None:
        if self._actions is None:
            return
        try:
            self._actions.release_name(name)
        except ValueError as error:
            self.messages.add_notice(refusal_notice(str(error)), "warning")
            self.messages.flush()

    def _change_password(self, remove: str | None) -> None:
        if self._actions is None:
            return
        try:
            self._actions.change_password(remove=remove)
        except ValueError as error:
            self.messages.add_notice(refusal_notice(str(error)), "warning")
            self.messages.flush()

    def _on_password_changed(self, event: ce.PasswordChanged) -> None:
        if event.own and event.password is not None:
            self.new_password = event.password
            self._close_dialog()
            password = event.password
            self.dialog = ConfirmDialog(
                self,
                title="Room password changed",
                heading="The room password changed",
                text=new_password_text(password),
                confirm="Copy password",
                cancel="Close",
                on_done=lambda yes: self._copy(password) if yes else None,
            )
            self.messages.add_notice("You changed the room password.", "good")
            return
        notice = password_changed_notice(
            event.by, self.username, switched=event.password is not None
        )
        self.messages.add_notice(notice, "notice" if event.password else "warning")

    def _copy(self, text: str) -> None:
        self.clipboard_clear()
        self.clipboard_append(text)

    def _act(self, action: MemberAction, name: str) -> None:
        if self._actions is None:
            return
        calls = {
            MemberAction.MAKE_ADMIN: self._actions.make_admin,
            MemberAction.UNMAKE_ADMIN: self._actions.unmake_admin,
            MemberAction.REMOVE: self._actions.remove_member,
        }
        try:
            calls[action](name)
        except ValueError as error:
            self.messages.add_notice(refusal_notice(str(error)), "warning")
            self.messages.flush()

    def verify_selected(self) -> None:
        """The Verify… button (or a double-click): the Verify dialog for the selected member;
        for your own row, your safety code."""
        member = self.selected_member()
        if member is None:
            return
        if member.name == self.username:
            self.show_safety_code()
        else:
            self.open_verify(member.name)

    def _on_member_right_click(self, event: tk.Event) -> str:
        index = self.member_list.nearest(event.y)
        if 0 <= index < len(self._rows):
            self.member_list.selection_clear(0, "end")
            self.member_list.selection_set(index)
            self._update_verify_button()
            self.open_member_menu(event.x_root, event.y_root)
        return "break"

    def _on_member_focus(self, _event: tk.Event) -> None:
        # Tabbing in selects someone, so Enter has a member to verify and Up/Down move on.
        if self._rows and not self.member_list.curselection():
            index = min(1, len(self._rows) - 1)  # the first other member, else yourself
            self.member_list.selection_set(index)
            self.member_list.activate(index)
            self._update_verify_button()

    def _on_member_menu_key(self, _event: tk.Event) -> str:
        chosen = self.member_list.curselection()
        if chosen:
            box = self.member_list.bbox(chosen[0]) or (0, 0, 0, 0)
            self.open_member_menu(
                self.member_list.winfo_rootx() + box[0] + 10,
                self.member_list.winfo_rooty() + box[1] + box[3],
            )
        return "break"

    def build_member_menu(self) -> tk.Menu | None:
        """The right-click menu of the selected member: Verify… (or your safety code)."""
        member = self.selected_member()
        if member is None:
            return None
        p = self._palette
        menu = tk.Menu(
            self,
            tearoff=False,
            background=p.surface,
            foreground=p.text,
            activebackground=p.selection,
            activeforeground=p.text,
            disabledforeground=p.muted,
        )
        if member.name == self.username:
            menu.add_command(label="Your safety code…", command=self.show_safety_code)
            own = self.actions_for(member)
            if own:
                menu.add_separator()
            if MemberAction.CHANGE_PASSWORD in own:
                menu.add_command(
                    label=ACTION_LABELS[MemberAction.CHANGE_PASSWORD],
                    command=self.ask_change_password,
                )
            if MemberAction.RELEASE_NAME in own:
                menu.add_command(
                    label=ACTION_LABELS[MemberAction.RELEASE_NAME], command=self.ask_release_name
                )
            return menu
        name = member.name
        menu.add_command(
            label=f"Verify {display_name(name)}…", command=lambda: self.open_verify(name)
        )
        actions = self.actions_for(member)
        if actions:
            menu.add_separator()
        commands = {
            MemberAction.MAKE_ADMIN: lambda: self.make_admin(name),
            MemberAction.UNMAKE_ADMIN: lambda: self.unmake_admin(name),
            MemberAction.REMOVE: lambda: self.ask_remove(name),
            MemberAction.REMOVE_AND_CHANGE_PASSWORD: lambda: self.ask_change_password(name),
            MemberAction.CHANGE_PASSWORD: lambda: self.ask_change_password(),
        }
        for action in actions:
            menu.add_command(label=ACTION_LABELS[action], command=commands[action])
        return menu

    def open_member_menu(self, x: int, y: int) -> None:
        if self.member_menu is not None:
            self.member_menu.destroy()
        self.member_menu = self.build_member_menu()
        if self.member_menu is None:
            return
        try:
            self.member_menu.tk_popup(x, y)
        finally:
            self.member_menu.grab_release()

    def show_safety_code(self) -> SafetyCodeDialog | None:
        """Your safety code… : this device's code in a small dialog, with Copy."""
        if self.identity is None:
            return None
        self._close_dialog()
        self.dialog = SafetyCodeDialog(self, self.identity)
        return self.dialog

    def open_verify(self, name: str) -> VerifyDialog | None:
        """The Verify dialog for ``name``: the pair code, how to compare it, Mark as verified;
        for a changed key, the warning and Accept the new key."""
        if self.identity is None or name == self.username:
            return None
        member = self.member_named(name)
        change = self.changed.get(name)
        if member is not None:
            key, keys = member.signing_key, public_identity(member.signing_key, member.dh_key)
            trust = self.trust_of(name, key, member.trust)
        elif change is not None:  # seen in history only: nothing to compare, still acceptable
            key, keys, trust = change.new_key, None, Trust.CHANGED
        else:
            return None
        view = verify_view(
            self.identity,
            name,
            keys,
            trust,
            was_verified=change.was_verified if change is not None else False,
        )
        self._close_dialog()
        self.dialog = VerifyDialog(
            self,
            view,
            on_verify=lambda: self.mark_verified(name, key),
            on_accept=lambda: self.accept_key(name, key),
        )
        return self.dialog

    def mark_verified(self, name: str, key: bytes) -> None:
        """The person compared ``name``'s code and it matched: record it, show ✓."""
        if self._trust is not None:
            self._trust.mark_verified(name, key)
        self._decided[name] = (key, Trust.VERIFIED)
        self.messages.add_notice(f"You verified {display_name(name)}.", "good")
        self._resolve_change(name, key)

    def accept_key(self, name: str, key: bytes) -> None:
        """The person accepts ``name``'s new key: their messages are no longer marked."""
        if self._trust is not None:
            self._trust.accept_key(name, key)
        self._decided[name] = (key, Trust.KNOWN)
        self.messages.add_notice(
            f"You accepted {display_name(name)}'s new key. Compare safety codes (Verify…) to be "
            "sure it is them.",
        )
        self._resolve_change(name, key)

    def _resolve_change(self, name: str, key: bytes) -> None:
        change = self.changed.get(name)
        if change is not None and change.new_key == key:
            del self.changed[name]
            banner = self._banners.pop(name, None)
            if banner is not None:
                banner.destroy()
            self._update_banner()
        self.set_members(self.members)
        self.messages.flush()

    def _show_changed_banner(self, name: str) -> None:
        if name in self._banners:
            return
        row = _BannerRow(self.banner, self._palette, changed_banner_text(name))
        ttk.Button(row, text="Verify…", command=lambda: self.open_verify(name)).grid(
            row=0, column=1, sticky="e", padx=(8, 0)
        )
        row.grid(row=len(self._banners) + 1, column=0, sticky="ew")
        self._banners[name] = row
        self._update_banner()

    def _update_banner(self) -> None:
        if self._banners:
            self.banner.grid()
        else:
            self.banner.grid_remove()

    @property
    def banner_texts(self) -> list[str]:
        """What the banners show, top to bottom (for tests): the connection's, while it is
        shown, then one row per key change."""
        texts = [self.connection.text.get()] if self.connection.shown else []
        return texts + [str(row.label.cget("text")) for row in self._banners.values()]

    def _close_dialog(self) -> None:
        if self.dialog is not None and self.dialog.winfo_exists():
            self.dialog.close()
        self.dialog = None

    def _set_connected(self, connected: bool) -> None:
        self.connected = connected
        if connected:
            self.connection.hide()
            self.status.set(f"Connected as {display_name(self.username)}")
            self.encryption.set(ENCRYPTED)
            self.encryption_label.configure(foreground=self._palette.good)
        else:
            self.encryption.set("○ Not connected")
            self.encryption_label.configure(foreground=self._palette.muted)
            self.status.set("Not connected")

    # -- unread count and sound ---------------------------------------------------------

    def _window_has_focus(self) -> bool:
        try:
            return self.focus_displayof() is not None
        except (KeyError, tk.TclError):
            return False  # focus on a widget Tk cannot name (a menu being torn down)

    def _notify(self, sender: str, text: str) -> None:
        if self._is_focused():
            return
        self.unread += 1
        self.update_title()
        if self._on_unread is not None:
            self._on_unread()
        mentioned = mentions(text, self.username)
        if self.muted.get() and not mentioned:
            return
        if self.sound.get():
            self.bell()
        title, body = notification_text(sender, text)
        if mentioned:
            title = f"{title} mentioned you"
        self.notified.append((title, body))
        del self.notified[:-50]
        if self._notify_desktop is not None:
            self._notify_desktop(title, body)

    def _on_focus_in(self, _event: tk.Event) -> None:
        self.mark_read()

    def mark_read(self) -> None:
        """The person is looking at this room now: nothing is unread."""
        if self.unread:
            self.unread = 0
            self.update_title()
            if self._on_unread is not None:
                self._on_unread()

    def update_title(self) -> None:
        """Window title: the room, with the unread count in front while unfocused (only
        while this room is the one shown)."""
        if self._shown is not None and not self._shown():
            return
        title = f"SocketChat — {display_name(self.username)} in {self.room}"
        if self.unread:
            title = f"({self.unread}) {title}"
        self.winfo_toplevel().title(title)

    # -- sending ------------------------------------------------------------------------

    def send_entry(self) -> bool:
        """Send what is in the entry; returns whether it was accepted."""
        text = self.entry.get("1.0", "end-1c").strip()
        if self.closed_for_good:
            return False
        problem = message_size_problem(text, self.max_message_bytes)
        if problem is not None:
            if text:
                self._show_limit(problem, error=True)
            return False
        try:
            message = self._send(text)
        except ValueError as error:
            self._show_limit(str(error), error=True)
            return False
        self.pending[message.message_id] = text
        self.last_sent = text
        self._show_own(message, SENDING if self.connected else WAITING)
        self.messages.follow_next()
        self.messages.flush()
        self.entry.delete("1.0", "end")
        self._update_limit()
        return True

    def _show_own(self, message: PendingMessage, note: str) -> None:
        # The id and timestamp the client gave it: the same the other members will see.
        self.messages.add_message(
            self.username,
            message.text,
            message.timestamp_ms,
            own=True,
            message_id=message.message_id,
            pending=note,
            sender_key=self.identity.signing_public if self.identity is not None else b"",
        )

    def _on_return(self, _event: tk.Event) -> str:
        self.send_entry()
        return "break"

    # -- keys in the compose box ------------------------------------------------------------

    def _focus_next(self, _event: tk.Event) -> str:
        target = self.entry.tk_focusNext()
        if target is not None:
            target.focus_set()
        return "break"

    def _focus_prev(self, _event: tk.Event) -> str:
        target = self.entry.tk_focusPrev()
        if target is not None:
            target.focus_set()
        return "break"

    def _insert_tab(self, _event: tk.Event) -> str:
        self.entry.insert("insert", "\t")
        return "break"

    def _scroll(self, action: Callable[..., None], *args: int) -> str:
        action(*args)
        return "break"

    def _on_up(self, _event: tk.Event) -> str | None:
        """Up in an empty compose box: bring back the last message sent, to edit and send as
        a new one. Elsewhere Up moves the cursor as usual."""
        if self.entry.get("1.0", "end-1c") or not self.last_sent:
            return None
        self.entry.insert("1.0", self.last_sent)
        self.entry.mark_set("insert", "end-1c")
        return "break"

    def _show_link_target(self, url: str | None) -> None:
        """Hovering a link: the status line shows its full target; leaving it, what it said."""
        if url is None:
            if self._status_before_link is not None:
                self.status.set(self._status_before_link)
                self._status_before_link = None
            return
        if self._status_before_link is None:
            self._status_before_link = self.status.get()
        self.status.set(f"Link: {url}")

    # -- look ---------------------------------------------------------------------------

    def apply_palette(self, palette: Palette) -> None:
        """Recolour the plain Tk widgets and coloured labels for a theme switch."""
        self._palette = palette
        self.messages.apply_palette(palette)
        self.entry.configure(
            highlightcolor=palette.accent,
            highlightbackground=palette.border,
            background=palette.surface,
            foreground=palette.text,
            insertbackground=palette.text,
            selectbackground=palette.selection,
            selectforeground=palette.text,
        )
        self.member_box.configure(
            highlightcolor=palette.accent,
            highlightbackground=palette.background,
            background=palette.background,
        )
        self._show_member_ring(self._member_focused)
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
        self.set_members(self.members)
        self.banner.configure(background=palette.warning_surface)
        self.connection.apply_palette(palette)
        for row in self._banners.values():
            row.recolour(palette)
        self.hint_label.configure(foreground=palette.muted)
        self.status_label.configure(foreground=palette.muted)
        self._show_limit(self.limit_text.get(), error=False)
        self.encryption_label.configure(
            foreground=palette.good if self.connected else palette.muted
        )
        self.setting_label.configure(foreground=palette.muted)

    def _on_shift_return(self, _event: tk.Event) -> str:
        self.entry.insert("insert", "\n")
        self.entry.see("insert")
        return "break"

    def _on_modified(self, _event: tk.Event) -> None:
        self.entry.edit_modified(False)
        self._update_limit()

    def _update_limit(self) -> None:
        size = len(self.entry.get("1.0", "end-1c").encode("utf-8"))
        remaining = self.max_message_bytes - size
        if remaining < 0:
            self._show_limit(
                f"Too long by {-remaining:,} bytes (limit {self.max_message_bytes:,})", error=True
            )
        elif remaining <= _WARN_REMAINING:
            self._show_limit(f"{remaining:,} bytes left", error=False)
        else:
            self._show_limit("", error=False)

    def _show_limit(self, text: str, *, error: bool) -> None:
        self.limit_text.set(text)
        colour = self._palette.warning if error else self._palette.muted
        self.limit_label.configure(foreground=colour)

    def destroy(self) -> None:
        self._close_dialog()
        super().destroy()
