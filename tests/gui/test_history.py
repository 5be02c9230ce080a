"""Local history in the window, in parts: what the export dialog checks and writes (with the
real exporter into a temporary folder), the search panel fed by a recording search function,
and the conversation showing a chosen match. The whole app with a real keyring, a real
archive file and real relays is in test_app_history_e2e.py."""

from __future__ import annotations

import json
import stat
import time

import pytest

from gui.app_history import forget_question
from gui.exporting import ExportDialog, export_problem, with_suffix
from gui.history import LocalHistory
from gui.messages import MessageList
from gui.search import Hit, SearchPanel, hit_line
from net.client.archive import Archive, StoredMessage
from net.client.export import ExportFormat
from tests.gui.conftest import pump_until

NOW_MS = int(time.time() * 1000)
ROOM = bytes(range(16))


def stored(number: int, text: str, sender: str = "bob") -> StoredMessage:
    return StoredMessage(
        room_id=ROOM,
        message_id=number.to_bytes(16, "big"),
        position=number,
        sender=sender,
        signing_key=b"k" * 32,
        timestamp_ms=NOW_MS,
        text=text,
        own=sender == "alice",
    )


# -- plain checks ----------------------------------------------------------------------------------


def test_what_the_export_path_must_be(tmp_path):
    assert export_problem("") == "Choose where to write the file."
    assert export_problem(str(tmp_path)) == "That is a folder: add a file name."
    assert export_problem(str(tmp_path / "missing" / "a.txt")).startswith("The folder ")
    assert export_problem(str(tmp_path / "a.txt")) is None
    assert with_suffix(str(tmp_path / "room.txt"), ExportFormat.HTML) == str(tmp_path / "room.html")
    assert with_suffix(str(tmp_path / "room"), ExportFormat.JSON) == str(tmp_path / "room.json")


def test_a_match_reads_with_its_context_and_hostile_text_is_made_safe():
    hit = Hit(1, "Work", stored(1, "line one\nline\u202etwo " + "x" * 100, sender="b\u200bob"))
    line = hit_line(hit, with_room=True)
    assert line.startswith("Work · b⟨U+200B⟩ob · ")
    assert "line one line⟨U+202E⟩two" in line and line.endswith("…")
    assert "\n" not in line and len(line) < 120
    assert not hit_line(hit, with_room=False).startswith("Work")


def test_the_forget_question_says_what_goes():
    text = forget_question("Book club")
    assert "deletes everything it kept" in text and "keys in the keyring" in text
    assert "room password or an invite" in text


# -- the export dialog ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "suffix", "looks_for"),
    [
        (ExportFormat.TEXT, ".txt", "the quick brown fox"),
        (ExportFormat.HTML, ".html", "&lt;b&gt;not bold&lt;/b&gt;"),
        (ExportFormat.JSON, ".json", '"text": "<b>not bold</b>"'),
    ],
)
def test_export_writes_each_format_readable_by_its_owner_only(
    root, tmp_path, fmt, suffix, looks_for
):
    written: list = []
    dialog = ExportDialog(
        root,
        label="Book club",
        messages=[stored(1, "the quick brown fox"), stored(2, "<b>not bold</b>", "alice")],
        folder=tmp_path,
        on_done=written.append,
    )
    root.update()
    assert dialog.path.get() == str(tmp_path / "Book club.txt")
    dialog.fmt.set(fmt.value)
    dialog._format_chosen()
    assert dialog.path.get().endswith(suffix)
    dialog.ok()
    [path] = written
    assert path.suffix == suffix and dialog.result == path
    content = path.read_text("utf-8")
    assert looks_for in content
    if fmt is ExportFormat.JSON:
        assert len(json.loads(content)["messages"]) == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_export_says_what_is_wrong_and_keeps_the_dialog(root, tmp_path):
    dialog = ExportDialog(root, label="Room", messages=[stored(1, "hi")], folder=tmp_path)
    dialog.path.set(str(tmp_path / "nowhere" / "room.txt"))
    dialog.ok()
    assert dialog.winfo_exists() and dialog.problem.get().startswith("The folder ")
    assert not (tmp_path / "nowhere").exists()
    asked: list[dict] = []
    dialog._ask_path = lambda **options: asked.append(options) or str(tmp_path / "chosen.txt")
    dialog.choose_file()
    assert dialog.path.get() == str(tmp_path / "chosen.txt")
    assert asked[0]["defaultextension"] == ".txt"
    dialog.export_button.focus_force()
    pump_until(root, lambda: dialog.focus_get() is dialog.export_button, what="the focus")
    dialog.export_button.event_generate("<Escape>")
    root.update()
    assert not dialog.winfo_exists() and dialog.result is None


def test_nothing_kept_nothing_to_export(root, tmp_path):
    dialog = ExportDialog(root, label="Room", messages=[], folder=tmp_path)
    assert dialog.export_button.instate(["disabled"])
    assert dialog.problem.get() == "This device kept nothing of this room yet."


# -- the search panel and the conversation -------------------------------------------------------


@pytest.fixture
def conversation(root):
    messages = MessageList(root)
    messages.grid(row=0, column=0, sticky="nsew")
    root.columnconfigure(0, weight=1)
    root.rowconfigure(0, weight=1)
    for number in range(1, 120):
        text = "the fox is here" if number == 3 else f"message {number}"
        messages.add_message("bob", text, NOW_MS, message_id=number.to_bytes(16, "big"))
    messages.flush()
    root.update()
    return messages


def test_a_chosen_message_is_shown_and_lit_up(conversation, root):
    assert conversation.at_end()
    assert conversation.show_message((3).to_bytes(16, "big"))
    root.update()
    lit = conversation.text.tag_ranges("found")
    assert lit and "the fox is here" in conversation.text.get(lit[0], lit[1])
    assert conversation.text.bbox(lit[0]) is not None, "scrolled into view"
    assert not conversation.show_message((999).to_bytes(16, "big"))


def test_cut_messages_leave_no_mark_behind(root):
    messages = MessageList(root, max_lines=20)
    for number in range(1, 60):
        messages.add_message("bob", f"m{number}", NOW_MS, message_id=number.to_bytes(16, "big"))
        messages.flush()
    assert not messages.show_message((1).to_bytes(16, "big"))
    assert messages.show_message((59).to_bytes(16, "big"))
    marks = [m for m in messages.text.mark_names() if str(m).startswith("id")]
    assert len(marks) < 20


def test_the_search_panel_finds_as_you_type_and_jumps(conversation, root):
    asked: list[tuple[str, bool]] = []
    chosen: list[Hit] = []
    closed: list[bool] = []
    hits = [Hit(1, "Work", stored(3, "the fox is here")), Hit(2, "Home", stored(9, "a fox"))]

    def search(query: str, everywhere: bool) -> list[Hit]:
        asked.append((query, everywhere))
        return hits if everywhere else hits[:1]

    panel = SearchPanel(
        conversation, search=search, on_choose=chosen.append, on_close=lambda: closed.append(True)
    )
    panel.show()
    pump_until(root, lambda: root.focus_get() is panel.entry, what="the search box")
    panel.query.set("FOX")
    pump_until(root, lambda: asked, what="the search after typing")
    assert asked == [("FOX", False)]
    assert panel.status.get().startswith("1 found in this room")
    assert panel.results.get(0).startswith("bob · ")
    panel.all_button.invoke()
    assert asked[-1] == ("FOX", True) and panel.results.size() == 2
    assert panel.results.get(1).startswith("Home · bob · ")
    panel.entry.event_generate("<Down>")
    pump_until(root, lambda: root.focus_get() is panel.results, what="the matches")
    panel.results.selection_clear(0, "end")
    panel.results.selection_set(1)
    panel.results.event_generate("<Return>")
    assert chosen == [hits[1]]
    panel.results.event_generate("<Escape>")
    assert closed == [True] and not panel.winfo_ismapped()


def test_the_search_panel_says_why_it_cannot_search(conversation, root):
    panel = SearchPanel(
        conversation,
        search=lambda *_: pytest.fail("nothing to search"),
        on_choose=lambda _hit: None,
        on_close=lambda: None,
        unavailable="This device keeps no history.",
    )
    panel.show()
    root.update()
    assert panel.status.get() == "This device keeps no history."
    assert panel.entry.instate(["disabled"])
    panel.run()


def test_a_search_finds_what_clients_recorded_through_their_own_connections(tmp_path):
    key, path = bytes(range(32)), tmp_path / "history.sqlite3"
    history = LocalHistory(path, key)
    try:
        with history.opener() as client_side:  # a client's own connection to the file
            client_side.add([stored(1, "lunch at noon")])
        assert [m.text for m in history.search("lunch", ROOM)] == ["lunch at noon"]
        with Archive.open(path, key) as client_side:
            client_side.add([stored(2, "lunch moved to one")])
        history.touched(ROOM)  # what the app does when a client records messages
        assert [m.text for m in history.search("lunch", ROOM)] == [
            "lunch moved to one",
            "lunch at noon",
        ]
        with Archive.open(path, key) as client_side:
            client_side.add([stored(3, "lunch is off")])
        history.touched(ROOM)
        assert len(history.search("lunch")) == 3  # all rooms
    finally:
        history.close()
