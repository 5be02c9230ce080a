"""The pictures of private conversations and replies, for docs/screenshots/ (run through
tools/screenshots.py):

    xvfb-run -a -s "-screen 0 1280x900x24" python tools/screenshots.py private [FOLDER] [--dark]

The real app with real relays on 127.0.0.1 (two rooms, in this process) and real members
(``bob`` and ``carol``: real clients), the way a person would use it:

- ``private.png``: a private conversation with bob, opened from his menu in the member list
  (Message privately), shown under its room in the room list, with the other room's unread
  count and the room's own;
- ``reply.png``: the room's conversation with a reply alice sent (Reply in the conversation's
  menu) and one carol sent, each with its quote, and the reply bar over the compose box while
  alice answers bob.

Settings and identities go to temporary folders.
"""

from __future__ import annotations

import threading
import tkinter as tk
from pathlib import Path
from types import ModuleType
from typing import Any

from net.client import ChatClient, MessageReceived, ReplyTo
from net.relay import RelayThread


class _Heard:
    """What a friend's client received (its worker thread appends)."""

    def __init__(self) -> None:
        self.messages: list[MessageReceived] = []
        self._lock = threading.Lock()

    def __call__(self, event: object) -> None:
        if isinstance(event, MessageReceived):
            with self._lock:
                self.messages.append(event)

    def id_of(self, text: str) -> bytes | None:
        with self._lock:
            return next((m.message_id for m in self.messages if m.text == text), None)


def private_pictures(out: Path, shots: ModuleType, *, dark: bool = False) -> None:
    """Take the pictures into ``out``; ``shots`` is tools/screenshots.py (its helpers)."""
    relays: list[RelayThread] = []
    friends: list[ChatClient] = []
    root = tk.Tk(className="socketchat")
    looking = [True]
    app = shots.picture_app(
        root,
        shots.temp_dir("socketchat-shots-private-"),
        dark=dark,
        is_focused=lambda: looking[0],
    )
    try:
        rooms: dict[str, Any] = {}
        heard: dict[tuple[str, str], _Heard] = {}
        for label, names in (("Book club", ("carol",)), ("Family", ("bob", "carol"))):
            password = f"{label} password, for the pictures only"
            relay, keys = shots.picture_relay(password)
            relays.append(relay)
            room = shots.join_as_alice(app, root, relay.port, password)
            app.rename_room(room, label)
            rooms[label] = room
            for name in names:
                listener = heard[(label, name)] = _Heard()
                friend = ChatClient(
                    host="127.0.0.1",
                    port=relay.port,
                    username=name,
                    keys=keys,
                    identity=shots.identity(name),
                    on_event=listener,
                    kdf_cost=shots.CHEAP,
                )
                friend.start()
                friends.append(friend)
            wanted = len(names) + 1
            shots.pump(root, lambda room=room, wanted=wanted: len(room.chat.members) == wanted)

        family, book = rooms["Family"], rooms["Book club"]
        bob = _friend(friends, "bob", relays[1].port)
        carol = _friend(friends, "carol", relays[1].port)
        carol_books = _friend(friends, "carol", relays[0].port)
        chat = family.chat

        def shown(text: str, where: Any = None) -> bool:
            return text in (where or chat).messages.text.get("1.0", "end")

        # The room talks; alice answers carol with Reply, carol answers bob with one.
        for friend, text in (
            (bob, "Who's bringing the cake on Sunday?"),
            (carol, "I can. Chocolate or lemon?"),
        ):
            friend.send(text)
            shots.pump(root, lambda text=text: shown(text))
            shots.settle(root, 0.1)
        question = chat.messages.text.search("Chocolate or lemon", "1.0")
        chat.replies.start(chat.messages.message_id_at(question))
        chat.entry.insert("1.0", "Lemon! And I'll bring the candles.")
        chat.send_entry()
        shots.pump(root, lambda: not chat.pending)
        bob.send("Lunch at 12:30, see you all there.")
        shots.pump(root, lambda: shown("Lunch at 12:30"))
        cake = heard[("Family", "carol")].id_of("Who's bringing the cake on Sunday?")
        assert cake is not None
        carol.send(
            "Then I'll bake it Saturday evening.",
            reply_to=ReplyTo(
                message_id=cake, sender="bob", excerpt="Who's bringing the cake on Sunday?"
            ),
        )
        shots.pump(root, lambda: shown("Saturday evening"))
        carol_books.send("Chapter 7 for next week? It's a short one.")
        shots.pump(root, lambda: book.chat.unread == 1 or shown("Chapter 7", book.chat))

        # reply.png: alice starts answering bob, the reply bar over the compose box.
        lunch = chat.messages.text.search("Lunch at 12:30", "1.0")
        chat.replies.start(chat.messages.message_id_at(lunch))
        chat.entry.insert("1.0", "Perfect, we'll be there")
        _place(root)
        shots.settle(root, 0.5)
        shots.grab(root, "reply.png", out / ("reply-dark.png" if dark else "reply.png"))
        chat.reply_bar.cancel()
        chat.entry.delete("1.0", "end")

        # private.png: Message privately from bob's menu in the member list.
        index = next(i for i, m in enumerate(chat.rows) if m.name == "bob")
        chat.member_list.selection_set(index)
        chat.member_events.selection_changed()
        menu = chat.build_member_menu()
        menu.invoke(0)  # Message privately
        private = family.privates[shots.identity("bob").signing_public]
        talk = private.chat
        talk.entry.insert("1.0", "Is the cake a surprise for mum?")
        talk.send_entry()
        shots.pump(root, lambda: not talk.pending)
        looking[0] = False  # the window is not looked at: what comes counts as unread
        bob.send_private(app.identity.signing_public, "Yes! Don't tell her, I'll pick it up at 11.")
        shots.pump(root, lambda: shown("pick it up at 11", talk))
        carol.send("Should we bring chairs too?")
        shots.pump(root, lambda: shown("bring chairs", family.chat))
        looking[0] = True
        app.views.refresh_rooms()
        talk.mark_read()
        talk.entry.insert("1.0", "Great, thanks!")
        _place(root)
        shots.settle(root, 0.5)
        assert book.chat.unread == 1 and family.chat.unread == 1
        shots.grab(root, "private.png", out / ("private-dark.png" if dark else "private.png"))
    finally:
        for client in friends:
            client.close()
        app.close()
        for relay in relays:
            relay.stop()


def _friend(friends: list[ChatClient], name: str, port: int) -> ChatClient:
    return next(c for c in friends if c.username == name and c.port == port)


def _place(root: tk.Tk) -> None:
    root.geometry("1150x680+0+0")
    root.update_idletasks()
