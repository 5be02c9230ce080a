"""The chat window of one room: header, banners, conversation, member list, compose box, status.

The app builds a :class:`ChatWindow` for a room (when it joins, or when a remembered room is
first shown) and feeds it every client event through :meth:`ChatWindow.handle` (on the Tk
thread, from the pump), followed by :meth:`ChatWindow.flush` once per batch. ``handle`` is the
window's table of which part shows what; each part says how:

- ``gui/chat_header.py``: the room's name, the encryption line, the room's history setting,
  Your safety code…, Invite friends…, View;
- ``gui/chat_connection.py``: joined, lost and back (one line per loss, the connection
  banner with Retry now), stopped for good (Rejoin, Back to rooms, Trust the new relay);
- ``gui/messages.py`` (the conversation), with ``gui/unsent.py`` (Not sent, Retry, Copy);
- ``gui/own_messages.py`` and ``gui/compose.py``: writing and sending (``send``, the client's
  thread-safe ``send``, returns at once), and our messages until the relay stores them;
- ``gui/chat_members.py``, ``gui/member_panel.py``: who is in the room, the member list, the
  lines about arrivals, departures and roles ("owner" and "admin" in a column of their own,
  never inside a name another person wrote);
- ``gui/member_commands.py``: the member list's menu and the owner's and admins' actions;
- ``gui/trust_decisions.py``: key changes (a banner row each until accepted) and Verify;
- ``gui/alerts.py``: the unread count in the title, the sound and the desktop notification
  (``notify(title, body)``) for a message while you are not looking;
- ``gui/chat_text.py``: the window's words.

The window keeps the room's state as it sees it (members, roles, what is pending, connected
or stopped for good, the one dialog open), which its parts read and change, and the keys that
reach beyond one part: Ctrl+R presses the connection banner's first button, Ctrl+K jumps to
another room, Ctrl+F searches what this device kept.
"""

from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Callable, Iterable
from tkinter import ttk

from typing_extensions import assert_never

from crypto.identity import PublicIdentity
from gui.alerts import Alerts, Notify
from gui.attachments import Attachments, FileActions
from gui.chat_connection import ConnectionEvents
from gui.chat_header import ChatHeader
from gui.chat_members import MemberEvents
from gui.chat_private import PrivatePeer, PrivateView
from gui.chat_replies import Replies, SendReply, answered
from gui.chat_text import SLOW_DOWN, archive_failed_notice, forged_notice, unproven_notice
from gui.compose import ComposeBox
from gui.connection import ConnectionBanner
from gui.dialogs import ConfirmDialog
from gui.file_sending import FileSending
from gui.member_commands import MemberCommands
from gui.member_panel import MemberPanel
from gui.messages import MessageList
from gui.own_messages import OwnMessages
from gui.reply_bar import ReplyBar
from gui.roles import RoomActions, RoomRoles, refusal_notice
from gui.theme import PALETTE, Palette
from gui.trust_decisions import KeyChangeBanners, TrustDecisions
from gui.unsent import UnsentMessages
from gui.verify import SafetyCodeDialog, TrustActions, VerifyDialog
from net import client as ce
from net.client import MAX_MESSAGE_BYTES, PendingMessage, StoredMessage, Trust


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
        files: FileActions | None = None,
        send_reply: SendReply | None = None,
        on_message_privately: Callable[[ce.Member], object] | None = None,
        private: PrivatePeer | None = None,
    ) -> None:
        super().__init__(master)
        self._on_jump = on_jump
        self._on_search = on_search
        #: A private conversation's other person (None: the room's own conversation).
        self.private = private
        self.private_view: PrivateView | None = None
        #: "Message privately" in a member's menu (None: not offered).
        self.on_message_privately = on_message_privately
        self.replies = Replies(self, send_reply)
        self.roles = RoomRoles()  # the owner and admins, from the latest member list
        self.identity = identity  # this device's: your safety code, and half of every pair code
        self._archive_told = False
        self.rows: list[ce.Member] = []  # the member list's rows, in order
        # The one open (tests look): a safety code, Verify, or a confirmation.
        self.dialog: SafetyCodeDialog | VerifyDialog | ConfirmDialog | None = None
        #: The room password this device set last (the app updates its invite with it).
        self.new_password: str | None = None
        self.member_menu: tk.Menu | None = None  # the member's menu last opened
        self.failure: ce.Failed | None = None
        self.room = room
        self.room_title = room_title or f"Room {room}"
        self.username = username
        self.members: tuple[ce.Member, ...] = ()
        self.max_message_bytes = max_message_bytes
        self.palette = palette
        self.sound = sound if sound is not None else tk.BooleanVar(self, False)
        self.muted = muted if muted is not None else tk.BooleanVar(self, False)
        self._open_url = open_url
        self._status_before_link: str | None = None
        self.connected = True
        self.closed_for_good = False
        self.pending: dict[bytes, str] = {}  # message id -> text, until the relay stores it
        self.status = tk.StringVar(self, "")
        # In a window of several rooms, the app says whether this one is the one shown (the
        # title is its own then) and marks it read; alone, the window does both itself.
        self.alerts = Alerts(
            self, notify=notify, is_focused=is_focused, shown=shown, on_unread=on_unread
        )
        self.own = OwnMessages(self, send)
        self.commands = MemberCommands(self, actions)
        self.member_events = MemberEvents(self)
        self.connection_events = ConnectionEvents(
            self,
            on_reconnect=on_reconnect,
            on_trust_relay=on_trust_relay,
            on_retry_now=on_retry_now,
            on_back=on_back,
        )
        self._build(on_invite, view_menu, clock)
        # Files and pictures: their cards in the conversation, and the ways to send one.
        self.attachments = Attachments(self, files)
        self.file_sending = FileSending(self, self.attachments, private_to=self._private_to)
        self.trust_decisions = TrustDecisions(self, self.banner, trust)
        self.member_events.set_members(members)
        self.connection_events.set_connected(joined)
        if private is not None:
            self.private_view = PrivateView(self, private)
        if not joined:  # opened before its client joined (a remembered room)
            self.connection.connecting()
            self.status.set("Connecting…")
        if shown is None:
            self.winfo_toplevel().bind("<FocusIn>", self._on_focus_in, add="+")
        self.update_title()

    def _build(
        self,
        on_invite: Callable[[], None] | None,
        view_menu: Callable[[tk.Misc], tk.Menu] | None,
        clock: Callable[[], float],
    ) -> None:
        self.columnconfigure(0, weight=1)
        self.rowconfigure(4, weight=1)
        self.header = ChatHeader(
            self,
            title=self.room_title,
            palette=self.palette,
            on_safety_code=self.show_safety_code if self.identity is not None else None,
            on_invite=on_invite,
            view_menu=view_menu,
        )
        self.header.grid(row=0, column=0, sticky="ew")
        # How the connection stands (reconnecting, or stopped for good): one row, above all.
        self.connection = ConnectionBanner(
            self,
            palette=self.palette,
            on_retry_now=self.connection_events.retry_now
            if self.connection_events.on_retry_now is not None
            else None,
            clock=clock,
        )
        self.connection.grid(row=1, column=0, sticky="ew")
        self.connection.hide()
        self.banner = KeyChangeBanners(self, self.palette)  # a row per key change
        self.banner.grid(row=2, column=0, sticky="ew")
        self.banner.hide()
        ttk.Separator(self).grid(row=3, column=0, sticky="ew")

        body = ttk.Frame(self)
        body.grid(row=4, column=0, sticky="nsew")
        body.columnconfigure(0, weight=1)
        body.rowconfigure(0, weight=1)
        self.messages = MessageList(
            body, palette=self.palette, on_hover=self._show_link_target, open_url=self._open_url
        )
        self.messages.mention_name = self.username
        self.messages.grid(row=0, column=0, sticky="nsew")
        self.unsent = UnsentMessages(self.messages, retry=self.own.retry)
        self.member_panel = MemberPanel(
            body,
            palette=self.palette,
            on_select=self.member_events.selection_changed,
            on_verify=self.verify_selected,
            on_menu=self.commands.open_menu,
        )
        self.member_panel.grid(row=0, column=1, sticky="ns")

        ttk.Separator(self).grid(row=5, column=0, sticky="ew")
        # "Replying to bob: …" above the compose box while a reply is being written.
        self.reply_bar = ReplyBar(self, palette=self.palette)
        self.reply_bar.grid(row=6, column=0, sticky="ew")
        self.reply_bar.hide()
        self.messages.menus.sources.append(self.replies.menu_entries)
        self.messages.on_quote = self.replies.jump
        self.compose = ComposeBox(
            self,
            palette=self.palette,
            limit=lambda: self.max_message_bytes,
            on_send=self.send_entry,
            conversation=self.messages,
        )
        self.compose.grid(row=7, column=0, sticky="ew")
        # The parts' widgets and values, by the names the app and the tests use.
        self.entry, self.send_button = self.compose.entry, self.compose.send_button
        self.hint_label, self.limit_text = self.compose.hint_label, self.compose.limit_text
        panel = self.member_panel
        self.member_list, self.role_list = panel.member_list, panel.role_list
        self.member_box, self.member_title = panel.member_box, panel.member_title
        self.verify_button = panel.verify_button
        header = self.header
        self.title_label, self.setting_label = header.title_label, header.setting_label
        self.code_button = header.code_button
        self.encryption, self.room_setting = header.encryption, header.room_setting
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
        self.entry.bind("<Escape>", self.replies.on_escape)  # cancels the reply being written

        status = ttk.Frame(self, padding=(14, 2, 14, 8))
        status.grid(row=8, column=0, sticky="ew")
        status.columnconfigure(0, weight=1)
        self.status_label = ttk.Label(
            status, textvariable=self.status, foreground=self.palette.muted
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
                self.connection_events.joined(event)
            case ce.MessageReceived():
                self._on_message(event)
            case ce.MessageStored(message_id=message_id):
                self.own.stored(message_id)
            case ce.MessageNotSent():
                self.own.not_sent(event)
            case ce.OutboxRestored(messages=restored):
                self.own.outbox_restored(restored)
            case ce.NotSent():
                self.own.handed_back(event)
            case ce.ArchiveFailed(reason=reason):
                self._on_archive_failed(reason)
            case ce.ForgedMessage():
                self.messages.drop_locked(event.message_id)
                self.messages.add_notice(forged_notice(event.claimed_sender, event.why), "warning")
            case ce.MessageLocked(
                sender=sender, message_id=message_id, from_history=old, withheld=withheld
            ):
                self.messages.add_locked(sender, message_id, from_history=old, withheld=withheld)
            case ce.MessageHidden(message_id=message_id):
                self.messages.drop_locked(message_id)  # a private message between two others
            case ce.UnprovenMember(name=name):
                self.messages.add_notice(unproven_notice(name), "warning")
            case ce.RoleChange():
                self.member_events.role_change(event)
            case ce.ActionNotTaken(reason=reason):
                self.messages.add_notice(refusal_notice(reason), "warning")
            case ce.PasswordChanged():
                self.commands.password_changed(event)
            case ce.IdentityChanged():
                self.trust_decisions.identity_changed(event)
            case ce.MemberJoined():
                self.member_events.joined(event)
            case ce.MemberLeft():
                self.member_events.left(event)
            case ce.AloneInRoom():
                self.member_events.alone()
            case ce.RateLimited():
                self.messages.add_notice(SLOW_DOWN, "warning")
            case ce.Disconnected():
                self.connection_events.disconnected(event)
            case ce.Connecting():
                self.connection_events.connecting()
            case ce.Queued(position=position):
                self.connection_events.queued(position)
            case ce.Failed():
                self.connection_events.failed(event)
            case ce.TransferProgress() | ce.TransferFinished() | ce.TransferFailed():
                self.attachments.handle(event)
            case ce.DerivingKeys():
                pass  # only before the first join, which the login view shows
            case _:
                assert_never(event)

    def flush(self) -> None:
        """Once per pump batch: scroll and trim the message list."""
        self.messages.flush()

    def _on_message(self, event: ce.MessageReceived) -> None:
        if isinstance(event.content, ce.FileContent):
            self._on_file(event, event.content.offer)
            return
        if event.own and self.own.echoed(event.message_id):
            return
        trust = self.trust_decisions.trust_of(event.sender, event.sender_key, event.trust)
        shown = self.messages.add_message(
            event.sender,
            event.text,
            event.timestamp_ms,
            own=event.own,
            from_history=event.from_history,
            message_id=event.message_id,
            sender_key=event.sender_key,
            changed=trust is Trust.CHANGED and not event.own,
            reply=answered(event.content),
        )
        if shown and not event.own and not event.from_history:
            self.alerts.message(event.sender, event.text)

    def _on_file(self, event: ce.MessageReceived, offer: ce.FileOffer) -> None:
        """A file message: its card (``gui/attachments.py``) in place of a body."""
        trust = self.trust_decisions.trust_of(event.sender, event.sender_key, event.trust)
        changed = trust is Trust.CHANGED and not event.own
        shown = self.attachments.received(event, offer, changed=changed)
        if shown and not event.own and not event.from_history:
            self.alerts.message(event.sender, event.text)

    def _private_to(self) -> bytes | None:
        """Whom a file sent from this window goes to alone (a private conversation)."""
        return self.private.signing_key if self.private is not None else None

    def _on_archive_failed(self, reason: str) -> None:
        if not self._archive_told:
            self._archive_told = True
            self.messages.add_notice(archive_failed_notice(reason), "warning")

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
                reply=answered(message.content),
            )
        self.messages.flush()

    def set_room_title(self, title: str) -> None:
        """The room was renamed (its label in the room list): the header follows."""
        self.room_title = title
        self.header.set_title(title)

    # -- what the member list, its menu and the header offer: the window's public face, -------
    # -- each handed to the part that does it -------------------------------------------------

    def selected_member(self) -> ce.Member | None:
        """The member selected in the list, or None."""
        return self.member_events.selected_member()

    def verify_selected(self) -> None:
        self.trust_decisions.verify_selected()

    def show_safety_code(self) -> SafetyCodeDialog | None:
        return self.trust_decisions.show_safety_code()

    def open_verify(self, name: str) -> VerifyDialog | None:
        return self.trust_decisions.open_verify(name)

    def mark_verified(self, name: str, key: bytes) -> None:
        self.trust_decisions.mark_verified(name, key)

    def accept_key(self, name: str, key: bytes) -> None:
        self.trust_decisions.accept_key(name, key)

    def build_member_menu(self) -> tk.Menu | None:
        return self.commands.build_menu()

    def ask_remove(self, name: str) -> ConfirmDialog | None:
        return self.commands.ask_remove(name)

    def ask_change_password(self, name: str | None = None) -> ConfirmDialog | None:
        return self.commands.ask_change_password(name)

    def ask_release_name(self) -> ConfirmDialog | None:
        return self.commands.ask_release_name()

    def close_dialog(self) -> None:
        """Close the dialog this window has open, if any (before it opens another)."""
        if self.dialog is not None and self.dialog.winfo_exists():
            self.dialog.close()
        self.dialog = None

    @property
    def banner_texts(self) -> list[str]:
        """What the banners show, top to bottom (for tests): the connection's, while it is
        shown, then one row per key change."""
        texts = [self.connection.text.get()] if self.connection.shown else []
        return texts + self.banner.texts()

    # -- sending and the connection ------------------------------------------------------------

    def send_entry(self) -> bool:
        """Send what is in the compose box; returns whether it was accepted."""
        return self.own.send_entry()

    def retry_message(self, message_id: bytes) -> bool:
        """Retry on a message that was not sent (``gui/own_messages.py``)."""
        return self.own.retry(message_id)

    def reconnect(self) -> None:
        """Rejoin after a final failure (``gui/chat_connection.py``)."""
        self.connection_events.reconnect()

    # -- unread count and the title (``gui/alerts.py``) ---------------------------------------

    @property
    def unread(self) -> int:
        return self.alerts.unread

    @property
    def notified(self) -> list[tuple[str, str]]:
        return self.alerts.notified

    def mark_read(self) -> None:
        """The person is looking at this room now: nothing is unread."""
        self.alerts.mark_read()

    def update_title(self) -> None:
        self.alerts.update_title()

    def _on_focus_in(self, _event: tk.Event) -> None:
        self.mark_read()

    # -- keys and the pointer -------------------------------------------------------------------

    def _on_search_key(self, _event: tk.Event) -> str | None:
        if self._on_search is None:
            return None
        self._on_search()
        return "break"

    def _on_jump_key(self, _event: tk.Event) -> str | None:
        if self._on_jump is None:
            return None
        self._on_jump()
        return "break"

    def _on_banner_key(self, _event: tk.Event) -> str:
        self.connection.press_first()
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

    # -- look -----------------------------------------------------------------------------------

    def apply_palette(self, palette: Palette) -> None:
        """Recolour the plain Tk widgets and coloured labels for a theme switch."""
        self.palette = palette
        self.messages.apply_palette(palette)
        self.compose.apply_palette(palette)
        self.member_panel.apply_palette(palette)
        self.member_events.set_members(self.members)
        self.banner.apply_palette(palette)
        self.connection.apply_palette(palette)
        self.status_label.configure(foreground=palette.muted)
        self.header.apply_palette(palette, connected=self.connected)
        self.attachments.apply_palette()
        self.reply_bar.apply_palette(palette)
        if self.private_view is not None:
            self.private_view.refresh()

    def destroy(self) -> None:
        self.close_dialog()
        self.attachments.stop()
        self.file_sending.stop()
        self.replies.close()
        super().destroy()
