"""A file sent from a private conversation goes to that member alone: the window with a
stand-in for the client's calls, and the whole app with a real relay and a real second
member."""

from __future__ import annotations

from gui.chat import ChatWindow
from tests.gui.apptest import chat_text, log_in, wait_for
from tests.gui.conftest import members_of, pump_until
from tests.gui.test_files import BOB, Files
from tests.gui.test_files_e2e import _offers


def test_a_private_conversation_sends_files_to_the_other_person_only(root, tmp_path):
    from gui.chat_private import PrivatePeer

    files = Files()
    window = ChatWindow(
        root, room="example.org:7777", username="alice", members=members_of("alice", "bob"),
        send=lambda _text: None, files=files,
        private=PrivatePeer(signing_key=BOB.signing_public, name="bob"),
    )  # fmt: skip
    path = tmp_path / "for-bob.txt"
    path.write_text("hi")
    assert window.file_sending.send_path(path)
    assert files.sent == [(path, BOB.signing_public)]


def test_a_file_sent_in_a_private_conversation_goes_to_that_member_only(
    make_app, relay, keys, members, tmp_path, monkeypatch
):
    app = make_app()
    log_in(app, relay.port, "alice")
    pump_until(app.root, lambda: app.chat is not None, what="the chat window")
    _bob, events = members(relay.port, "bob", keys)
    pump_until(app.root, lambda: "bob joined the room." in chat_text(app), what="bob")
    (bob_member,) = [m for m in app.chat.members if m.name == "bob"]
    private = app.privates.open(app.current, bob_member)
    chat = private.chat
    path = tmp_path / "just for bob.txt"
    path.write_bytes(b"a secret")
    monkeypatch.setattr("tkinter.filedialog.askopenfilename", lambda **_: str(path))
    chat.file_sending.button.invoke()
    wait_for(lambda: _offers(events), "bob to get the offer")
    (offer,) = _offers(events)
    assert offer.private_with == app.identity.signing_public
    assert offer.content.offer.name == "just for bob.txt"
    pump_until(app.root, lambda: not chat.attachments.transfers, what="the upload here")
    assert next(iter(chat.attachments.cards.values())).row.status == ""
    assert app.chat is chat and not app.current.chat.attachments.cards  # not the room's own
