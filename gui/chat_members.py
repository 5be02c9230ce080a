"""Who is in the room, as a chat window shows it: the member list, and the lines about people.

:class:`MemberEvents` keeps the window's member list (``gui/member_panel.py`` draws it) in
step with the client's events, on the Tk thread: your own name first, then the others in
alphabetical order, the selection kept on the same name; the roles from the list (a room's
owner stays the owner while away). The conversation gets one line per arrival and departure
("bob joined the room."), a warning when a newcomer's name looks like another member's, the
line for each owner's or admin's action (a removal's departure is not said twice), and "You
are alone in the room…" once until someone comes. Members whose key changed are handed to
``gui/trust_decisions.py``, which puts up their banner.

The window (``gui/chat.py``) owns one; its ``members``, ``rows`` and ``roles`` are what this
sets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gui.chat_text import ALONE, lookalike_notice, lookalikes
from gui.member_panel import member_lines
from gui.roles import RoomRoles, role_change_notice
from gui.safetext import display_name
from net import client as ce
from net.client import ActionKind, Role, Trust

if TYPE_CHECKING:
    from gui.chat import ChatWindow


class MemberEvents:
    """Made once by the chat window."""

    def __init__(self, chat: ChatWindow) -> None:
        self._chat = chat
        self._owner: bytes | None = None  # the room's owner, once reported (it never changes)
        self._removed: set[str] = set()  # removals told, whose departure needs no second line
        self._alone_told = False  # "You are alone in the room" said, and nobody came since

    def set_members(self, members: tuple[ce.Member, ...]) -> None:
        """Replace the member list: own name first, then alphabetical (``member_lines`` says
        how each reads); the selection stays on the same name."""
        chat = self._chat
        chat.members = members
        selected = chat.selected_member()
        own = [m for m in members if m.name == chat.username]
        others = sorted(
            (m for m in members if m.name != chat.username), key=lambda m: m.name.casefold()
        )
        rows = chat.rows = own[:1] + others
        chat.roles = RoomRoles.from_members(members, owner=self._owner)
        self._owner = chat.roles.owner
        decisions = chat.trust_decisions

        def trust_of(member: ce.Member) -> Trust:
            return decisions.trust_of(member.name, member.signing_key, member.trust)

        for member in rows:
            if member.name != chat.username and trust_of(member) is Trust.CHANGED:
                decisions.listed_as_changed(member)
        chosen = (i for i, m in enumerate(rows) if selected and m.name == selected.name)
        chat.member_panel.fill(
            member_lines(rows, username=chat.username, trust_of=trust_of, palette=chat.palette),
            roles_shown=any(member.role is not Role.MEMBER for member in rows),
            selected=next(chosen, None),
        )
        chat.member_title.set(f"Members ({len(members)})")
        self.selection_changed()
        if chat.private_view is not None:
            chat.private_view.refresh()  # the other person came, left, or is trusted anew

    def member_named(self, name: str) -> ce.Member | None:
        return next((m for m in self._chat.members if m.name == name), None)

    def selected_member(self) -> ce.Member | None:
        """The member selected in the list, or None."""
        chat = self._chat
        index = chat.member_panel.selected_index() if chat.rows else None
        if index is None or index >= len(chat.rows):
            return None
        return chat.rows[index]

    def selection_changed(self) -> None:
        """Verify… is usable for a member selected (for yourself, with an identity)."""
        chat = self._chat
        member = self.selected_member()
        usable = member is not None and (member.name != chat.username or chat.identity)
        chat.member_panel.show_selection(verify=bool(usable))

    # -- the client's events ------------------------------------------------------------------

    def listed(self, members: tuple[ce.Member, ...]) -> None:
        """The member list of a join (``Joined``, the first or after a reconnect)."""
        if len(members) > 1:
            self._alone_told = False
        self.set_members(members)

    def joined(self, event: ce.MemberJoined) -> None:
        self._alone_told = False
        self.set_members(tuple(event.members))
        messages = self._chat.messages
        messages.add_notice(f"{display_name(event.name)} joined the room.")
        other = lookalikes(event.members).get(event.name)
        if other is not None:
            messages.add_notice(lookalike_notice(event.name, other), "warning")

    def left(self, event: ce.MemberLeft) -> None:
        self.set_members(tuple(event.members))
        if event.name in self._removed:  # "… removed carol from the room." says it already
            self._removed.discard(event.name)
            return
        self._chat.messages.add_notice(f"{display_name(event.name)} left the room.")

    def role_change(self, event: ce.RoleChange) -> None:
        self.set_members(tuple(event.members))
        notice = role_change_notice(event, self._chat.username)
        if notice is None:
            return
        if event.kind is ActionKind.REMOVE and self.member_named(event.target) is not None:
            self._removed.add(event.target)  # its departure follows
        self._chat.messages.add_notice(notice)

    def alone(self) -> None:
        if self._alone_told:
            return  # said already, and nobody came since (a reconnect says it again)
        self._alone_told = True
        self._chat.messages.add_notice(ALONE)
