"""net/client/filenames.py: hostile file names made safe, where they are saved, what warns."""

from __future__ import annotations

import os
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from net.client.filenames import (
    FALLBACK_NAME,
    MAX_NAME_BYTES,
    describe_size,
    is_executable,
    media_type_for,
    safe_name,
    unique_path,
)

WINDOWS_FORBIDDEN = set('<>:"|?*')
DEVICES = {"con", "prn", "aux", "nul", "conin$", "conout$", "clock$"} | {
    f"{device}{digit}" for device in ("com", "lpt") for digit in "0123456789¹²³"
}


def assert_safe(name: str) -> None:
    """Everything safe_name promises, checked on its output without using its helpers."""
    assert name
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    assert "/" not in name and "\\" not in name
    assert name not in (".", "..")
    assert not WINDOWS_FORBIDDEN & set(name)
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in name)
    assert not name.endswith((".", " "))
    assert not name.startswith(("-", ".", " "))
    assert name.partition(".")[0].rstrip(" ").casefold() not in DEVICES
    assert unicodedata.is_normalized("NFC", name)


# --- safe_name: the hostile names -------------------------------------------------------------


@pytest.mark.parametrize(
    ("hostile", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\system32", "system32"),
        ("C:\\x", "x"),
        ("C:x.txt", "Cx.txt"),  # a drive-relative path on Windows: the colon goes
        ("/abs", "abs"),
        ("\\\\server\\share\\doc.pdf", "doc.pdf"),
        ("a/..", FALLBACK_NAME),
        ("..", FALLBACK_NAME),
        (".", FALLBACK_NAME),
        ("CON", "_CON"),
        ("con.txt", "_con.txt"),
        ("Con.Tar.Gz", "_Con.Tar.Gz"),
        ("LPT9.log", "_LPT9.log"),
        ("nul", "_nul"),
        ("nul .txt", "_nul .txt"),  # Windows trims the spaces before the dot: still NUL
        ("COM¹", "_COM¹"),
        ("lpt³.doc", "_lpt³.doc"),
        ("CONOUT$", "_CONOUT$"),
        ("console.txt", "console.txt"),  # only the exact device names
        ("com10", "com10"),
        ("a\x00b", "ab"),
        ("a\x1b[31mred", "a[31mred"),  # a terminal escape loses its ESC
        ("tab\there\nnew\rline", "tabherenewline"),
        ("c1\x85\x9bdel\x7f", "c1del"),
        ("\u202egnp.exe", "gnp.exe"),  # shows as "exe.png" with the override
        ("photo\u202e\u2066gpj.exe\u2069", "photogpj.exe"),
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("line\u2028para\u2029", "linepara"),
        ('a<b>c:d"e|f?g*h.txt', "abcdefgh.txt"),
        ("trailing. . .", "trailing"),
        ("report.pdf.   ", "report.pdf"),
        ("   spaced   ", "spaced"),
        ("-rf", "rf"),
        ("--help.txt", "help.txt"),
        ("- .-x", "x"),
        (".bashrc", "bashrc"),  # not hidden from the person who saved it
        ("...", FALLBACK_NAME),
        ("   ", FALLBACK_NAME),
        ("", FALLBACK_NAME),
        ("\u202e\u200b\x00", FALLBACK_NAME),
        ("<>:|?*", FALLBACK_NAME),
        ("../../", FALLBACK_NAME),
        ("\u00a0no\u3000break\u2003here.txt", "no break here.txt"),  # odd spaces become plain ones
        ("🎉 party 🎈.png", "🎉 party 🎈.png"),
        ("naïve café.txt", "naïve café.txt"),
        ("Ελληνικά ファイル.txt", "Ελληνικά ファイル.txt"),
        ("e\u0301te\u0301.txt", "été.txt"),  # combining accents composed (NFC)
        ("e\u200b\u0301.txt", "é.txt"),  # the dropped character let the accent compose
        ("q\u0307\u0323.txt", "q\u0323\u0307.txt"),  # no precomposed form: canonical order
    ],
)
def test_safe_name_of_a_hostile_name(hostile, expected):
    assert safe_name(hostile) == expected
    assert_safe(safe_name(hostile))


def test_a_name_of_ten_thousand_characters_keeps_its_extension():
    name = safe_name("x" * 10_000 + ".jpg")

    assert len(name.encode("utf-8")) == MAX_NAME_BYTES
    assert name == "x" * (MAX_NAME_BYTES - 4) + ".jpg"


def test_a_long_name_of_multibyte_characters_is_cut_between_characters():
    name = safe_name("ф" * 5_000 + ".txt")  # two bytes each: a cut in the middle of one...

    assert name.endswith(".txt")
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    assert name.removesuffix(".txt") == "ф" * ((MAX_NAME_BYTES - 4) // 2)  # ...drops it


def test_a_long_emoji_name_stays_valid_utf8():
    name = safe_name("🎉" * 3_000)

    assert name == "🎉" * (MAX_NAME_BYTES // 4)


def test_a_huge_extension_is_cut_like_the_rest_of_the_name():
    name = safe_name("a." + "b" * 10_000)

    assert name == ("a." + "b" * 10_000)[:MAX_NAME_BYTES]


def test_a_cut_that_ends_in_spaces_or_dots_is_trimmed():
    name = safe_name("a" * (MAX_NAME_BYTES - 6) + " . . . . . ." + "z" * 50 + ".txt")

    assert name.endswith("a.txt")
    assert_safe(name)


def test_a_long_device_name_stays_within_the_limit():
    name = safe_name("con." + "x" * 10_000)

    assert name.startswith("_con.")
    assert len(name.encode("utf-8")) == MAX_NAME_BYTES


@given(st.text(max_size=400))
@settings(max_examples=600, deadline=None)
def test_any_text_becomes_a_safe_name_and_stays_it(text):
    name = safe_name(text)

    assert_safe(name)
    assert safe_name(name) == name  # idempotent: showing it, then saving it, agree


DANGEROUS_PIECES = ["..", ".", "/", "\\", " ", "-", "con", "NUL", "¹", "\u202e", "\x00", ":"]


@given(st.lists(st.sampled_from([*DANGEROUS_PIECES, "a", "é", "e\u0301", ".txt"]), max_size=30))
@settings(max_examples=600, deadline=None)
def test_names_built_from_the_dangerous_pieces_are_safe(pieces):
    name = safe_name("".join(pieces))

    assert_safe(name)
    assert safe_name(name) == name


# --- unique_path -----------------------------------------------------------------------------


def test_unique_path_is_the_name_when_free(tmp_path):
    assert unique_path(tmp_path, "a.txt") == tmp_path / "a.txt"
    assert not (tmp_path / "a.txt").exists()  # it only proposes


def test_unique_path_counts_copies_before_the_extension(tmp_path):
    (tmp_path / "photo.jpg").write_bytes(b"1")
    (tmp_path / "photo (2).jpg").write_bytes(b"2")

    assert unique_path(tmp_path, "photo.jpg") == tmp_path / "photo (3).jpg"


@pytest.mark.parametrize(
    ("name", "second"),
    [
        ("notes", "notes (2)"),
        ("backup.tar.gz", "backup (2).tar.gz"),
        ("bashrc", "bashrc (2)"),
        ("a.very-long-not-an-extension", "a.very-long-not-an-extension (2)"),
    ],
)
def test_unique_path_copy_names(tmp_path, name, second):
    (tmp_path / name).write_bytes(b"")

    assert unique_path(tmp_path, name).name == second


def test_unique_path_treats_a_folder_as_taken(tmp_path):
    (tmp_path / "x").mkdir()

    assert unique_path(tmp_path, "x") == tmp_path / "x (2)"


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges on Windows")
def test_unique_path_never_proposes_a_symbolic_link_even_a_dangling_one(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "evil.txt").symlink_to(outside / "not-yet-there.txt")  # dangling
    (folder / "evil (2).txt").symlink_to(outside)

    path = unique_path(folder, "evil.txt")

    assert path == folder / "evil (3).txt"
    assert path.resolve().parent == folder.resolve()


@pytest.mark.parametrize(
    "name", ["../escape.txt", "..", ".", "", "/etc/passwd", "sub/x.txt", "a\\b", "a\0b"]
)
def test_unique_path_refuses_a_name_that_is_not_plain(tmp_path, name):
    with pytest.raises(ValueError):
        unique_path(tmp_path, name)


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges on Windows")
def test_unique_path_works_in_a_folder_reached_through_a_link(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)

    assert unique_path(link, "a.txt") == link / "a.txt"


def test_unique_path_gives_up_after_so_many_copies(tmp_path, monkeypatch):
    from net.client import filenames

    monkeypatch.setattr(filenames, "MAX_COPIES", 3)
    for name in ("a.txt", "a (2).txt", "a (3).txt"):
        (tmp_path / name).write_bytes(b"")

    with pytest.raises(FileExistsError):
        unique_path(tmp_path, "a.txt")


def test_every_safe_name_of_a_hostile_name_has_a_unique_path_inside(tmp_path):
    for hostile in ("../../etc/passwd", "C:\\x", "CON", "\u202egnp.exe", "..", "x" * 10_000):
        path = unique_path(tmp_path, safe_name(hostile))
        with open(path, "xb") as file:  # as the downloader opens it
            file.write(b"ok")
        assert path.resolve().parent == tmp_path.resolve()
    assert len(os.listdir(tmp_path)) == 6


# --- is_executable ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "setup.exe",
        "SETUP.EXE",
        "photo.jpg.exe",
        "invoice.pdf.scr",
        "x.msi",
        "run.bat",
        "run.CMD",
        "script.ps1",
        "a.vbs",
        "a.js",
        "a.jse",
        "a.wsf",
        "a.hta",
        "shortcut.lnk",
        "app.jar",
        "install.sh",
        "x.bash",
        "x.run",
        "x.bin",
        "Tool.AppImage",
        "pkg.deb",
        "pkg.rpm",
        "launcher.desktop",
        "tool.py",
        "tool.pyw",
        "x.pl",
        "x.rb",
        "app.apk",
        "image.dmg",
        "x.pkg",
        "x.app",
        "x.reg",
        "x.cpl",
        "lib.dll",
        "lib.so",
        "disk.iso",
        "macro.docm",
        "x.exe.",  # Windows drops the trailing dot
        "x.exe  ",
        "\u202egnp.exe",
        "x.e\u200bxe",  # a zero-width space the saved name will not have
        "../../x.bat",
    ],
)
def test_executables_are_recognised_by_name(name):
    assert is_executable(name, "application/octet-stream")


@pytest.mark.parametrize(
    "media_type",
    [
        "application/x-msdownload",
        "application/x-executable",
        "application/x-sh",
        "application/java-archive",
        "application/vnd.android.package-archive",
        "application/vnd.microsoft.portable-executable",
        "Application/X-MSDownload; charset=binary",
        "text/javascript",
        "text/x-python",
    ],
)
def test_executables_are_recognised_by_declared_media_type(media_type):
    assert is_executable("harmless.txt", media_type)


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("photo.jpg", "image/jpeg"),
        ("notes.txt", "text/plain"),
        ("report.pdf", "application/pdf"),
        ("song.mp3", "audio/mpeg"),
        ("archive.zip", "application/zip"),
        ("exe.txt", "text/plain"),  # the name may say exe, the extension does not
        ("setup.exe.txt", "text/plain"),
        ("Makefile", "application/octet-stream"),
        ("", ""),
    ],
)
def test_ordinary_files_are_not_executables(name, media_type):
    assert not is_executable(name, media_type)


# --- media_type_for and describe_size --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.png", "image/png"),
        ("A.JPG", "image/jpeg"),
        ("a.jpeg", "image/jpeg"),
        ("a.gif", "image/gif"),
        ("a.webp", "image/webp"),
        ("a.txt", "text/plain"),
        ("a.pdf", "application/pdf"),
        ("a.zip", "application/zip"),
        ("noextension", "application/octet-stream"),
        ("a.unknownext", "application/octet-stream"),
    ],
)
def test_media_type_for(name, expected):
    assert media_type_for(Path("/some/where") / name) == expected


def test_media_type_for_ignores_the_folder(tmp_path):
    assert media_type_for(tmp_path / "x.png" / "y") == "application/octet-stream"


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (512, "512 bytes"),
        (999, "999 bytes"),
        (1000, "1.0 kB"),
        (1234, "1.2 kB"),
        (99_949, "99.9 kB"),
        (99_950, "100 kB"),
        (340_000, "340 kB"),
        (999_499, "999 kB"),
        (999_999, "1.0 MB"),  # not "1000 kB"
        (1_234_567, "1.2 MB"),
        (104_857_600, "105 MB"),  # the relay's default file limit, 100 MiB
        (5_000_000_000, "5.0 GB"),
        (10**18, "1000 PB"),
    ],
)
def test_describe_size(size, expected):
    assert describe_size(size) == expected


def test_describe_size_refuses_a_negative_size():
    with pytest.raises(ValueError):
        describe_size(-1)
