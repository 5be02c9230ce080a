"""The chat window's identities and trust on real Tk widgets, fed with real event objects:
badges, the Verify dialog from the member list, the key-change banner and marked messages,
colours from identity keys, forged messages, and Reconnect after a final failure.

What the person records goes to a recorder standing in for the client (``ChatClient``'s
``mark_verified`` / ``accept_key``); test_app_trust_e2e.py does the same with the real client.
"""

from __future__ import annotations

import itertools
import time

import pytest

from crypto.identity import Identity, pair_safety_code, safety_code
from gui.chat import ChatWindow
from gui.chat_text import changed_banner_text, lookalikes
from gui.connection import REJOIN
from gui.errors import TRUST_NEW_RELAY
from gui.messages import CHANGED_MARK, CHANGED_NOTE, key_colour
from gui.theme import DARK, LIGHT, apply_theme
from gui.verify import SafetyCodeDialog, VerifyDialog
from net.client import PendingMessage, Trust
from net.client import events as ce
from net.client.events import ErrorKind
from tests.gui.conftest import identity_of, joined, member, members_of, pump_until, text_of

NOW_MS = int(time.time() * 1000)
_ids = (i.to_bytes(16, "big") for i in itertools.count(10_000))


class Recorded:
    """Stands in for the client's trust calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bytes]] = []

    def mark_verified(self, name: str, key: bytes) -> None:
        self.calls.append(("verified", name, key))

    def accept_key(self, name: str, key: bytes) -> None:
        self.calls.append(("accepted", name, key))


def message(sender: str, text: str, *, trust: Trust = Trust.KNOWN, key: bytes | None = None):
    return ce.MessageReceived(
        sender=sender,
        text=text,
        message_id=next(_ids),
        timestamp_ms=NOW_MS,
        from_history=False,
        own=False,
        sender_key=key if key is not None else identity_of(sender).signing_public,
        trust=trust,
    )


def changed(name: str, *, was_verified: bool = False, new: Identity | None = None):
    return ce.IdentityChanged(
        name=name,
        old_key=identity_of(name).signing_public,
        new_key=(new or identity_of(f"new {name}")).signing_public,
        was_verified=was_verified,
    )


@pytest.fixture
def window(root):
    apply_theme(root)
    trust = Recorded()
    actions: list[str] = []
    chat = ChatWindow(
        root,
        room="example.org:7777",
        username="alice",
        members=(
            member("alice", Trust.VERIFIED),
            member("bob", Trust.VERIFIED),
            member("dave", Trust.KNOWN),
            member("erin", Trust.NEW),
        ),
        send=lambda text: PendingMessage(text=text, message_id=next(_ids), timestamp_ms=NOW_MS),
        is_focused=lambda: True,
        identity=identity_of("alice").public,
        trust=trust,
        on_reconnect=lambda: actions.append("reconnect"),
        on_trust_relay=lambda: actions.append("trust relay"),
    )
    chat.grid(row=0, column=0, sticky="nsew")
    root.columnconfigure(0, weight=1)
    root.rowconfigure(0, weight=1)
    root.update()
    chat.recorded, chat.actions = trust, actions
    return chat


def feed(chat: ChatWindow, *events) -> None:
    for event in events:
        chat.handle(event)
    chat.flush()
    chat.update()


def row_colour(chat: ChatWindow, index: int) -> str:
    return str(chat.member_list.itemcget(index, "foreground"))


def select(chat: ChatWindow, name: str) -> None:
    index = [m.name for m in chat.rows].index(name)
    chat.member_list.selection_clear(0, "end")
    chat.member_list.selection_set(index)
    chat.member_list.event_generate("<<ListboxSelect>>")
    chat.update()


# -- member list ---------------------------------------------------------------------------


def test_members_show_their_trust_as_a_badge(window):
    assert window.member_list.get(0, "end") == ("alice (you)", "✓ bob", "dave", "erin")
    assert row_colour(window, 1) == LIGHT.good
    assert row_colour(window, 2) == row_colour(window, 3) == ""  # the list's own text colour
    feed(
        window,
        ce.MemberJoined(
            member=member("carol", Trust.CHANGED),
            members=(*window.members, member("carol", Trust.CHANGED)),
        ),
    )
    assert window.member_list.get(0, "end") == ("alice (you)", "✓ bob", "⚠ carol", "dave", "erin")
    assert row_colour(window, 2) == LIGHT.warning


def test_verify_from_the_member_list_shows_the_pair_code_and_records_it(window):
    assert window.verify_button.instate(["disabled"]), "nothing selected yet"
    select(window, "dave")
    assert window.verify_button.instate(["!disabled"])
    window.verify_button.invoke()
    dialog = window.dialog
    assert isinstance(dialog, VerifyDialog)
    alice, dave = identity_of("alice").public, identity_of("dave").public
    assert dialog.view.code == pair_safety_code(dave, alice)
    assert dialog.verify_button is not None
    dialog.verify_button.invoke()
    assert window.recorded.calls == [("verified", "dave", dave.signing_public)]
    assert window.member_list.get(0, "end") == ("alice (you)", "✓ bob", "✓ dave", "erin")
    assert "You verified dave." in text_of(window.messages.text)

    # A later member list still carries the trust the client saw on arrival: what the person
    # recorded here wins.
    frank = member("frank")
    feed(
        window, ce.MemberJoined(member=frank, members=(*members_of("alice", "bob", "dave"), frank))
    )
    assert "✓ dave" in window.member_list.get(0, "end")


def test_right_click_and_double_click_open_verify_and_your_own_row_your_code(window):
    select(window, "erin")
    menu = window.build_member_menu()
    assert menu is not None and menu.entrycget(0, "label") == "Verify erin…"
    menu.invoke(0)
    assert isinstance(window.dialog, VerifyDialog) and window.dialog.view.name == "erin"
    window.dialog.close()

    select(window, "alice")
    menu = window.build_member_menu()
    assert menu is not None and menu.entrycget(0, "label") == "Your safety code…"
    listbox = window.member_list
    x, y, _width, height = listbox.bbox(0)
    for _ in range(2):  # a double click: two clicks at the same spot, at once
        listbox.event_generate("<ButtonPress-1>", x=x + 2, y=y + height // 2)
        listbox.event_generate("<ButtonRelease-1>", x=x + 2, y=y + height // 2)
    window.update()
    assert isinstance(window.dialog, SafetyCodeDialog)
    assert window.dialog.code == safety_code(identity_of("alice").public)


def test_your_safety_code_button_in_the_header(window):
    assert window.code_button is not None
    window.code_button.invoke()
    window.update()
    dialog = window.dialog
    assert isinstance(dialog, SafetyCodeDialog) and dialog.winfo_viewable()
    assert dialog.code == safety_code(identity_of("alice").public)


def test_a_verified_member_has_nothing_left_to_record(window):
    dialog = window.open_verify("bob")
    assert dialog is not None and dialog.verify_button is None and dialog.accept_button is None
    assert dialog.view.status == "✓ You verified bob."


# -- a key change ------------------------------------------------------------------------------


def test_a_key_change_puts_up_a_banner_until_the_new_key_is_accepted(window):
    new_bob = identity_of("new bob")
    bob_now = member("bob", Trust.CHANGED, identity=new_bob)
    others = (member("alice"), member("dave"), member("erin"))
    feed(
        window,
        ce.MemberLeft(name="bob", members=others, reason="left"),
        changed("bob", was_verified=True),
        ce.MemberJoined(member=bob_now, members=(*others, bob_now)),
    )
    assert window.banner.winfo_ismapped()
    assert window.banner_texts == [changed_banner_text("bob")]
    assert window.banner_texts[0] == "⚠ bob's safety code changed — this may be someone else."
    content = text_of(window.messages.text)
    assert (
        "bob's safety code changed: this may be someone else. You had verified the old one."
        in content
    )
    assert "⚠ bob" in window.member_list.get(0, "end")

    # bob's messages are marked until then: a warning sign and note in the header, a bar of
    # the warning colour beside the body, a header on every one of them.
    feed(
        window,
        message("bob", "it's me, new laptop", trust=Trust.CHANGED, key=new_bob.signing_public),
        message("bob", "really", trust=Trust.CHANGED, key=new_bob.signing_public),
    )
    text = window.messages.text
    content = text_of(text)
    assert content.count(f"{CHANGED_MARK}bob") == 2
    assert content.count(CHANGED_NOTE.strip()) == 2
    mark = text.search(CHANGED_MARK, "1.0")
    assert "changedmark" in text.tag_names(mark)
    assert text.tag_cget("changedmark", "foreground") == LIGHT.warning
    body = text.search("new laptop", "1.0")
    assert "changed" in text.tag_names(body)
    assert text.tag_cget("changed", "lmargincolor") == LIGHT.warning

    # The banner stays through presence changes, and until the key is accepted.
    feed(window, ce.MemberLeft(name="bob", members=others, reason="left"))
    feed(window, ce.MemberJoined(member=bob_now, members=(*others, bob_now)))
    assert window.banner_texts == [changed_banner_text("bob")]

    dialog = window.open_verify("bob")
    assert dialog is not None and dialog.accept_button is not None
    assert "You had verified the old code" in dialog.view.warning
    assert dialog.view.code == pair_safety_code(identity_of("alice").public, new_bob.public)
    dialog.accept_button.invoke()
    window.update()
    assert window.recorded.calls == [("accepted", "bob", new_bob.signing_public)]
    assert window.banner_texts == [] and not window.banner.winfo_ismapped()
    assert "bob" in window.member_list.get(0, "end"), "no badge: accepted, not verified"
    assert "You accepted bob's new key." in text_of(text)

    # From now on bob's messages are shown as usual, even though later events still carry
    # the trust the client saw on arrival.
    before = text_of(text).count(CHANGED_MARK)
    feed(window, message("bob", "thanks", trust=Trust.CHANGED, key=new_bob.signing_public))
    assert text_of(text).count(CHANGED_MARK) == before


def test_a_second_report_of_the_same_change_adds_nothing(window):
    feed(window, changed("bob"), changed("bob"))
    assert window.banner_texts == [changed_banner_text("bob")]
    assert text_of(window.messages.text).count("bob's safety code changed") == 1


def test_a_change_seen_in_history_only_can_be_accepted_without_a_code(window):
    ghost = identity_of("new ghost")
    feed(
        window,
        changed("ghost", new=ghost),
        message("ghost", "old words", trust=Trust.CHANGED, key=ghost.signing_public),
    )
    dialog = window.open_verify("ghost")
    assert dialog is not None and dialog.code_label is None
    assert "not in the room right now" in dialog.view.explanation
    dialog.accept()
    assert window.recorded.calls == [("accepted", "ghost", ghost.signing_public)]
    assert window.banner_texts == []


def test_the_member_list_alone_raises_the_banner(window):
    carol = member("carol", Trust.CHANGED)
    feed(window, ce.MemberJoined(member=carol, members=(*window.members, carol)))
    assert window.banner_texts == [changed_banner_text("carol")]


def test_a_forged_message_is_a_warning_never_a_message(window):
    feed(
        window,
        ce.ForgedMessage(
            claimed_sender="bob",
            message_id=next(_ids),
            why="signed by another key than the sender's",
        ),
    )
    text = window.messages.text
    content = text_of(text)
    assert (
        "A message claiming to come from bob was dropped: it failed verification (signed by "
        "another key than the sender's). Someone may be trying to impersonate them." in content
    )
    assert window.messages.message_count == 0
    assert "warning" in text.tag_names(text.search("claiming", "1.0"))


# -- colours come from identity keys -----------------------------------------------------------


def _two_identities_with_different_colours() -> tuple[Identity, Identity]:
    first = Identity.from_secret(bytes(64))
    for n in itertools.count(1):
        other = Identity.from_secret(bytes([n]) * 64)
        if key_colour(other.signing_public) != key_colour(first.signing_public):
            return first, other
    raise AssertionError("unreachable")


def test_a_look_alike_name_with_another_key_gets_another_colour_and_header(window):
    real, impostor = _two_identities_with_different_colours()
    feed(
        window,
        message("bob", "the real one", key=real.signing_public),
        message("b\u043eb", "the impostor (Cyrillic о)", key=impostor.signing_public),
        message("bob", "same name, another key", key=impostor.signing_public),
    )
    text = window.messages.text
    colours = {key_colour(real.signing_public), key_colour(impostor.signing_public)}
    assert len(colours) == 2
    for words, key in (
        ("the real one", real),
        ("the impostor", impostor),
        ("same name, another key", impostor),
    ):
        at = text.search(words, "1.0")
        assert f"tint{key_colour(key.signing_public)}" in text.tag_names(at)
    # The same name with another key starts a header of its own.
    assert text_of(text).count("bob  ") == 2


def test_colours_follow_the_key_in_the_dark_theme_too(window):
    key = identity_of("bob").signing_public
    feed(window, message("bob", "hi", key=key))
    window.apply_palette(DARK)
    tag = f"name{key_colour(key)}"
    assert window.messages.text.tag_cget(tag, "foreground") == key_colour(key, DARK)
    assert window.banner.cget("background") == DARK.warning_surface


# -- final failures --------------------------------------------------------------------------


def test_a_final_failure_shows_the_reason_and_reconnect(window):
    window.entry.insert("1.0", "pending one")
    assert window.send_entry()
    feed(window, ce.Failed(kind=ErrorKind.REPLACED, message=""))
    texts = window.banner_texts
    assert len(texts) == 1 and texts[0].startswith("Disconnected: You joined this room again")
    assert list(window.connection.buttons) == [REJOIN]  # no Back to rooms was given
    assert window.status.get() == "Disconnected. Rejoin when the room is back."
    assert "not sent: disconnected" in text_of(window.messages.text)
    assert not window.send_entry() and window.send_button.instate(["disabled"])

    window.connection.buttons[REJOIN].invoke()
    assert window.actions == ["reconnect"]
    assert window.banner_texts == ["Connecting…"] and window.status.get() == "Rejoining…"
    feed(window, ce.Connecting(attempt=1), joined("alice", "bob"))
    assert window.connected and not window.closed_for_good
    assert window.banner_texts == []
    assert window.send_button.instate(["!disabled"])
    window.entry.insert("1.0", "back")
    assert window.send_entry()


def test_a_changed_relay_offers_to_trust_it(window):
    feed(window, ce.Failed(kind=ErrorKind.RELAY_CHANGED, message=""))
    assert window.banner_texts[0].startswith(
        "Disconnected: This is not the room's relay you joined before"
    )
    assert list(window.connection.buttons) == [TRUST_NEW_RELAY]
    window.connection.buttons[TRUST_NEW_RELAY].invoke()
    assert window.actions == ["trust relay"]


def test_the_failure_row_and_key_changes_share_the_banner(window):
    feed(window, changed("dave"), ce.Failed(kind=ErrorKind.ROOM_CLOSED, message=""))
    assert window.banner_texts[0].startswith("Disconnected: The host closed the room.")
    assert window.banner_texts[1] == changed_banner_text("dave")


# -- look-alike names ----------------------------------------------------------------------------


def test_lookalikes_are_found_by_skeleton_and_key():
    bob, b0b, also_bob = member("bob"), member("b0b"), member("b0b", identity=identity_of("bob"))
    assert lookalikes((member("alice"), bob, b0b)) == {"bob": "b0b", "b0b": "bob"}
    assert lookalikes((member("alice"), bob, member("carol"))) == {}
    # One identity under two look-alike names (its own old connection) is no impostor.
    assert lookalikes((bob, also_bob)) == {}


def test_a_look_alike_that_gets_in_is_flagged_in_the_list_and_the_conversation(window):
    b0b = member("b0b")
    feed(window, ce.MemberJoined(member=b0b, members=(*window.members, b0b)))
    rows = window.member_list.get(0, "end")
    assert "b0b ≈ bob" in rows and "✓ bob ≈ b0b" in rows
    index = rows.index("b0b ≈ bob")
    assert row_colour(window, index) == LIGHT.warning
    assert "b0b's name looks like bob's: check who is who" in text_of(window.messages.text)


# -- the keyboard ----------------------------------------------------------------------------------


def test_members_can_be_verified_from_the_keyboard(window, root):
    window.member_list.focus_force()
    pump_until(root, lambda: root.focus_get() is window.member_list, what="the focus")
    root.update()  # the FocusIn binding
    assert window.selected_member() is not None and window.selected_member().name == "bob"
    assert window.verify_button.instate(["!disabled"])
    root.focus_get().event_generate("<Down>")
    root.update()
    assert window.selected_member().name == "dave"
    root.focus_get().event_generate("<Return>")
    root.update()
    assert isinstance(window.dialog, VerifyDialog) and window.dialog.view.name == "dave"
    window.dialog.close()
    window.member_list.focus_force()
    pump_until(root, lambda: root.focus_get() is window.member_list, what="the focus")
    window.member_list.event_generate("<Shift-F10>")
    root.update()
    assert window.member_menu is not None
    assert window.member_menu.entrycget(0, "label") == "Verify dave…"
    window.member_menu.unpost()
