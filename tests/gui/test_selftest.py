"""SOCKETCHAT_SELFTEST=1: from source here; tests/packaging runs it in the frozen app."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_selftest_loads_theme_icon_and_word_list_from_source(root, tmp_path):
    from gui import selftest

    facts, problems = selftest.check(root)

    assert problems == []
    assert "theme=sun-valley-light" in facts
    assert "icons=6" in facts
    assert "skeleton=ok" in facts
    assert "pictures=ok" in facts
    assert any(fact.startswith("drop=ok (tkdnd ") for fact in facts)


def test_selftest_through_main_py(root, tmp_path):
    # `root` only proves a display is there; the self-test makes its own in a new process.
    env = dict(os.environ, SOCKETCHAT_SELFTEST="1")
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("selftest ok: theme=sun-valley-light icons=6 ")
    assert "frozen=False" in result.stdout
    assert "skeleton=ok" in result.stdout
    assert "pictures=ok" in result.stdout


def test_selftest_reports_a_missing_icon(root, monkeypatch, tmp_path):
    from gui import icon, selftest

    monkeypatch.setattr(icon, "assets_dir", lambda: tmp_path)
    monkeypatch.setattr(selftest, "assets_dir", lambda: tmp_path)

    _facts, problems = selftest.check(root)

    assert any("icon sizes loaded" in problem for problem in problems)
    assert any("icon.ico" in problem for problem in problems)


def test_selftest_without_a_display_exits_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["SOCKETCHAT_SELFTEST"] = "1"
    if sys.platform == "win32":
        pytest.skip("Windows always has a display")
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert "no display" in result.stderr
    assert "Traceback" not in result.stderr


def test_selftest_reports_missing_confusables_data(monkeypatch):
    # As in a bundle built without confusables.json: the data cannot be read.
    from gui import selftest
    from net.proto import _names, _names_data

    def missing() -> dict[str, list[str]]:
        raise FileNotFoundError("no confusables.json in the bundle")

    monkeypatch.setattr(_names_data, "read_confusable_pairs", missing)
    _names_data.prototypes.cache_clear()
    _names.name_skeleton.cache_clear()
    try:
        problem = selftest.check_name_data()
    finally:
        _names_data.prototypes.cache_clear()
        _names.name_skeleton.cache_clear()

    assert problem == "confusables data: no confusables.json in the bundle"


def test_selftest_reports_a_picture_format_that_cannot_be_decoded(root, monkeypatch):
    # As in a bundle that left out the WebP plugin: Pillow has no decoder for it.
    from PIL import Image

    from gui import selftest

    monkeypatch.delitem(Image.OPEN, "WEBP")

    facts, problems = selftest.check(root)

    assert "pictures=FAILED" in facts
    assert any(problem.startswith("pictures: WEBP: ") for problem in problems), problems
