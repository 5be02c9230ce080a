"""A private conversation's window: a chat window about two people, you and one member.

A private conversation (``gui/app_private.py`` opens it: "Message privately" in a member's
menu, or a private message that arrives) is a chat window like a room's — the message list,
the reply bar and the compose box — that shows only the messages between you and that member,
and sends with ``ChatClient.send_private``. :class:`PrivateView` is what makes a window one:
its header says "bob (private)" and that it is end to end between you and bob, with a line for
bob's state (verified ✓, not verified yet, safety code changed ⚠, not in the room) and
**Verify bob…**; the member list and the room's Mute switch are not shown (a private message
always notifies, muted room or not: ``gui/alerts.py``). Its member list holds only you and bob
(the app passes only those), so arrivals, departures and key changes of others do not show.

The plain functions say the words; :class:`PrivateView` works on its chat window
(``gui/chat.py``), on the Tk thread.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gui.safetext import display_name
from net.client import Member, Trust

if TYPE_CHECKING:
    from gui.chat import ChatWindow


@dataclass(frozen=True, slots=True)
class PrivatePeer:
    """The other person of a private conversation: their identity key (what the conversation
    is with) and the name this device knows them by."""

    signing_key: bytes
    name: str


class PeerState(enum.Enum):
    """How the other person stands, as the header's second line says it."""

    VERIFIED = "verified"
    NOT_VERIFIED = "not verified"
    CHANGED = "changed"
    AWAY = "away"


def private_title(name: str) -> str:
    """How a private conversation is called (its header, the room list's row)."""
    return f"{display_name(name)} (private)"


def private_encryption(name: str) -> str:
    """The header's first line in a private conversation."""
    return (
        f"● Private, end to end between you and {display_name(name)}: nobody else in the room, "
        "and not the relay, can read it"
    )


def peer_state(present: bool, trust: Trust) -> PeerState:
    if not present:
        return PeerState.AWAY
    if trust is Trust.VERIFIED:
        return PeerState.VERIFIED
    if trust is Trust.CHANGED:
        return PeerState.CHANGED
    return PeerState.NOT_VERIFIED


def peer_line(name: str, state: PeerState) -> str:
    """The header's second line: how the other person stands."""
    shown = display_name(name)
    if state is PeerState.VERIFIED:
        return f"✓ You verified {shown}'s safety code."
    if state is PeerState.CHANGED:
        return f"⚠ {shown}'s safety code changed: this may be someone else (Verify {shown}…)."
    if state is PeerState.AWAY:
        return f"{shown} is not in the room now."
    return f"{shown}'s safety code is not verified yet: compare it (Verify {shown}…)."


def not_in_room(name: str) -> str:
    """Why a private message could not be sent: the other person is not in the room."""
    return (
        f"{display_name(name)} is not in the room, so this private message cannot be sent now; "
        "it stays in the box."
    )


def private_notification_title(sender: str) -> str:
    """A private message's desktop notification title."""
    return f"{display_name(sender)} (private)"


class PrivateView:
    """Made by the chat window when it is a private conversation with ``peer``."""

    def __init__(self, chat: ChatWindow, peer: PrivatePeer) -> None:
        self._chat = chat
        self.peer = peer
        header = chat.header
        header.encrypted_text = private_encryption(peer.name)
        header.set_title(private_title(peer.name))
        header.show_connected(chat.connected, chat.palette)
        self.verify_button = header.add_button(f"Verify {display_name(peer.name)}…", self.verify)
        chat.member_panel.grid_remove()
        chat.mute_button.grid_remove()
        self.state = PeerState.AWAY
        self.refresh()

    def member(self) -> Member | None:
        """The other person in the room's member list (None: not in the room now)."""
        chat = self._chat
        return next((m for m in chat.members if m.signing_key == self.peer.signing_key), None)

    def refresh(self) -> None:
        """The peer's line, after any change of the members or of what is trusted."""
        chat = self._chat
        member = self.member()
        trust = Trust.KNOWN
        if member is not None:
            trust = chat.trust_decisions.trust_of(member.name, member.signing_key, member.trust)
        self.state = peer_state(member is not None, trust)
        p = chat.palette
        colour = {
            PeerState.VERIFIED: p.good,
            PeerState.CHANGED: p.warning,
        }.get(self.state, p.muted)
        chat.header.show_peer(peer_line(self.peer.name, self.state), colour)
        self.verify_button.state(["!disabled"] if member is not None else ["disabled"])

    def verify(self) -> None:
        """Verify bob…: the Verify dialog for the other person (while they are in the room)."""
        member = self.member()
        if member is not None:
            self._chat.open_verify(member.name)
