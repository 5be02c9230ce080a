"""Identities and trust in the whole app: real Tk (Xvfb), a real relay, real clients.

The app keeps its identity and trust records in the test's folder (``make_app`` passes
``data_dir``); where a test needs this device to have seen something before (a member's old
key, a relay's old key), it writes that into the app's trust store first, exactly as an
earlier session would have.
"""

from __future__ import annotations

import json

from crypto.identity import Identity, pair_safety_code, safety_code
from gui.chat_text import changed_banner_text
from gui.connection import BACK_TO_ROOMS, REJOIN
from gui.errors import CONNECT_AGAIN, TRUST_NEW_RELAY
from gui.identity_problem import HEADING
from gui.messages import CHANGED_MARK, key_colour
from net.client import DEFAULT_ROOM, ChatClient, Trust, relay_address
from net.client import events as ce
from net.client.events import ErrorKind
from net.relay import RelayConfig, RelayThread, RoomSecret
from tests.gui.apptest import (
    CutAfterConfirmation,
    chat_text,
    failure_after_login,
    log_in,
    pump_for_failure,
    wait_for,
)
from tests.gui.conftest import CHEAP, pump_until


def join(app, root, port: int, name: str = "alice") -> None:
    log_in(app, port, name)
    pump_until(root, lambda: app.chat is not None, what="the chat window")


def select(chat, name: str) -> None:
    index = [m.name for m in chat.rows].index(name)
    chat.member_list.selection_clear(0, "end")
    chat.member_list.selection_set(index)
    chat.member_list.event_generate("<<ListboxSelect>>")


class Questions:
    """Stands in for the app's confirmation dialog: records questions, answers in turn."""

    def __init__(self, *answers: bool) -> None:
        self.asked: list[tuple[str, str, str]] = []
        self._answers = list(answers)

    def __call__(self, title: str, text: str, button: str) -> bool:
        self.asked.append((title, text, button))
        return self._answers.pop(0)


# -- safety codes and verifying ------------------------------------------------------------


def test_your_safety_code_from_the_login_window(make_app, root, tmp_path):
    app = make_app()
    assert (tmp_path / "data" / "identity.json").exists(), "made on first start"
    assert app.login is not None and app.login.code_button is not None
    app.login.code_button.invoke()
    root.update()
    dialog = app.code_dialog
    assert dialog is not None and dialog.winfo_viewable()
    assert dialog.code == safety_code(app.identity.public)
    dialog.copy()
    assert root.clipboard_get() == dialog.code


def test_verify_a_member_by_the_pair_code(make_app, root, relay, members, keys, tmp_path):
    app = make_app()
    join(app, root, relay.port)
    bob_identity = Identity.generate()
    bob, _ = members(relay.port, "bob", keys, identity=bob_identity)
    pump_until(root, lambda: "bob joined the room." in chat_text(app), what="bob")
    chat = app.chat
    assert chat.member_list.get(0, "end") == ("alice (you)", "bob"), "new: no badge"

    select(chat, "bob")
    chat.verify_button.invoke()
    dialog = chat.dialog
    # Both screens show the same code: bob computes it the other way round.
    assert dialog.view.code == pair_safety_code(app.identity.public, bob_identity.public)
    assert dialog.view.code == pair_safety_code(bob_identity.public, app.identity.public)
    dialog.verify_button.invoke()

    assert chat.member_list.get(0, "end") == ("alice (you)", "✓ bob")
    room = app.client.room_id
    assert app.trust.status(room, "bob", bob_identity.signing_public) is Trust.VERIFIED
    saved = json.loads((tmp_path / "data" / "trust.json").read_text("utf-8"))
    assert saved["rooms"][room.hex()]["bob"]["verified"] is True

    # bob's colour comes from his key.
    bob.send("hello from bob")
    pump_until(root, lambda: "hello from bob" in chat_text(app), what="bob's message")
    text = chat.messages.text
    at = text.search("hello from bob", "1.0")
    assert f"tint{key_colour(bob_identity.signing_public)}" in text.tag_names(at)


def test_a_verified_member_back_with_another_key_is_flagged_until_accepted(
    make_app, root, relay, members, keys
):
    old_bob, new_bob = Identity.generate(), Identity.generate()
    app = make_app()
    # An earlier session: bob was seen and verified with his old key.
    app.trust.observe(keys.room_id, "bob", old_bob.signing_public)
    app.trust.mark_verified(keys.room_id, "bob", old_bob.signing_public)
    # bob is in the room with a new key before alice joins: the client reports the change
    # while joining, before the chat window exists.
    bob, bob_events = members(relay.port, "bob", keys, identity=new_bob)
    wait_for(lambda: bob_events.has(ce.Joined), "bob to join")
    join(app, root, relay.port)
    chat = app.chat
    pump_until(root, lambda: chat.banner_texts != [], what="the banner")
    assert chat.banner_texts == [changed_banner_text("bob")]
    assert "You had verified the old one." in chat_text(app)
    assert "⚠ bob" in chat.member_list.get(0, "end")

    bob.send("it is me, new laptop")
    pump_until(root, lambda: "new laptop" in chat_text(app), what="bob's message")
    assert f"{CHANGED_MARK}bob" in chat_text(app)

    dialog = chat.open_verify("bob")
    assert "You had verified the old code" in dialog.view.warning
    dialog.accept_button.invoke()
    assert chat.banner_texts == []
    assert app.trust.status(keys.room_id, "bob", new_bob.signing_public) is Trust.KNOWN
    marks = chat_text(app).count(CHANGED_MARK)
    bob.send("thanks")
    pump_until(root, lambda: "thanks" in chat_text(app), what="the next message")
    assert chat_text(app).count(CHANGED_MARK) == marks, "shown as usual once accepted"


# -- names -----------------------------------------------------------------------------------


def test_the_relay_refuses_a_look_alike_name_and_the_window_says_so(
    make_app, root, relay, members, keys
):
    _, bob_events = members(relay.port, "bob", keys)
    wait_for(lambda: bob_events.has(ce.Joined), "bob to join")
    app = make_app()
    text = failure_after_login(app, root, relay.port, name="b0b")
    assert "refused the name 'b0b': it looks too much like the name of another member" in text
    assert app.login.failure_action_label == ""


def test_the_login_window_checks_the_name_before_connecting(make_app, root):
    app = make_app()
    log_in(app, 7777, "\u0430lice")  # a Cyrillic а, then Latin letters
    assert "mixes writing systems" in app.login.error_vars["username"].get()
    log_in(app, 7777, "b\u200bob")
    assert "invisible" in app.login.error_vars["username"].get()
    assert app.client is None and not app.login.busy


# -- a relay that is not the one joined before ------------------------------------------------


def test_a_changed_relay_is_stopped_and_trusted_only_after_a_warning(make_app, root, relay):
    questions = Questions(False, True)
    app = make_app(confirm=questions)
    address = relay_address("127.0.0.1", relay.port, DEFAULT_ROOM)
    old_key = Identity.generate().signing_public
    app.trust.pin_relay(address, old_key)  # joined before, when the room had another relay

    text = failure_after_login(app, root, relay.port)
    assert text.startswith("This is not the room's relay you joined before")
    assert app.login.failure_action_label == TRUST_NEW_RELAY

    app.login.action_button.invoke()  # answered No: nothing changes
    assert questions.asked[0][2] == TRUST_NEW_RELAY
    assert "127.0.0.1:" in questions.asked[0][1] and "Ask the host first" in questions.asked[0][1]
    assert app.trust.relay_key(address) == old_key
    assert app.login.failure.get() == text and app.client is None

    app.login.action_button.invoke()  # Yes: forget the old key, connect, pin the new one
    pump_until(root, lambda: app.chat is not None, what="the chat window")
    assert app.trust.relay_key(address) == relay.relay.secret.relay_key


def test_an_interrupted_login_is_not_retried_until_the_person_says_so(make_app, root, relay):
    proxy = CutAfterConfirmation(("127.0.0.1", relay.port))
    try:
        app = make_app()
        text = failure_after_login(app, root, proxy.port)
        assert "ended while the room password was being checked" in text
        assert "does not try again on its own" in text
        assert app.login.failure_action_label == CONNECT_AGAIN
        assert proxy.cuts == 1
        pump_until(root, lambda: app.client is None, what="the client gone")
        assert proxy.cuts == 1, "no retry of its own"

        app.login.action_button.invoke()
        assert app.login.busy
        pump_for_failure(app, root)
        assert proxy.cuts == 2, "one more attempt, on request"
    finally:
        proxy.close()


# -- Reconnect in the chat window ---------------------------------------------------------------


def test_reconnect_after_joining_from_elsewhere(make_app, root, relay, members, keys):
    app = make_app()
    join(app, root, relay.port)
    _, bob_events = members(relay.port, "bob", keys)
    pump_until(root, lambda: "bob joined the room." in chat_text(app), what="bob")
    # The same identity joins again (another window): the relay closes this connection.
    twin_events: list[object] = []
    twin = ChatClient(
        host="127.0.0.1",
        port=relay.port,
        username="alice",
        keys=keys,
        identity=app.identity,
        on_event=twin_events.append,
        kdf_cost=CHEAP,
    )
    twin.start()
    try:
        chat = app.chat
        pump_until(root, lambda: chat.closed_for_good, what="the final failure")
        assert chat.banner_texts[0].startswith("Disconnected: You joined this room again as")
        assert list(chat.connection.buttons) == [REJOIN, BACK_TO_ROOMS]
    finally:
        twin.close()
    chat.connection.buttons[REJOIN].invoke()
    pump_until(root, lambda: chat.connected, what="joined again")
    assert chat.banner_texts == [] and chat.send_button.instate(["!disabled"])
    chat.entry.insert("1.0", "back again")
    assert chat.send_entry()
    wait_for(lambda: "back again" in bob_events.texts(), "bob to get the message")


def test_reconnect_to_a_relay_with_a_new_key_asks_before_trusting_it(make_app, root, keys):
    first = RelayThread(RoomSecret.from_room_keys(keys), RelayConfig(host="127.0.0.1", port=0))
    port = first.start()
    second: RelayThread | None = None
    try:
        questions = Questions(True)
        app = make_app(confirm=questions)
        join(app, root, port)
        chat = app.chat
        first.stop()  # the room closes
        pump_until(root, lambda: chat.closed_for_good, what="the room closed")
        assert list(chat.connection.buttons) == [REJOIN, BACK_TO_ROOMS]

        # The room comes back on the same port with a new relay key (a new room file).
        second = RelayThread(
            RoomSecret.from_room_keys(keys), RelayConfig(host="127.0.0.1", port=port)
        )
        second.start()
        chat.connection.buttons[REJOIN].invoke()
        pump_until(
            root,
            lambda: chat.failure is not None and chat.failure.kind is ErrorKind.RELAY_CHANGED,
            what="the changed relay",
        )
        assert list(chat.connection.buttons) == [TRUST_NEW_RELAY, BACK_TO_ROOMS]
        assert chat.banner_texts[0].startswith(
            "Disconnected: This is not the room's relay you joined before"
        )
        chat.connection.buttons[TRUST_NEW_RELAY].invoke()
        assert questions.asked and questions.asked[0][2] == TRUST_NEW_RELAY
        pump_until(root, lambda: chat.connected, what="joined the new relay")
        key = second.relay.secret.relay_key
        assert app.trust.relay_key(relay_address("127.0.0.1", port, keys.room_id)) == key
        assert app.trust.relay_key(relay_address("127.0.0.1", port, DEFAULT_ROOM)) == key
    finally:
        first.stop()
        if second is not None:
            second.stop()


# -- the identity file -----------------------------------------------------------------------


def test_a_damaged_identity_file_is_shown_and_never_replaced(make_app, root, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    damaged = folder / "identity.json"
    damaged.write_bytes(b"{not json")
    damaged.chmod(0o600)
    app = make_app()
    assert app.identity is None and app.login is None and app.problem is not None
    assert root.title() == "SocketChat — cannot start"
    text = app.problem.text
    assert "identity.json is damaged" in text and "will not make a new identity" in text
    labels = [
        str(child.cget("text"))
        for child in app.problem.winfo_children()
        if child.winfo_class() == "TLabel"
    ]
    assert "⚠ " + HEADING in labels
    app.problem.copy_folder()
    assert root.clipboard_get() == str(folder)
    assert damaged.read_bytes() == b"{not json"
    app.problem.quit_button.invoke()
    assert app.closed
    assert damaged.read_bytes() == b"{not json", "never replaced"


def test_an_unreadable_identity_folder_is_shown_too(make_app, root, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "identity.json").mkdir()  # not a file at all
    app = make_app()
    assert app.identity is None and app.problem is not None
    assert "identity" in app.problem.text


def test_decisions_go_to_the_store_when_no_client_is_in_the_room(make_app, root, keys):
    # After a final failure and while a Reconnect is under way the client is not in the room
    # (a new one has no room yet): what the person decides still lands in the trust store.
    from gui.room import Room, RoomTrust

    app = make_app()
    bob = Identity.generate().signing_public
    app.trust.observe(keys.room_id, "bob", Identity.generate().signing_public)
    room = Room(1, root)
    decisions = RoomTrust(room, app.trust, keys.room_id)
    assert room.client is None
    decisions.accept_key("bob", bob)
    assert app.trust.status(keys.room_id, "bob", bob) is Trust.KNOWN
    decisions.mark_verified("bob", bob)
    assert app.trust.status(keys.room_id, "bob", bob) is Trust.VERIFIED
