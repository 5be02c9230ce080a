"""This device's history in the app: past conversations, search, export, and forgetting a room.

With the keyring's history key the app opens this device's archive for reading
(``gui/history.py``) and gives each room's client its opener, so that messages and the unsent
outbox are kept; a room's chat window opens where its conversation left off. **Ctrl+F** opens
a search panel over the conversation (``gui/search.py``): this room or All rooms, matches
newest first; choosing one shows its room and lights the message up. **Export…** (the room's
menu) writes what was kept of the room to a file (``gui/exporting.py``). **Forget this
room…** asks first, then leaves the room and deletes its history and keyring entry. View →
Keep history on this device turns keeping off for rooms opened from then on. A history that
cannot be opened is said once, in the conversation, and nothing is kept or shown from it.

:class:`HistoryActions` works on the app (``gui/app.py``), on the Tk thread; ``app.history`` is
the open history (None: none), ``app.keep_history`` the View menu's switch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from gui.chat import ChatWindow
from gui.exporting import ExportDialog
from gui.history import FILE_NAME, LocalHistory
from gui.room import Room
from gui.safetext import display_name
from gui.saved import LocalKey
from gui.search import Hit, SearchPanel
from net import client as ce
from net.client import Archive, ArchiveError

if TYPE_CHECKING:
    from gui.app import App


class HistoryActions:
    """Made once by the app; follows its ``keep_history`` switch from then on."""

    def __init__(self, app: App) -> None:
        self._app = app
        self._told = False  # the history's problem was said (once, in a conversation)
        app.keep_history.trace_add("write", lambda *_: self._keep_history_changed())

    def open_history(self, event: LocalKey) -> None:
        """The keyring gave the history's key (or could not): open the file for reading."""
        app = self._app
        if event.key is None or app.closed or not app.keep_history.get():
            return
        try:
            app.history = LocalHistory(self._path(), event.key)
        except (ArchiveError, OSError, ValueError) as error:
            app.history_problem = (
                f"This device's history cannot be opened ({error}). Nothing is kept or shown "
                "from it until that is sorted out."
            )
            if app.chat is not None:
                self._tell_problem(app.chat)
            return
        for room in app.rooms:  # opened before the key came (the first room, at start)
            if room.chat is not None and room.room_id:
                app.privates.show_kept(room, app.history.latest(room.room_id))

    def chat_made(self, room: Room, room_id: bytes) -> None:
        """A room's chat window was made: it starts where its conversation left off, and its
        private conversations come back with theirs."""
        app = self._app
        history = app.history
        if history is not None and room_id:
            app.privates.show_kept(room, history.latest(room_id))
        if room.chat is not None:
            self._tell_problem(room.chat)

    def archive_opener(self) -> Callable[[], Archive] | None:
        """What a new client keeps its room's messages with (None: nothing is kept)."""
        app = self._app
        if app.history is None or not app.keep_history.get():
            return None
        return app.history.opener

    # -- search ---------------------------------------------------------------------------------

    def open_search(self) -> str:
        """Ctrl+F: the search panel over the current room's conversation."""
        app = self._app
        chat = app.chat
        if chat is None:
            return "break"
        panel = app.search_panel
        if panel is None or not panel.winfo_exists() or panel.master is not chat.messages:
            if panel is not None and panel.winfo_exists():
                panel.destroy()
            unavailable = ""
            if app.history is None:
                unavailable = (
                    app.history_problem
                    or "This device keeps no history (View → Keep history on this device), "
                    "so there is nothing to search."
                )
            panel = app.search_panel = SearchPanel(
                chat.messages,
                search=self._search,
                on_choose=self._search_chosen,
                on_close=lambda: self._search_closed(chat),
                palette=app.palette,
                unavailable=unavailable,
            )
        panel.show()
        return "break"

    def _search(self, query: str, all_rooms: bool) -> list[Hit]:
        app = self._app
        current = app.current
        if app.history is None or current is None:
            return []
        if not all_rooms and not current.room_id:
            return []
        found = app.history.search(query, room_id=None if all_rooms else current.room_id)
        rooms = {room.room_id: room for room in app.rooms if room.room_id}
        hits = []
        for message in found:
            room = rooms.get(message.room_id)
            if room is not None:  # a room forgotten from the list is not offered
                hits.append(Hit(room.token, room.label, message))
        return hits

    def _search_chosen(self, hit: Hit) -> None:
        """A match was chosen: its room comes, and the message lights up."""
        app = self._app
        room = app.room_of(hit.token)
        if room is None:
            return
        private_with = hit.message.private_with
        if private_with is not None:  # a private message: its conversation comes
            name = hit.message.sender if not hit.message.own else hit.message.private_name
            token = app.privates.ensure(room, private_with, name).token
        else:
            token = room.token
        app.views.choose_room(token)
        chat = app.chat
        if chat is None:
            return
        if not chat.messages.show_message(hit.message.message_id):
            chat.messages.flash(
                "That message is older than what this conversation shows; it is in the "
                "export (room menu → Export…)."
            )

    def _search_closed(self, chat: ChatWindow) -> None:
        if chat.winfo_exists():
            chat.entry.focus_set()

    # -- export and forgetting ------------------------------------------------------------------

    def export_room(self, room: Room) -> ExportDialog | None:
        """Export… (the room's menu): what this device kept of the room, to a file."""
        app = self._app
        if app.history is None or not room.room_id:
            return None
        folder = Path.home()
        with contextlib.suppress(Exception):
            import platformdirs

            folder = Path(platformdirs.user_documents_dir())
        if not folder.is_dir():
            folder = Path.home()

        def exported(path: Path) -> None:
            if room.chat is not None:
                room.chat.messages.flash(f"Exported the room to {path}.")

        return ExportDialog(
            app.root,
            label=room.label,
            messages=app.history.everything(room.room_id),
            folder=folder,
            on_done=exported,
        )

    def ask_forget(self, room: Room) -> None:
        """Forget this room… (the room's menu): after a question (Cancel is the default),
        leave it and delete what this device kept of it, history and keys."""
        if self._app.confirm("Forget this room?", forget_question(room.label), "Forget this room"):
            self.forget_everything(room)

    def forget_everything(self, room: Room) -> None:
        """Leave ``room`` and delete its local history and its keyring entry."""
        app = self._app
        room_id = room.room_id
        client, room.client = room.client, None
        if client is not None:
            client.close()  # here, not in the background: its last records go first
        if room.entry is not None:
            app.remembered.forget_room(room)
        shown = app.current is room
        app.room_life.close_room(room)
        if room in app.rooms:
            app.rooms.remove(room)
            app.views.refresh_rooms()
            app.views.layout()
        if app.history is not None and room_id:
            app.history.forget(room_id)
        if shown:
            app.views.show_login()

    # -- the switch and the file ----------------------------------------------------------------

    def _keep_history_changed(self) -> None:
        """View → Keep history on this device: rooms opened from now on follow it; turned
        on, the keyring is asked for the history's key if it was not open."""
        app = self._app
        keep = app.keep_history.get()
        app.save_settings(keep_history=keep)
        if keep and app.history is None and app.memory_available and app.memory is not None:
            app.memory.local_key()

    def _path(self) -> Path:
        app = self._app
        return (app.data_dir if app.data_dir is not None else ce.data_dir()) / FILE_NAME

    def _tell_problem(self, chat: ChatWindow) -> None:
        problem = self._app.history_problem
        if problem and not self._told:
            self._told = True
            chat.messages.add_notice(problem, "warning")


def forget_question(label: str) -> str:
    """What Forget this room… asks."""
    return (
        f"This device leaves {display_name(label)} and deletes everything it kept of it: its "
        "messages, anything still waiting to be sent, and its keys in the keyring. The other "
        "members keep theirs. To come back you need the room password or an invite."
    )
