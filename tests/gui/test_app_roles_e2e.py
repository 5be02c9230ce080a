"""Owners, admins and removal in the whole app: real Tk (Xvfb), a real relay, real clients.

The host of a room owns it: from the member list it makes a member an admin and removes
another, who is told so by the relay. And the other way round: an app in a room owned by
someone else is removed, and its window says so without offering Reconnect.
"""

from __future__ import annotations

from crypto.identity import Identity
from gui.chat import ChatWindow
from gui.connection import BACK_TO_ROOMS
from gui.dialogs import ConfirmDialog
from gui.roles import ACTION_LABELS, MemberAction
from net.client import ActionKind, ChatClient, Role
from net.client import events as ce
from net.client.events import ErrorKind
from net.relay import RelayConfig, RelayThread, create_owned_room
from tests.gui.apptest import PASSWORD, Recorder, chat_text, free_port, log_in, wait_for
from tests.gui.conftest import CHEAP, pump_until
from tests.gui.test_roles import commands


def invoke(chat: ChatWindow, name: str, label: str) -> None:
    """Right-click menu of ``name`` in the member list: press ``label``."""
    index = [m.name for m in chat.rows].index(name)
    chat.member_list.selection_clear(0, "end")
    chat.member_list.selection_set(index)
    chat.member_list.event_generate("<<ListboxSelect>>")
    menu = chat.build_member_menu()
    assert menu is not None
    found = [index for index, shown in commands(menu) if shown == label]
    assert found, commands(menu)
    menu.invoke(found[0])
    menu.destroy()


def roles_shown(chat: ChatWindow) -> dict[str, str]:
    names = [m.name for m in chat.rows]
    return dict(zip(names, chat.role_list.get(0, "end"), strict=True))


def test_the_host_owns_its_room_appoints_an_admin_and_removes_a_member(make_app, root):
    app = make_app()
    port = free_port()
    app.open_host_dialog()
    dialog = app.host_dialog
    assert dialog is not None
    dialog.port.set(str(port))
    dialog.username.set("host")
    passphrase = dialog.password.get()
    dialog.ok()
    pump_until(root, lambda: app.chat is not None and app.relay is not None, what="hosting")
    assert app.identity is not None and app.relay is not None
    assert app.relay.relay.secret.owner_key == app.identity.signing_public
    chat = app.chat
    assert chat is not None
    pump_until(root, lambda: roles_shown(chat).get("host") == "owner", what="the owner's label")

    def join(name: str):
        client = ChatClient(
            host="127.0.0.1",
            port=port,
            username=name,
            password=passphrase,
            identity=Identity.generate(),
            on_event=(recorder := Recorder()),
            kdf_cost=CHEAP,
        )
        client.start()
        joined.append(client)
        return client, recorder

    joined: list[ChatClient] = []
    try:
        bob, bob_events = join("bob")
        _carol, carol_events = join("carol")
        pump_until(
            root,
            lambda: {"bob", "carol"} <= {m.name for m in chat.members},
            what="bob and carol",
        )

        invoke(chat, "bob", ACTION_LABELS[MemberAction.MAKE_ADMIN])
        pump_until(root, lambda: "You made bob an admin." in chat_text(app), what="the notice")
        assert roles_shown(chat)["bob"] == "admin"
        wait_for(
            lambda: bob_events.has(ce.RoleChange, kind=ActionKind.MAKE_ADMIN, target="bob"),
            "bob to hear he is an admin",
        )
        wait_for(lambda: bob.my_role is Role.ADMIN, "bob's client to know it")

        invoke(chat, "carol", ACTION_LABELS[MemberAction.REMOVE])
        confirmation = chat.dialog
        assert isinstance(confirmation, ConfirmDialog)
        assert confirmation.heading_text == "Remove carol from the room?"
        confirmation.confirm_button.invoke()
        pump_until(
            root,
            lambda: (
                "You removed carol from the room." in chat_text(app)
                and "carol" not in {m.name for m in chat.members}
            ),
            what="carol's removal",
        )
        assert "carol left the room." not in chat_text(app)
        wait_for(
            lambda: carol_events.has(ce.Failed, kind=ErrorKind.REMOVED),
            "carol to be told she was removed",
        )
        wait_for(
            lambda: bob_events.has(ce.RoleChange, kind=ActionKind.REMOVE, target="carol"),
            "bob to hear of it",
        )
    finally:
        for client in joined:
            client.close()


def test_an_app_that_is_removed_says_so_and_offers_no_reconnect(make_app, root):
    owner_identity = Identity.generate()
    _keys, secret = create_owned_room(PASSWORD, owner_identity, n=CHEAP)
    relay = RelayThread(secret, RelayConfig(host="127.0.0.1", port=0))
    port = relay.start()
    owner_events = Recorder()
    owner = ChatClient(
        host="127.0.0.1",
        port=port,
        username="olive",
        password=PASSWORD,
        identity=owner_identity,
        on_event=owner_events,
        kdf_cost=CHEAP,
    )
    owner.start()
    try:
        wait_for(lambda: owner.my_role is Role.OWNER, "the owner to join")
        app = make_app()
        log_in(app, port, "alice")
        pump_until(root, lambda: app.chat is not None, what="the chat window")
        chat = app.chat
        assert chat is not None
        pump_until(root, lambda: roles_shown(chat).get("olive") == "owner", what="the roles")
        # A member is offered nothing beyond a private conversation and Verify….
        index = [m.name for m in chat.rows].index("olive")
        chat.member_list.selection_set(index)
        menu = chat.build_member_menu()
        assert menu is not None
        assert [label for _i, label in commands(menu)] == ["Message privately", "Verify olive…"]
        menu.destroy()

        wait_for(lambda: owner_events.has(ce.MemberJoined, name="alice"), "alice to arrive")
        owner.remove_member("alice")
        pump_until(root, lambda: chat.failure is not None, what="the removal")
        assert chat.failure is not None and chat.failure.kind is ErrorKind.REMOVED
        assert chat.banner_texts[0].startswith(
            "Disconnected: You were removed from this room by its owner or an admin."
        )
        assert list(chat.connection.buttons) == [BACK_TO_ROOMS]  # no Rejoin
        assert chat.send_button.instate(["disabled"])
    finally:
        owner.close()
        relay.stop()
