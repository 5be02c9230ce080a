"""Owners, admins and removal as the chat window shows them: plain functions, no Tk.

The identity that made a room is its owner; the owner appoints admins; the owner removes
anyone but itself, an admin removes members who are neither admins nor the owner
(``net.client.may_act``, which the relay and every member apply too). The client reports the
roles in every member list (``Member.role``) and each action as ``RoleChange``; this module
decides what the window offers for a member (:func:`member_actions`), what the member list
and the conversation say (:func:`role_label`, :func:`role_change_notice`) and what the removal
confirmation says (:func:`removal_question`). Tests call them without a display.

Names come from other people: they go through ``safetext.display_name`` here, and a role is
never part of the name's text (the member list shows it in a column of its own).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from gui.safetext import body_pieces, display_name
from net.client import (
    ActionKind,
    Member,
    Role,
    RoleChange,
    may_act,
    username_key,
    validate_username,
)

MAX_REASON_CHARS = 300  # of a refusal's words, in the conversation


class RoomActions(Protocol):
    """What the chat window asks of the room for the owner and admins. Each call returns at
    once; ``ValueError`` carries words for the person when it is not possible (shown as a
    notice); else the outcome arrives as ``RoleChange`` (or ``ActionNotTaken``).
    :class:`net.client.ChatClient` has all three; the app passes one that follows its current
    client, tests a recorder."""

    def make_admin(self, name: str) -> None: ...

    def unmake_admin(self, name: str) -> None: ...

    def remove_member(self, name: str) -> None: ...

    def change_password(self, *, remove: str | None = None) -> str: ...

    def release_name(self, name: str) -> None: ...


class MemberAction(enum.Enum):
    """What the member list's menu may offer for a member (besides Verify…)."""

    MAKE_ADMIN = "make admin"
    UNMAKE_ADMIN = "unmake admin"
    REMOVE = "remove"
    REMOVE_AND_CHANGE_PASSWORD = "remove and change password"  # noqa: S105 - a label
    CHANGE_PASSWORD = "change password"  # noqa: S105 - a label (on one's own row)
    RELEASE_NAME = "release a name"  # on one's own row: a name held by someone who left


#: The menu's words for each action (the selected member is the one acted on).
ACTION_LABELS = {
    MemberAction.MAKE_ADMIN: "Make admin",
    MemberAction.UNMAKE_ADMIN: "Remove admin rights",
    MemberAction.REMOVE: "Remove from room…",
    MemberAction.REMOVE_AND_CHANGE_PASSWORD: "Remove and change password…",
    MemberAction.CHANGE_PASSWORD: "Change room password…",
    MemberAction.RELEASE_NAME: "Release a name…",
}

_ROLE_LABELS = {Role.OWNER: "owner", Role.ADMIN: "admin"}


def role_label(role: Role) -> str:
    """What the member list shows beside a name: "owner", "admin", or nothing."""
    return _ROLE_LABELS.get(role, "")


@dataclass(frozen=True, slots=True)
class RoomRoles:
    """The room's owner and admins (signing keys) as the window last heard them. ``owner``
    None: a room without an owner (nobody acts in it), or none reported yet."""

    owner: bytes | None = None
    admins: frozenset[bytes] = frozenset()

    @classmethod
    def from_members(cls, members: Iterable[Member], *, owner: bytes | None = None) -> RoomRoles:
        """The roles a member list gives. ``owner`` is the owner's key heard before: a room's
        owner never changes, and it stays the owner while it is away from the list."""
        admins = set()
        for member in members:
            if member.role is Role.OWNER:
                owner = member.signing_key
            elif member.role is Role.ADMIN:
                admins.add(member.signing_key)
        return cls(owner=owner, admins=frozenset(admins))

    def role_of(self, key: bytes) -> Role:
        if self.owner is not None and key == self.owner:
            return Role.OWNER
        return Role.ADMIN if key in self.admins else Role.MEMBER


def member_actions(me: bytes, target: Member, roles: RoomRoles) -> list[MemberAction]:
    """What the member with key ``me`` may do to ``target`` under the room's rules, in menu
    order: Make admin or Remove admin rights (the owner only), then Remove from room…
    Nothing for oneself, nothing in a room without an owner."""
    owner = roles.owner
    if owner is None:
        return []
    if target.signing_key == me:
        allowed = may_act(
            me, ActionKind.CHANGE_PASSWORD, bytes(32), owner=owner, admins=roles.admins
        )
        return [MemberAction.CHANGE_PASSWORD, MemberAction.RELEASE_NAME] if allowed else []
    key = target.signing_key

    def may(kind: ActionKind) -> bool:
        return may_act(me, kind, key, owner=owner, admins=roles.admins)

    actions = []
    if key in roles.admins:
        if may(ActionKind.UNMAKE_ADMIN):
            actions.append(MemberAction.UNMAKE_ADMIN)
    elif may(ActionKind.MAKE_ADMIN):
        actions.append(MemberAction.MAKE_ADMIN)
    if may(ActionKind.REMOVE):
        actions += [MemberAction.REMOVE, MemberAction.REMOVE_AND_CHANGE_PASSWORD]
    return actions


def role_change_notice(event: RoleChange, me: str) -> str | None:
    """The conversation's line for an action ("alice made bob an admin."), with "You"/"you"
    for ``me``; None for the roles reported after joining (``kind`` None)."""
    actor = "You" if event.actor == me else display_name(event.actor)
    target = "you" if event.target == me else display_name(event.target)
    whose = "your" if event.target == me else f"{display_name(event.target)}'s"
    match event.kind:
        case None:
            return None
        case ActionKind.MAKE_ADMIN:
            return f"{actor} made {target} an admin."
        case ActionKind.UNMAKE_ADMIN:
            return f"{actor} took back {whose} admin rights."
        case ActionKind.REMOVE:
            return f"{actor} removed {target} from the room."
        case ActionKind.RELEASE_NAME:
            return (
                f"{actor} released the name “{display_name(event.detail)}”: "
                "someone else can now join with it."
            )
        case ActionKind.CHANGE_PASSWORD:
            return f"{actor} changed the room password."


def refusal_notice(reason: str) -> str:
    """The conversation's line for ``ActionNotTaken``: the client's words (which may quote the
    relay) on one line, escaped characters as markers, cut to a sensible length."""
    text = " ".join("".join(piece for piece, _ in body_pieces(reason)).split())
    if len(text) > MAX_REASON_CHARS:
        text = text[: MAX_REASON_CHARS - 1].rstrip() + "…"
    return f"⚠ {text}"


@dataclass(frozen=True, slots=True)
class Question:
    """A confirmation's words: the window title, the heading, the text and the button that
    says yes (Cancel is the default)."""

    title: str
    heading: str
    text: str
    confirm: str


def password_question(name: str | None = None) -> Question:
    """What "Change room password…" (or, with ``name``, "Remove and change password…") asks."""
    if name is None:
        heading, confirm, removed = "Change the room password?", "Change password", ""
    else:
        shown = display_name(name)
        heading = f"Remove {shown} and change the room password?"
        confirm = f"Remove {shown} and change"
        removed = (
            f"{shown} is disconnected and this room refuses their device from now on; "
            f"{shown} does not get the new password, so the old one no longer lets anyone in. "
        )
    return Question(
        title="Change the room password",
        heading=heading,
        text=(
            f"{removed}A new passphrase is made and sent, end to end, to every member here: "
            "their apps switch to it by themselves and everyone reconnects for a moment. "
            "Members who are not here now need the new passphrase from you."
        ),
        confirm=confirm,
    )


def release_question() -> Question:
    """What "Release a name…" asks: which name, and what releasing it does."""
    return Question(
        title="Release a name",
        heading="Release a name?",
        text=(
            "A name belongs to the device that first joined with it, even while it is away. "
            "Releasing it lets another device join under it; if its old holder comes back, it "
            "must choose another name."
        ),
        confirm="Release",
    )


def release_problem(name: str, present: Iterable[str]) -> str | None:
    """What is wrong with releasing ``name`` (None: nothing): it must be a valid name, and
    not that of a member here now."""
    try:
        checked = validate_username(name)
    except ValueError as error:
        return str(error)
    if any(username_key(checked) == username_key(other) for other in present):
        shown = display_name(checked)
        return f"{shown} is in the room now: only the name of someone away can be released."
    return None


def new_password_text(password: str) -> str:
    """What the one who changed the password is shown, to pass it on."""
    return (
        f"The room's new password is:\n\n{password}\n\nThe members who were here switched to "
        "it by themselves. Send it to those who were not, by a way you trust."
    )


def password_changed_notice(by: str, me: str, *, switched: bool) -> str:
    """The conversation's line when someone else changed the password."""
    who = "You" if by == me else display_name(by)
    if switched:
        return f"{who} changed the room password; this app switched to the new one."
    return (
        f"⚠ {who} changed the room password, and this device was not given the new one: ask "
        "the room's owner for it."
    )


def removal_question(name: str, role: Role = Role.MEMBER) -> Question:
    """What "Remove from room…" asks before removing ``name`` (whose role is ``role``): what
    removal does, and what it does not."""
    shown = display_name(name)
    admin = f" {shown} also stops being an admin." if role is Role.ADMIN else ""
    return Question(
        title="Remove from the room",
        heading=f"Remove {shown} from the room?",
        text=(
            f"{shown} is disconnected, and this room refuses their device from now on.{admin} "
            f"Messages sent after this use new keys that {shown} does not get; what {shown} "
            "has already received stays readable to them. Anyone who knows the room password "
            "can still join as a new member, from another device."
        ),
        confirm=f"Remove {shown}",
    )
