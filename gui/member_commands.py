"""The member list's menu, and doing what it offers: Verify, and the owner's and admins' actions.

A right-click on a member (or Menu / Shift+F10 on the selected one) opens the menu
:meth:`MemberCommands.build_menu` makes: **Message privately** (a private conversation with
them, ``gui/app_private.py``), **Verify alice…**, then what the room's rules let you
do to that member (``gui/roles.py`` decides: Make admin / Remove admin rights for the owner,
Remove from room… and Remove and change password… for the owner and admins); on your own row,
**Your safety code…**, Change room password… and Release a name…. Each action that cannot be
undone asks first in a small dialog (Cancel is the default) and then goes to ``actions`` (the
room's client: ``make_admin``, ``remove_member``, ``change_password``, ``release_name``); the
room's answer comes back as an event (``RoleChange``, ``PasswordChanged``), and a
``ValueError`` from the request ("not in the room") is shown as a notice.

:class:`MemberCommands` works on its chat window (``gui/chat.py``), on the Tk thread; the window
keeps the one dialog open at a time and the menu last opened.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from typing import TYPE_CHECKING

from gui.dialogs import ConfirmDialog
from gui.roles import (
    ACTION_LABELS,
    MemberAction,
    Question,
    RoomActions,
    member_actions,
    new_password_text,
    password_changed_notice,
    password_question,
    refusal_notice,
    release_problem,
    release_question,
    removal_question,
)
from gui.safetext import display_name
from gui.theme import themed_menu
from net import client as ce

if TYPE_CHECKING:
    from gui.chat import ChatWindow

MESSAGE_PRIVATELY = "Message privately"


class MemberCommands:
    """Made once by the chat window; ``actions`` is where the requests go (None: a window
    that offers no actions)."""

    def __init__(self, chat: ChatWindow, actions: RoomActions | None) -> None:
        self._chat = chat
        self.actions = actions

    def my_key(self) -> bytes | None:
        """This device's signing key: the identity's, else our own entry's in the list."""
        chat = self._chat
        if chat.identity is not None:
            return chat.identity.signing_public
        own = chat.member_events.member_named(chat.username)
        return own.signing_key if own is not None else None

    def actions_for(self, member: ce.Member) -> list[MemberAction]:
        """What the menu offers for ``member`` beyond Verify…: by the room's rules for our
        role and theirs, and only while there is a room to ask (connected or reconnecting)."""
        me = self.my_key()
        if self.actions is None or me is None or self._chat.closed_for_good:
            return []
        return member_actions(me, member, self._chat.roles)

    # -- the menu ---------------------------------------------------------------------------

    def build_menu(self) -> tk.Menu | None:
        """The menu of the selected member: Verify… (or your safety code) and the actions."""
        chat = self._chat
        member = chat.selected_member()
        if member is None:
            return None
        menu = themed_menu(chat, chat.palette)
        if member.name == chat.username:
            menu.add_command(label="Your safety code…", command=chat.show_safety_code)
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
        if chat.on_message_privately is not None and not chat.closed_for_good:
            chosen = member
            menu.add_command(
                label=MESSAGE_PRIVATELY, command=lambda: self.message_privately(chosen)
            )
        menu.add_command(
            label=f"Verify {display_name(name)}…", command=lambda: chat.open_verify(name)
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

    def open_menu(self, x: int, y: int) -> None:
        """Post the selected member's menu at ``x``, ``y`` (screen coordinates)."""
        chat = self._chat
        if chat.member_menu is not None:
            chat.member_menu.destroy()
        chat.member_menu = self.build_menu()
        if chat.member_menu is None:
            return
        try:
            chat.member_menu.tk_popup(x, y)
        finally:
            chat.member_menu.grab_release()

    def message_privately(self, member: ce.Member) -> None:
        """Message privately: the app opens (or shows) the private conversation with
        ``member``, end to end between the two of you."""
        chat = self._chat
        if chat.on_message_privately is not None and not chat.closed_for_good:
            chat.on_message_privately(member)

    # -- the owner's and admins' actions ------------------------------------------------------

    def make_admin(self, name: str) -> None:
        """Make admin (the owner): ask the room; the outcome arrives as RoleChange."""
        self._act(MemberAction.MAKE_ADMIN, name)

    def unmake_admin(self, name: str) -> None:
        """Remove admin rights (the owner)."""
        self._act(MemberAction.UNMAKE_ADMIN, name)

    def ask_remove(self, name: str) -> ConfirmDialog | None:
        """Remove from room…: say what removal does, and remove only after Remove is pressed
        (Cancel is the default button)."""
        member = self._chat.member_events.member_named(name)
        if member is None or MemberAction.REMOVE not in self.actions_for(member):
            return None
        return self._ask(
            removal_question(name, member.role), lambda: self._act(MemberAction.REMOVE, name)
        )

    def ask_change_password(self, name: str | None = None) -> ConfirmDialog | None:
        """Change room password… (on your own row), or with ``name`` Remove and change
        password…: say what happens, and do it only after the button is pressed."""
        if self.actions is None or self._chat.closed_for_good:
            return None
        return self._ask(password_question(name), lambda: self._change_password(name))

    def ask_release_name(self) -> ConfirmDialog | None:
        """Release a name… (on your own row): which name, then release it."""
        chat = self._chat
        if self.actions is None or chat.closed_for_good:
            return None
        question = release_question()
        present = [m.name for m in chat.members]
        chat.close_dialog()
        dialog = ConfirmDialog(
            chat,
            title=question.title,
            heading=question.heading,
            text=question.text,
            confirm=question.confirm,
            entry="Name",
            check=lambda name: release_problem(name, present),
            # Called once the dialog is closed, long after ``dialog`` is bound.
            on_done=lambda yes: self._release(dialog.value.get()) if yes else None,
        )
        chat.dialog = dialog
        return dialog

    def password_changed(self, event: ce.PasswordChanged) -> None:
        """``PasswordChanged``: ours shows the new password (with Copy); another's is a line."""
        chat = self._chat
        if event.own and event.password is not None:
            chat.new_password = event.password
            chat.close_dialog()
            password = event.password
            chat.dialog = ConfirmDialog(
                chat,
                title="Room password changed",
                heading="The room password changed",
                text=new_password_text(password),
                confirm="Copy password",
                cancel="Close",
                on_done=lambda yes: self._copy(password) if yes else None,
            )
            chat.messages.add_notice("You changed the room password.", "good")
            return
        notice = password_changed_notice(
            event.by, chat.username, switched=event.password is not None
        )
        chat.messages.add_notice(notice, "notice" if event.password else "warning")

    def _ask(self, question: Question, on_yes: Callable[[], None]) -> ConfirmDialog:
        chat = self._chat
        chat.close_dialog()
        dialog = chat.dialog = ConfirmDialog(
            chat,
            title=question.title,
            heading=question.heading,
            text=question.text,
            confirm=question.confirm,
            on_done=lambda yes: on_yes() if yes else None,
        )
        return dialog

    def _release(self, name: str) -> None:
        actions = self.actions
        if actions is not None:
            self._request(lambda: actions.release_name(name))

    def _change_password(self, remove: str | None) -> None:
        actions = self.actions
        if actions is not None:
            self._request(lambda: actions.change_password(remove=remove))

    def _act(self, action: MemberAction, name: str) -> None:
        actions = self.actions
        if actions is None:
            return
        calls = {
            MemberAction.MAKE_ADMIN: actions.make_admin,
            MemberAction.UNMAKE_ADMIN: actions.unmake_admin,
            MemberAction.REMOVE: actions.remove_member,
        }
        self._request(lambda: calls[action](name))

    def _request(self, call: Callable[[], object]) -> None:
        """Ask the room; a refusal before anything is sent (``ValueError``: not in the room,
        the client's words) is a line in the conversation."""
        try:
            call()
        except ValueError as error:
            self._chat.messages.add_notice(refusal_notice(str(error)), "warning")
            self._chat.messages.flush()

    def _copy(self, text: str) -> None:
        self._chat.clipboard_clear()
        self._chat.clipboard_append(text)
