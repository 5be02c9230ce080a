"""The room setting "New members can read recent history" in the app: the Host dialog's
checkbox (its validation is a plain function), the line in the chat header, the placeholder
for earlier messages the room does not share, and both ends to end against a real relay."""

from __future__ import annotations

import pytest

from crypto.genesis import RoomSettings
from crypto.identity import Identity
from gui.chat import ChatWindow
from gui.chat_text import HISTORY_NOT_SHARED, HISTORY_SHARED
from gui.host import HISTORY_TEXT, HostDialog, HostRequest, validate_host_request
from gui.theme import apply_theme
from net.client import ChatClient, PendingMessage
from net.client import events as ce
from net.relay import RelayConfig, RelayThread, create_owned_room
from tests.gui.apptest import (
    PASSWORD,
    Recorder,
    chat_text,
    free_port,
    log_in,
    wait_for,
)
from tests.gui.conftest import CHEAP, ROOM_ID, members_of, pump_until, text_of

WITHHELD = "messages from before you joined are not shared with new members in this room"

# -- the Host dialog ----------------------------------------------------------------------


def test_the_request_carries_the_history_choice_on_by_default():
    request, errors = validate_host_request("7777", "a-b-c-d", "alice")
    assert errors == {} and request is not None and request.history_for_newcomers
    request, _ = validate_host_request("7777", "a-b-c-d", "alice", history_for_newcomers=False)
    assert request is not None and not request.history_for_newcomers
    # A bad field still refuses the request, whatever the choice.
    request, errors = validate_host_request("0", "a-b-c-d", "alice", history_for_newcomers=False)
    assert request is None and set(errors) == {"port"}


def test_the_host_dialog_has_the_checkbox_on_and_passes_it_through(root):
    apply_theme(root)
    outcomes: list[HostRequest | None] = []
    dialog = HostDialog(
        root, on_done=outcomes.append, username="alice", passphrase=lambda: "a-b-c-d-e-f-g"
    )
    root.update()
    assert dialog.history.get() is True
    assert dialog.history_check.cget("text") == HISTORY_TEXT[0]
    assert HISTORY_TEXT[0] == "New members can read recent history"
    assert "see only what is sent after they join" in HISTORY_TEXT[1]
    dialog.history_check.invoke()  # untick, as a click does
    assert dialog.history.get() is False
    dialog.ok()
    (request,) = outcomes
    assert request is not None and request.history_for_newcomers is False
    # Opened again after a failure (a port in use), it keeps the choice.
    again = HostDialog(root, on_done=outcomes.append, initial=request, error="Port in use")
    root.update()
    assert again.history.get() is False
    again.cancel()


# -- the chat window ------------------------------------------------------------------------


@pytest.fixture
def chat(root):
    window = ChatWindow(
        root,
        room="example.org:7777",
        username="bob",
        members=members_of("alice", "bob"),
        send=lambda text: PendingMessage(text=text, message_id=bytes(16), timestamp_ms=0),
        is_focused=lambda: True,
    )
    window.grid(row=0, column=0, sticky="nsew")
    root.update()
    return window


def joined(history: bool | None, *, reconnected: bool = False) -> ce.Joined:
    return ce.Joined(
        your_name="bob",
        members=members_of("alice", "bob"),
        reconnected=reconnected,
        max_message_bytes=4000,
        room_id=ROOM_ID,
        history_for_newcomers=history,
    )


@pytest.mark.parametrize(
    ("history", "shown"),
    [(True, HISTORY_SHARED), (False, HISTORY_NOT_SHARED), (None, "")],
)
def test_the_header_says_the_rooms_setting_for_a_room_with_an_owner(chat, history, shown):
    chat.handle(joined(history))
    chat.update()
    assert chat.room_setting.get() == shown
    assert bool(chat.setting_label.winfo_ismapped()) is (history is not None)
    assert HISTORY_SHARED == "New members can read recent history"
    assert HISTORY_NOT_SHARED == "New members see only what is sent after they join"


def test_withheld_earlier_messages_say_why_instead_of_waiting(chat):
    chat.handle(joined(False))
    for n in range(3):
        chat.handle(
            ce.MessageLocked(
                sender="alice", message_id=bytes([n]) * 16, from_history=True, withheld=True
            )
        )
    content = text_of(chat.messages.text)
    assert f"3 earlier messages: {WITHHELD}." in content
    assert "readable once" not in content
    # A live message whose key is late still says it is coming.
    chat.handle(ce.MessageLocked(sender="alice", message_id=b"\x09" * 16, from_history=False))
    assert "it appears here when its key arrives" in text_of(chat.messages.text)
    # In a room that shares its history, the old wording stays.
    chat.handle(ce.MessageLocked(sender="alice", message_id=b"\x0a" * 16, from_history=True))
    content = text_of(chat.messages.text)
    assert "1 earlier message: readable once a member who was here comes online." in content
    assert f"3 earlier messages: {WITHHELD}." in content


# -- end to end -----------------------------------------------------------------------------


def test_hosting_without_history_makes_a_room_that_says_so(make_app, root):
    app = make_app()
    app.open_host_dialog()
    dialog = app.host_dialog
    assert dialog is not None and dialog.history.get() is True
    dialog.port.set(str(free_port()))
    dialog.username.set("host")
    dialog.history.set(False)
    dialog.ok()
    pump_until(root, lambda: app.chat is not None, what="hosting")
    genesis = app.relay.relay.secret.genesis
    assert genesis is not None and genesis.settings == RoomSettings(0)
    pump_until(root, lambda: app.chat.room_setting.get() != "", what="the room's setting")
    assert app.chat.room_setting.get() == HISTORY_NOT_SHARED


def test_joining_a_room_without_history_shows_why_earlier_messages_stay_locked(make_app, root):
    owner = Identity.generate()
    keys, secret = create_owned_room(PASSWORD, owner, settings=RoomSettings(0), n=CHEAP)
    relay = RelayThread(secret, RelayConfig(host="127.0.0.1", port=0))
    port = relay.start()
    events = Recorder()
    alice = ChatClient(
        host="127.0.0.1",
        port=port,
        username="alice",
        keys=keys,
        identity=owner,
        on_event=events,
        kdf_cost=CHEAP,
    )
    alice.start()
    try:
        wait_for(lambda: events.has(ce.Joined), "alice to join")
        alice.send("before bob came")
        wait_for(lambda: events.has(ce.MessageReceived, own=True), "alice's message")
        app = make_app()
        log_in(app, port, "bob")
        pump_until(root, lambda: app.chat is not None, what="joining")
        pump_until(root, lambda: WITHHELD in chat_text(app), what="the withheld line")
        assert "1 earlier message: " + WITHHELD in chat_text(app)
        assert "before bob came" not in chat_text(app)
        assert app.chat.room_setting.get() == HISTORY_NOT_SHARED
        wait_for(lambda: events.has(ce.MemberJoined, name="bob"), "alice to see bob")
        alice.send("after bob came")
        pump_until(root, lambda: "after bob came" in chat_text(app), what="a later message")
    finally:
        alice.close()
        relay.stop()
