"""Many rooms in one window, in parts: remembered rooms' records and index as plain objects,
the room list and Ctrl+K's box on real Tk, and the keyring thread against a stand-in keyring
that records its calls (the real Secret Service is in test_app_rooms_e2e.py)."""

from __future__ import annotations

import json
import queue

import pytest

from crypto.kdf import RoomKeys
from gui.roomlist import JOIN_OR_HOST, JumpDialog, RoomList, RoomRow, RoomState, matching, row_text
from gui.saved import (
    IndexEntry,
    LocalKey,
    MemoryFailed,
    MemoryOpened,
    RoomMemory,
    RoomsLoaded,
    SavedRoom,
    keychain_name,
    load_index,
    save_index,
)
from net.client.keychain import KeychainUnavailable
from tests.gui.conftest import pump_until


def _keys(seed: int = 1) -> RoomKeys:
    return RoomKeys(room_id=bytes([seed]) * 16, access=bytes([seed + 1]) * 32, member=b"m" * 32)


def _saved(seed: int = 1, label: str = "Book club") -> SavedRoom:
    return SavedRoom("chat.example.org", 7777, "alice", label, _keys(seed))


# -- records and the index ------------------------------------------------------------------------


def test_a_record_round_trips_and_hides_its_keys():
    room = _saved()
    record = room.record()
    assert SavedRoom.from_record(record, room.room_id) == room
    assert "access" not in repr(room) and room.keys.access.hex() not in repr(room)
    assert len(record) < 600, "a Windows credential holds 2,560 bytes (UTF-16)"
    assert keychain_name(room.room_id) == "room:" + "01" * 16


@pytest.mark.parametrize(
    "change",
    [
        {"room_id": "02" * 16},  # another room's record under this room's name
        {"access": "00" * 31},
        {"port": 0},
        {"port": "7777"},
        {"username": "bad\tname"},
        {"label": ""},
        {"host": "h" * 300},
        {"v": 2},
    ],
)
def test_a_record_that_does_not_fit_is_refused(change):
    raw = json.loads(_saved().record())
    raw.update(change)
    with pytest.raises(ValueError):
        SavedRoom.from_record(json.dumps(raw).encode(), _keys().room_id)


def test_an_oversized_record_is_refused_before_parsing():
    with pytest.raises(ValueError):
        SavedRoom.from_record(b"{" + b" " * 5000 + b"}", _keys().room_id)


def test_the_index_keeps_order_and_nothing_secret(tmp_path):
    rooms = [_saved(1, "Book club"), _saved(2, "Work"), _saved(3, "Family")]
    save_index([room.entry() for room in rooms], tmp_path)
    written = (tmp_path / "rooms.json").read_text("utf-8")
    for room in rooms:
        assert room.keys.access.hex() not in written and room.keys.member.hex() not in written
    assert [entry.label for entry in load_index(tmp_path)] == ["Book club", "Work", "Family"]


def test_a_damaged_index_loses_only_what_is_damaged(tmp_path):
    good = _saved().entry()
    save_index([good], tmp_path)
    document = json.loads((tmp_path / "rooms.json").read_text("utf-8"))
    document += [{"room_id": "zz"}, 7, {**document[0], "port": -1}, document[0]]
    (tmp_path / "rooms.json").write_text(json.dumps(document), "utf-8")
    assert load_index(tmp_path) == [good]  # bad entries and the duplicate are skipped
    (tmp_path / "rooms.json").write_text("not json", "utf-8")
    assert load_index(tmp_path) == []
    assert load_index(tmp_path / "missing") == []


def test_an_index_entry_checks_every_field():
    with pytest.raises(ValueError):
        IndexEntry.checked(b"short", "x", "h", 1, "alice")
    with pytest.raises(ValueError):
        IndexEntry.checked(bytes(16), "x" * 81, "h", 1, "alice")


# -- the keyring thread ------------------------------------------------------------------------


class RecordingChain:
    """A keyring that keeps values in a dict and records every call (the real one, GNOME
    Keyring on a private bus, is in test_app_rooms_e2e.py)."""

    def __init__(self, fail_after_open: bool = False) -> None:
        self.values: dict[str, bytes] = {}
        self.calls: list[str] = []
        self.fail = fail_after_open

    def get(self, name: str) -> bytes | None:
        self.calls.append(f"get {name}")
        if self.fail:
            raise KeychainUnavailable("the keyring did not answer")
        return self.values.get(name)

    def set(self, name: str, value: bytes) -> None:
        self.calls.append(f"set {name}")
        self.values[name] = value

    def delete(self, name: str) -> None:
        self.calls.append(f"delete {name}")
        self.values.pop(name, None)

    def local_key(self) -> bytes:
        return b"k" * 32


def _memory(opener) -> tuple[RoomMemory, queue.SimpleQueue]:
    answers: queue.SimpleQueue = queue.SimpleQueue()
    memory = RoomMemory(answers.put, opener)
    memory.start()
    return memory, answers


def _next(answers: queue.SimpleQueue):
    _zero, event = answers.get(timeout=5)
    return event


def test_the_keyring_thread_saves_loads_and_forgets():
    chain = RecordingChain()
    memory, answers = _memory(lambda: chain)
    try:
        assert _next(answers) == MemoryOpened(True)
        first, second = _saved(1), _saved(2, "Work")
        memory.save(first)
        memory.save(second)
        memory.forget(second.room_id)
        memory.load([first.room_id, second.room_id])
        loaded = _next(answers)
        assert isinstance(loaded, RoomsLoaded)
        assert loaded.rooms == {first.room_id: first, second.room_id: None}
        memory.local_key()
        assert _next(answers) == LocalKey(b"k" * 32)
    finally:
        memory.stop()
    assert chain.calls[:3] == [
        f"set {keychain_name(first.room_id)}",
        f"set {keychain_name(second.room_id)}",
        f"delete {keychain_name(second.room_id)}",
    ]


def test_without_a_keyring_nothing_is_kept_and_loads_find_nothing():
    def unavailable():
        raise KeychainUnavailable("no keyring service is running or installed")

    memory, answers = _memory(unavailable)
    try:
        opened = _next(answers)
        assert opened.available is False
        assert opened.why.startswith("No keyring is available on this computer (")
        memory.save(_saved())
        memory.load([_keys().room_id])
        assert _next(answers) == RoomsLoaded({_keys().room_id: None})
        memory.local_key()
        assert _next(answers).key is None
    finally:
        memory.stop()


def test_a_keyring_that_stops_answering_is_said_and_loads_still_answer():
    chain = RecordingChain(fail_after_open=True)
    memory, answers = _memory(lambda: chain)
    try:
        assert _next(answers) == MemoryOpened(True)
        memory.load([_keys().room_id])
        assert isinstance(_next(answers), MemoryFailed)
        assert _next(answers) == RoomsLoaded({_keys().room_id: None})
    finally:
        memory.stop()


# -- the room list and Ctrl+K ----------------------------------------------------------------------


ROWS = [
    RoomRow(1, "Book club", RoomState.JOINED, 0),
    RoomRow(2, "Work · standup", RoomState.JOINED, 3),
    RoomRow(3, "Family", RoomState.FAILED, 0),
    RoomRow(4, "Old project", RoomState.CLOSED, 0),
    RoomRow(5, "Workshop", RoomState.CONNECTING, 0),
]


def test_matching_puts_names_that_start_with_it_first():
    assert [row.token for row in matching(ROWS, "work")] == [2, 5]
    assert [row.token for row in matching(ROWS, "shop")] == [5]
    assert [row.token for row in matching(ROWS, "O")] == [4, 1, 2, 5]
    assert matching(ROWS, "  ") == ROWS
    assert matching(ROWS, "nothing") == []


def test_what_a_room_may_be_called():
    from gui.app_room_menu import label_problem

    assert label_problem("Book club") is None
    assert label_problem("   ") == "Type a name."
    assert label_problem("x" * 81) == "At most 80 characters."
    assert label_problem("a\u200bb") == "Use visible characters only."


def test_rows_are_marked_by_state_and_hostile_labels_are_made_safe():
    assert row_text(ROWS[0]) == "Book club"
    assert row_text(ROWS[2]) == "⚠ Family"
    assert row_text(ROWS[3]) == "○ Old project"
    assert row_text(RoomRow(9, "a\u202eb\nc", RoomState.JOINED)) == "a⟨U+202E⟩b⟨U+000A⟩c"


@pytest.fixture
def room_list(root):
    chosen: list[int] = []
    entered: list[int] = []
    menus: list[int] = []
    widget = RoomList(
        root,
        on_choose=chosen.append,
        on_new=lambda: chosen.append(0),
        room_menu=lambda token: menus.append(token) or None,
        on_enter=entered.append,
    )
    widget.grid(row=0, column=0, sticky="nsew")
    widget.show(ROWS, current=1)
    root.update()
    widget.chosen, widget.entered, widget.menus = chosen, entered, menus
    return widget


def test_the_list_shows_rooms_unread_counts_and_the_current_one(room_list, root):
    tree = room_list.tree
    assert tree.get_children() == ("1", "2", "3", "4", "5")
    assert [str(value) for value in tree.item("2", "values")] == ["Work · standup", "3"]
    assert "unread" in tree.item("2", "tags")
    assert "failed" in tree.item("3", "tags") and "closed" in tree.item("4", "tags")
    assert room_list.selected() == 1
    # A new order and a room gone: the rows follow, the current one stays selected.
    room_list.show([ROWS[1], ROWS[0]], current=2)
    assert tree.get_children() == ("2", "1") and room_list.selected() == 2
    assert room_list.new_button.cget("text") == JOIN_OR_HOST


def test_the_list_from_the_keyboard(room_list, root):
    room_list.focus_list()
    room_list.tree.focus("1")
    root.update()
    room_list.tree.event_generate("<Down>")
    root.update()
    assert room_list.chosen[-1] == 2, "Down chooses the next room at once"
    room_list.tree.event_generate("<Return>")
    assert room_list.entered == [2]
    room_list.tree.event_generate("<Shift-F10>")
    assert room_list.menus == [2]


def test_ctrl_k_jumps_by_typing_part_of_a_name(root):
    jumped: list[int] = []
    dialog = JumpDialog(root, ROWS, on_jump=jumped.append)
    root.update()
    assert dialog.focus_get() is dialog.entry
    dialog.typed.set("wor")
    assert [row.token for row in dialog.shown] == [2, 5]
    assert dialog.listbox.get(0) == "Work · standup  (3)"
    dialog.entry.event_generate("<Down>")
    dialog.entry.event_generate("<Return>")
    assert jumped == [5] and not dialog.winfo_exists()


def test_ctrl_k_escape_closes_without_jumping(root):
    jumped: list[int] = []
    dialog = JumpDialog(root, ROWS, on_jump=jumped.append)
    root.update()
    dialog.entry.focus_force()
    pump_until(root, lambda: dialog.focus_get() is dialog.entry)
    dialog.entry.event_generate("<Escape>")
    root.update()
    assert jumped == [] and not dialog.winfo_exists()


def test_no_secret_in_the_repr_of_anything_the_app_logs():
    entry = _saved().entry()
    assert "access" not in repr(entry) and _keys().access.hex() not in repr(entry)
