"""Remembered settings: host, port, name and sound, never a password; no display needed."""

from __future__ import annotations

import dataclasses
import json

from gui.settings import DEFAULT_PORT, Settings, config_dir, load_settings, save_settings


def test_defaults_when_nothing_is_saved(tmp_path):
    assert load_settings(tmp_path) == Settings(host="", port=DEFAULT_PORT, username="")


def test_round_trip_with_unicode(tmp_path):
    settings = Settings(host="bücher.example", port=7000, username="Zoé 🦊", sound=True)
    save_settings(settings, tmp_path / "new")
    assert load_settings(tmp_path / "new") == settings


def test_there_is_no_password_field():
    assert "password" not in {field.name for field in dataclasses.fields(Settings)}


def test_damaged_files_fall_back_field_by_field(tmp_path):
    (tmp_path / "settings.json").write_text("{not json", encoding="utf-8")
    assert load_settings(tmp_path) == Settings()
    (tmp_path / "settings.json").write_text(
        json.dumps({"host": 5, "port": True, "username": "bob", "password": "x"}), encoding="utf-8"
    )
    assert load_settings(tmp_path) == Settings(username="bob")
    (tmp_path / "settings.json").write_text(json.dumps({"port": 70000}), encoding="utf-8")
    assert load_settings(tmp_path).port == DEFAULT_PORT
    (tmp_path / "settings.json").write_text("[]", encoding="utf-8")
    assert load_settings(tmp_path) == Settings()


def test_saving_where_it_cannot_write_is_silent(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    save_settings(Settings(host="x"), blocker / "sub")  # a file where a folder should be: no error
    assert blocker.read_text(encoding="utf-8") == "not a folder"  # what was in the way is intact
    assert [path.name for path in tmp_path.iterdir()] == ["file"]  # nothing written elsewhere
    assert load_settings(blocker / "sub") == Settings()  # the next start just has the defaults


def test_config_dir_is_the_per_user_socketchat_folder():
    assert config_dir().name == "SocketChat"


def test_theme_zoom_and_muted_rooms_round_trip(tmp_path):
    settings = Settings(
        theme="dark", zoom=3, muted_rooms=("chat.example.org:7777", "your room:7777")
    )
    save_settings(settings, tmp_path)
    assert load_settings(tmp_path) == settings


def test_bad_theme_zoom_and_muted_rooms_fall_back(tmp_path):
    (tmp_path / "settings.json").write_text(
        json.dumps(
            {
                "theme": "neon",
                "zoom": 500,
                "muted_rooms": ["a:1", 7, None, "b:2", "x" * 1000],
            }
        ),
        encoding="utf-8",
    )
    loaded = load_settings(tmp_path)
    assert loaded.theme == "system"
    assert loaded.zoom == 12
    assert loaded.muted_rooms == ("a:1", "b:2")
    (tmp_path / "settings.json").write_text(
        json.dumps({"muted_rooms": "a:1", "zoom": True}), encoding="utf-8"
    )
    assert load_settings(tmp_path) == Settings()


def test_room_keys_ignore_case_and_spaces():
    from gui.settings import room_key

    assert room_key(" Chat.Example.ORG ", 7777) == "chat.example.org:7777"
