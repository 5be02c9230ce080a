"""Owners, admins and removal in the chat window: first what gui/roles.py decides and says
(plain functions, no display), then the window fed with real event objects — the role column,
the notices, the member menu by role, the removal confirmation, refusals and being removed.

What the person asks for goes to a recorder standing in for the client (``ChatClient``'s
``make_admin`` / ``unmake_admin`` / ``remove_member``).
"""

from __future__ import annotations

import dataclasses
import itertools
import time

import pytest

from gui.chat import ChatWindow
from gui.connection import REJOIN
from gui.dialogs import ConfirmDialog
from gui.errors import failure_text, may_reconnect
from gui.roles import (
    ACTION_LABELS,
    MemberAction,
    RoomRoles,
    member_actions,
    refusal_notice,
    release_problem,
    removal_question,
    role_change_notice,
    role_label,
)
from gui.theme import DARK, LIGHT, apply_theme
from net.client import ActionKind, Member, PendingMessage, Role, Trust
from net.client import events as ce
from net.client.events import ErrorKind
from tests.gui.conftest import identity_of, member, pump_until, text_of

NOW_MS = int(time.time() * 1000)
_ids = (i.to_bytes(16, "big") for i in itertools.count(20_000))


def person(name: str, role: Role = Role.MEMBER, trust: Trust = Trust.KNOWN) -> Member:
    return dataclasses.replace(member(name, trust), role=role)


def key(name: str) -> bytes:
    return identity_of(name).signing_public


# alice owns the room, bob is an admin, carol and dave are members.
ROOM = (
    person("alice", Role.OWNER),
    person("bob", Role.ADMIN),
    person("carol"),
    person("dave"),
)
ROLES = RoomRoles(owner=key("alice"), admins=frozenset({key("bob")}))


def by_name(name: str) -> Member:
    return next(m for m in ROOM if m.name == name)


def change(
    kind: ActionKind | None, actor: str = "", target: str = "", detail: str = "", members=ROOM
) -> ce.RoleChange:
    return ce.RoleChange(kind=kind, actor=actor, target=target, detail=detail, members=members)


# -- what the rules allow (no display) --------------------------------------------------------


def test_roles_come_from_the_member_list_and_the_owner_is_remembered():
    assert RoomRoles.from_members(ROOM) == ROLES
    without_owner = ROOM[1:]
    assert RoomRoles.from_members(without_owner).owner is None
    assert RoomRoles.from_members(without_owner, owner=key("alice")) == ROLES
    assert ROLES.role_of(key("alice")) is Role.OWNER
    assert ROLES.role_of(key("dave")) is Role.MEMBER


def test_the_owner_appoints_and_removes_anyone_but_itself():
    me = key("alice")
    assert member_actions(me, by_name("carol"), ROLES) == [
        MemberAction.MAKE_ADMIN,
        MemberAction.REMOVE,
        MemberAction.REMOVE_AND_CHANGE_PASSWORD,
    ]
    assert member_actions(me, by_name("bob"), ROLES) == [
        MemberAction.UNMAKE_ADMIN,
        MemberAction.REMOVE,
        MemberAction.REMOVE_AND_CHANGE_PASSWORD,
    ]
    # On its own row: the room's password.
    assert member_actions(me, by_name("alice"), ROLES) == [
        MemberAction.CHANGE_PASSWORD,
        MemberAction.RELEASE_NAME,
    ]


def test_an_admin_removes_members_only():
    me = key("bob")
    assert member_actions(me, by_name("carol"), ROLES) == [
        MemberAction.REMOVE,
        MemberAction.REMOVE_AND_CHANGE_PASSWORD,
    ]
    assert member_actions(me, by_name("alice"), ROLES) == []
    assert member_actions(me, by_name("bob"), ROLES) == [
        MemberAction.CHANGE_PASSWORD,
        MemberAction.RELEASE_NAME,
    ]
    other_admin = RoomRoles(owner=key("alice"), admins=frozenset({key("bob"), key("carol")}))
    assert member_actions(me, by_name("carol"), other_admin) == []


def test_a_member_and_a_room_without_an_owner_offer_nothing():
    assert member_actions(key("carol"), by_name("dave"), ROLES) == []
    assert member_actions(key("alice"), by_name("dave"), RoomRoles()) == []


def test_role_labels():
    assert role_label(Role.OWNER) == "owner"
    assert role_label(Role.ADMIN) == "admin"
    assert role_label(Role.MEMBER) == ""


# -- what the window says (no display) ---------------------------------------------------------


def test_each_action_is_one_sentence_with_you_for_yourself():
    assert role_change_notice(change(None), "carol") is None
    assert (
        role_change_notice(change(ActionKind.MAKE_ADMIN, "alice", "bob"), "carol")
        == "alice made bob an admin."
    )
    assert (
        role_change_notice(change(ActionKind.MAKE_ADMIN, "alice", "carol"), "carol")
        == "alice made you an admin."
    )
    assert (
        role_change_notice(change(ActionKind.UNMAKE_ADMIN, "alice", "bob"), "alice")
        == "You took back bob's admin rights."
    )
    assert (
        role_change_notice(change(ActionKind.REMOVE, "alice", "carol"), "dave")
        == "alice removed carol from the room."
    )
    assert role_change_notice(change(ActionKind.RELEASE_NAME, "bob", detail="dave"), "carol") == (
        "bob released the name “dave”: someone else can now join with it."
    )


def test_names_in_notices_are_made_safe():
    notice = role_change_notice(change(ActionKind.REMOVE, "ev\u202eil", "car\nol"), "dave")
    assert notice == "ev⟨U+202E⟩il removed car⟨U+000A⟩ol from the room."
    released = role_change_notice(change(ActionKind.RELEASE_NAME, "bob", detail="x\u200by"), "")
    assert released is not None and "“x⟨U+200B⟩y”" in released


def test_a_refusal_is_one_warning_line():
    assert refusal_notice("That did not happen: already removed.") == (
        "⚠ That did not happen: already removed."
    )
    odd = refusal_notice("That did not happen:\n\n\u202eevil" + "x" * 1000)
    assert "\n" not in odd and "⟨U+202E⟩" in odd and len(odd) <= 302 and odd.endswith("…")


def test_the_removal_question_says_what_removal_does_and_nothing_more():
    question = removal_question("carol")
    assert question.heading == "Remove carol from the room?"
    assert question.confirm == "Remove carol"
    assert question.text == (
        "carol is disconnected, and this room refuses their device from now on. Messages sent "
        "after this use new keys that carol does not get; what carol has already received "
        "stays readable to them. Anyone who knows the room password can still join as a new "
        "member, from another device."
    )
    assert "password" not in question.confirm  # changing it is not offered: not available yet
    assert "change the room password" not in question.text
    assert "also stops being an admin" in removal_question("bob", Role.ADMIN).text
    assert removal_question("b\u200bob").heading == "Remove b⟨U+200B⟩ob from the room?"


def test_being_removed_is_final():
    text = failure_text(ErrorKind.REMOVED, "client words")
    assert text.startswith("You were removed from this room by its owner or an admin.")
    assert not may_reconnect(ErrorKind.REMOVED)
    assert may_reconnect(ErrorKind.REPLACED) and may_reconnect(ErrorKind.NETWORK)


# -- the window ----------------------------------------------------------------------------------


class Recorded:
    """Stands in for the client's room actions; ``refuse`` makes the next call raise."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.refuse = ""

    def _call(self, what: str, name: str) -> None:
        if self.refuse:
            refusal, self.refuse = self.refuse, ""
            raise ValueError(refusal)
        self.calls.append((what, name))

    def make_admin(self, name: str) -> None:
        self._call("make admin", name)

    def unmake_admin(self, name: str) -> None:
        self._call("unmake admin", name)

    def remove_member(self, name: str) -> None:
        self._call("remove", name)

    def change_password(self, *, remove: str | None = None) -> str:
        self._call("change password", remove or "")
        return "the-new-passphrase"

    def release_name(self, name: str) -> None:
        self._call("release name", name)


def window_for(root, username: str, *, members=ROOM, actions: Recorded | None = None):
    apply_theme(root)
    recorded = actions or Recorded()
    chat = ChatWindow(
        root,
        room="example.org:7777",
        username=username,
        members=tuple(dataclasses.replace(m, role=Role.MEMBER) for m in members),
        send=lambda text: PendingMessage(text=text, message_id=next(_ids), timestamp_ms=NOW_MS),
        is_focused=lambda: True,
        identity=identity_of(username).public,
        on_reconnect=lambda: None,
        actions=recorded,
    )
    chat.grid(row=0, column=0, sticky="nsew")
    root.columnconfigure(0, weight=1)
    root.rowconfigure(0, weight=1)
    # As the client does: the list first, then the roles.
    feed(chat, change(None, members=members))
    return chat


def asked(chat: ChatWindow) -> Recorded:
    """The recorder the window hands its requests to."""
    assert isinstance(chat.commands.actions, Recorded)
    return chat.commands.actions


def commands(menu) -> list[tuple[int, str]]:
    """The menu's commands (separators left out): (index, label)."""
    last = menu.index("end")
    return [
        (i, str(menu.entrycget(i, "label")))
        for i in range(0 if last is None else last + 1)
        if menu.type(i) == "command"
    ]


def feed(chat: ChatWindow, *events) -> None:
    for event in events:
        chat.handle(event)
    chat.flush()
    chat.update()


def select(chat: ChatWindow, name: str) -> None:
    index = [m.name for m in chat.rows].index(name)
    chat.member_list.selection_clear(0, "end")
    chat.member_list.selection_set(index)
    chat.member_list.event_generate("<<ListboxSelect>>")
    chat.update()


def menu_labels(chat: ChatWindow, name: str) -> list[str]:
    select(chat, name)
    menu = chat.build_member_menu()
    assert menu is not None
    labels = [label for _index, label in commands(menu)]
    menu.destroy()
    return labels


def invoke(chat: ChatWindow, name: str, label: str) -> None:
    select(chat, name)
    menu = chat.build_member_menu()
    assert menu is not None
    found = [index for index, shown in commands(menu) if shown == label]
    assert found, f"no {label!r} for {name}"
    menu.invoke(found[0])
    menu.destroy()
    chat.update()


MAKE, UNMAKE, REMOVE, REMOVE_AND_CHANGE, CHANGE, RELEASE = (ACTION_LABELS[a] for a in MemberAction)


def test_the_member_list_shows_roles_in_a_column_of_their_own(root):
    chat = window_for(root, "carol")
    # Names keep their text (a name cannot pass for a role), roles are beside them.
    assert chat.member_list.get(0, "end") == ("carol (you)", "alice", "bob", "dave")
    assert chat.role_list.get(0, "end") == ("", "owner", "admin", "")
    assert chat.role_list.winfo_ismapped()
    assert chat.role_list.cget("foreground") == LIGHT.muted
    assert chat.role_list.cget("background") == chat.member_list.cget("background")
    # The rows line up, and selecting a name highlights its role too.
    for index in range(4):
        assert chat.role_list.bbox(index)[1] == chat.member_list.bbox(index)[1]
    select(chat, "alice")
    assert chat.role_list.curselection() == (1,)
    # Clicking a role selects that member.
    x, y, _w, height = chat.role_list.bbox(2)
    chat.role_list.event_generate("<Button-1>", x=x + 1, y=y + height // 2)
    chat.update()
    assert chat.selected_member() is not None and chat.selected_member().name == "bob"
    assert chat.role_list.curselection() == (2,)
    chat.apply_palette(DARK)
    assert chat.role_list.cget("foreground") == DARK.muted
    assert chat.role_list.cget("background") == DARK.background


def test_no_role_column_in_a_room_without_an_owner(root):
    plain = tuple(dataclasses.replace(m, role=Role.MEMBER) for m in ROOM)
    chat = window_for(root, "alice", members=plain)
    assert not chat.role_list.winfo_ismapped()
    assert menu_labels(chat, "carol") == ["Verify carol…"]


def test_the_owner_sees_make_admin_and_remove(root):
    chat = window_for(root, "alice")
    assert menu_labels(chat, "carol") == ["Verify carol…", MAKE, REMOVE, REMOVE_AND_CHANGE]
    assert menu_labels(chat, "bob") == ["Verify bob…", UNMAKE, REMOVE, REMOVE_AND_CHANGE]
    assert menu_labels(chat, "alice") == ["Your safety code…", CHANGE, RELEASE]
    invoke(chat, "carol", MAKE)
    invoke(chat, "bob", UNMAKE)
    assert asked(chat).calls == [("make admin", "carol"), ("unmake admin", "bob")]


def test_an_admin_sees_remove_for_members_only(root):
    chat = window_for(root, "bob")
    assert menu_labels(chat, "carol") == ["Verify carol…", REMOVE, REMOVE_AND_CHANGE]
    assert menu_labels(chat, "alice") == ["Verify alice…"]
    two_admins = (*ROOM[:2], person("carol", Role.ADMIN), ROOM[3])
    feed(chat, change(ActionKind.MAKE_ADMIN, "alice", "carol", members=two_admins))
    assert menu_labels(chat, "carol") == ["Verify carol…"]
    assert menu_labels(chat, "dave") == ["Verify dave…", REMOVE, REMOVE_AND_CHANGE]


def test_a_member_sees_neither(root):
    chat = window_for(root, "carol")
    for name in ("alice", "bob", "dave"):
        assert menu_labels(chat, name) == [f"Verify {name}…"]
    # Made an admin: Remove appears for members.
    promoted = (*ROOM[:2], person("carol", Role.ADMIN), ROOM[3])
    feed(chat, change(ActionKind.MAKE_ADMIN, "alice", "carol", members=promoted))
    assert menu_labels(chat, "dave") == ["Verify dave…", REMOVE, REMOVE_AND_CHANGE]
    assert "alice made you an admin." in text_of(chat.messages.text)


def test_the_owner_keeps_its_rights_while_away_from_the_list(root):
    chat = window_for(root, "bob")
    without_alice = ROOM[1:]
    feed(chat, ce.MemberLeft(name="alice", members=without_alice, reason="left the room"))
    assert menu_labels(chat, "carol") == ["Verify carol…", REMOVE, REMOVE_AND_CHANGE]


def test_removal_asks_first_and_cancel_is_the_default(root):
    chat = window_for(root, "alice")
    invoke(chat, "carol", REMOVE)
    dialog = chat.dialog
    assert isinstance(dialog, ConfirmDialog)
    assert dialog.heading_text == "Remove carol from the room?"
    assert dialog.body_text == removal_question("carol").text
    assert str(dialog.confirm_button.cget("text")) == "Remove carol"
    pump_until(root, lambda: root.focus_get() is dialog.cancel_button, what="the focus")
    dialog.event_generate("<Return>")  # Enter presses Cancel, the default
    chat.update()
    assert asked(chat).calls == []
    dialog = chat.ask_remove("carol")
    assert dialog is not None
    dialog.confirm_button.invoke()
    chat.update()
    assert asked(chat).calls == [("remove", "carol")]
    assert chat.ask_remove("alice") is None  # not offered for yourself


def test_a_removal_is_one_line_in_the_conversation(root):
    chat = window_for(root, "dave")
    feed(
        chat,
        change(ActionKind.REMOVE, "alice", "carol"),
        ce.MemberLeft(
            name="carol",
            members=tuple(m for m in ROOM if m.name != "carol"),
            reason="was removed from the room",
        ),
    )
    shown = text_of(chat.messages.text)
    assert "alice removed carol from the room." in shown
    assert "carol left the room." not in shown
    assert chat.member_list.get(0, "end") == ("dave (you)", "alice", "bob")
    # A later departure of someone else is told as usual.
    feed(chat, ce.MemberLeft(name="bob", members=(ROOM[0], ROOM[3]), reason="left the room"))
    assert "bob left the room." in text_of(chat.messages.text)


def test_role_changes_update_the_list_and_say_so(root):
    chat = window_for(root, "dave")
    demoted = (ROOM[0], person("bob"), *ROOM[2:])
    feed(
        chat,
        change(ActionKind.UNMAKE_ADMIN, "alice", "bob", members=demoted),
        change(ActionKind.RELEASE_NAME, "bob", detail="erin", members=demoted),
    )
    assert chat.role_list.get(0, "end") == ("", "owner", "", "")
    shown = text_of(chat.messages.text)
    assert "alice took back bob's admin rights." in shown
    assert "bob released the name “erin”" in shown


def test_an_action_not_taken_is_a_warning(root):
    chat = window_for(root, "alice")
    feed(chat, ce.ActionNotTaken(reason="That did not happen: already removed."))
    assert "⚠ That did not happen: already removed." in text_of(chat.messages.text)
    ranges = chat.messages.text.tag_ranges("warning")
    assert ranges, "shown in the warning colour"


def test_an_action_the_client_refuses_is_a_notice(root):
    chat = window_for(root, "alice")
    asked(chat).refuse = "'carol' is not in the room now."
    invoke(chat, "carol", MAKE)
    assert "⚠ 'carol' is not in the room now." in text_of(chat.messages.text)
    assert asked(chat).calls == []


def test_being_removed_shows_the_failure_without_reconnect(root):
    chat = window_for(root, "carol")
    feed(
        chat,
        change(ActionKind.REMOVE, "alice", "carol"),
        ce.Failed(kind=ErrorKind.REMOVED, message="You were removed from this room."),
    )
    shown = text_of(chat.messages.text)
    assert "alice removed you from the room." in shown
    assert "Disconnected: You were removed from this room by its owner or an admin." in shown
    assert chat.banner_texts[0].startswith("Disconnected: You were removed from this room")
    assert REJOIN not in chat.connection.buttons
    assert "cannot join the room again" in chat.status.get()
    assert chat.send_button.instate(["disabled"])
    assert menu_labels(chat, "dave") == ["Verify dave…"]  # nothing left to ask the room


@pytest.mark.parametrize("sequence", ["<Shift-F10>", "<Menu>"])
def test_the_role_actions_are_reachable_from_the_keyboard(root, sequence):
    chat = window_for(root, "alice")
    chat.member_list.focus_force()
    pump_until(root, lambda: root.focus_get() is chat.member_list, what="the focus")
    root.update()
    assert chat.member_box.cget("highlightbackground") == LIGHT.accent  # the focus ring
    assert chat.selected_member() is not None and chat.selected_member().name == "bob"
    chat.member_list.event_generate("<Down>")
    root.update()
    chat.member_list.event_generate(sequence)
    root.update()
    menu = chat.member_menu
    assert menu is not None
    assert [label for _i, label in commands(menu)] == [
        "Verify carol…",
        MAKE,
        REMOVE,
        REMOVE_AND_CHANGE,
    ]
    menu.unpost()


# -- changing the password ----------------------------------------------------------------------


def test_remove_and_change_password_asks_first_then_asks_the_room(root):
    recorded = Recorded()
    chat = window_for(root, "alice", actions=recorded)
    invoke(chat, "carol", REMOVE_AND_CHANGE)
    dialog = chat.dialog
    assert dialog is not None and "does not get the new password" in dialog.body_text
    assert recorded.calls == []  # nothing before the button
    dialog.confirm_button.invoke()
    chat.update()
    assert recorded.calls == [("change password", "carol")]
    invoke(chat, "alice", CHANGE)
    chat.dialog.confirm_button.invoke()
    chat.update()
    assert recorded.calls[-1] == ("change password", "")


def test_the_new_password_is_shown_to_whoever_changed_it_and_the_others_are_told(root):
    chat = window_for(root, "alice")
    chat.handle(ce.PasswordChanged(by="alice", password="cactus-ripple", own=True))
    chat.update()
    assert chat.dialog is not None and "cactus-ripple" in chat.dialog.body_text
    chat.dialog.confirm_button.invoke()  # Copy password
    chat.update()
    assert root.clipboard_get() == "cactus-ripple"
    other = window_for(root, "bob")
    other.handle(ce.PasswordChanged(by="alice", password="cactus-ripple", own=False))
    other.handle(ce.PasswordChanged(by="m\u202eallory", password=None, own=False))
    other.messages.flush()
    content = other.messages.text.get("1.0", "end")
    assert "alice changed the room password; this app switched to the new one." in content
    assert "was not given the new one" in content
    assert "cactus-ripple" not in content  # never written into the conversation
    assert "\u202e" not in content


def test_release_a_name_asks_which_and_refuses_a_present_or_invalid_one(root):
    recorded = Recorded()
    chat = window_for(root, "alice", actions=recorded)
    assert menu_labels(chat, "alice") == ["Your safety code…", CHANGE, RELEASE]
    dialog = chat.ask_release_name()
    assert dialog is not None
    dialog.value.set("bob")  # here now
    dialog.confirm_button.invoke()
    assert "is in the room now" in str(dialog.problem.cget("text"))
    dialog.value.set("a\u202eb")  # not a valid name
    dialog.confirm_button.invoke()
    assert recorded.calls == [] and dialog.winfo_exists()
    dialog.value.set("frank")
    dialog.confirm_button.invoke()
    chat.update()
    assert recorded.calls == [("release name", "frank")]


def test_release_problem_is_a_plain_function():
    assert release_problem("frank", ["alice", "Bob"]) is None
    assert release_problem("BOB", ["alice", "Bob"]) is not None
    assert release_problem("", []) is not None
