"""File names that came from another person, made safe to save; and how to talk about files.

A file offer's name (``FileOffer.name``) is whatever the sender wrote: it may climb out of the
folder (``../../.bashrc``, ``C:\\Windows\\x``), name a device on Windows (``CON``, ``nul.txt``,
``COM¹``), hide its real extension behind a right-to-left override (``\\u202egnp.exe`` shows as
``exe.png``), end in dots or spaces that Windows silently drops, start with a dash that a tool
would read as an option, or be 10,000 characters long. Call :func:`safe_name` on it before it is
shown as a file name or used to save, then :func:`unique_path` to pick where it goes; warn
before saving when :func:`is_executable` says so.

:func:`media_type_for` and :func:`describe_size` serve the sending side and the display. Nothing
here touches Tk; only :func:`unique_path` looks at the disk.
"""

from __future__ import annotations

import mimetypes
import os
import re
import unicodedata
from pathlib import Path

__all__ = [
    "FALLBACK_NAME",
    "MAX_NAME_BYTES",
    "describe_size",
    "is_executable",
    "media_type_for",
    "safe_name",
    "unique_path",
]

MAX_NAME_BYTES = 200  # under every file system's 255, with room for " (12)" and ".part"
FALLBACK_NAME = "file"  # what a name with nothing safe left in it becomes
DEFAULT_MEDIA_TYPE = "application/octet-stream"
MAX_COPIES = 10_000  # "name (2).ext" … "name (10000).ext", then unique_path gives up

_SEPARATORS = re.compile(r"[/\\]")
_WINDOWS_FORBIDDEN = frozenset('<>:"|?*')
# Controls (C0, C1, DEL), format characters (bidi overrides and isolates, zero-width
# characters, the BOM, tags), surrogates (a lone one cannot even be encoded) and the line and
# paragraph separators: none belongs in a file name, and each can hide or reorder what it shows.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Leading dots would hide the file on Linux and macOS; a leading dash turns it into an option
# for whatever tool the name is handed to (`rm -rf.txt`); spaces at either end are invisible.
_LEADING_STRIPPED = " .-"
_TRAILING_STRIPPED = " ."  # Windows drops trailing dots and spaces, so "x.exe." is x.exe
_MAX_EXTENSION_BYTES = 16  # a longer "extension" is just part of the name, cut like the rest

# Windows' device names: reserved with any extension ("con.txt"), in any case, and also with
# trailing spaces before the dot ("nul .txt"). Windows reads the superscript digits ¹²³ as
# digits here, so COM¹ is a device too. COM0 and LPT0 are listed for the Windows versions that
# reserve them.
_DIGITS = "0123456789¹²³"
_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", "conin$", "conout$", "clock$"}
    | {f"{device}{digit}" for device in ("com", "lpt") for digit in _DIGITS}
)

# Extensions that run something when opened (Windows, Linux, macOS, Android, Java), install
# something, or mount a disk image whose contents then escape the download warning.
_EXECUTABLE_EXTENSIONS = frozenset(
    {
        # Windows programs, installers, scripts, shortcuts, control panel items, libraries
        "exe", "msi", "msp", "mst", "bat", "cmd", "com", "scr", "pif", "cpl", "dll", "sys",
        "ocx", "drv", "ps1", "psm1", "psd1", "ps1xml", "psc1", "ps2", "vb", "vbs", "vbe",
        "js", "jse", "mjs", "wsf", "wsh", "wsc", "ws", "hta", "lnk", "url", "scf", "inf",
        "ins", "isp", "reg", "msc", "gadget", "application", "appref-ms", "appx",
        "appxbundle", "msix", "msixbundle", "xbap", "chm", "hlp", "settingcontent-ms",
        # disk images Windows and macOS mount on a double click
        "iso", "img", "vhd", "vhdx", "dmg",
        # Office documents that carry macros
        "docm", "dotm", "xlsm", "xltm", "xlam", "pptm", "potm", "ppam", "sldm",
        # Java, Android
        "jar", "jnlp", "class", "apk", "xapk", "aab",
        # Linux and macOS programs, packages, launchers and scripts
        "sh", "bash", "zsh", "ksh", "csh", "fish", "run", "bin", "elf", "out", "so", "ko",
        "appimage", "deb", "rpm", "snap", "flatpakref", "desktop", "pkg", "mpkg", "app",
        "command", "tool", "workflow", "scpt", "dylib",
        # interpreters' scripts
        "py", "pyw", "pyc", "pyo", "pyz", "pyzw", "pl", "pm", "rb", "php", "lua", "tcl",
    }
)  # fmt: skip
_EXECUTABLE_MEDIA_TYPES = frozenset(
    {
        "application/x-msdownload",
        "application/x-msdos-program",
        "application/x-ms-installer",
        "application/x-msi",
        "application/x-ms-shortcut",
        "application/x-bat",
        "application/x-dosexec",
        "application/vnd.microsoft.portable-executable",
        "application/x-executable",
        "application/x-elf",
        "application/x-sharedlib",
        "application/x-pie-executable",
        "application/x-mach-binary",
        "application/x-sh",
        "application/x-shellscript",
        "application/x-csh",
        "text/x-shellscript",
        "text/x-sh",
        "application/x-desktop",
        "application/x-appimage",
        "application/vnd.appimage",
        "application/x-debian-package",
        "application/vnd.debian.binary-package",
        "application/x-rpm",
        "application/x-redhat-package-manager",
        "application/x-apple-diskimage",
        "application/x-iso9660-image",
        "application/java-archive",
        "application/x-java-archive",
        "application/x-java-jnlp-file",
        "application/vnd.android.package-archive",
        "application/hta",
        "application/javascript",
        "application/x-javascript",
        "text/javascript",
        "application/ecmascript",
        "text/vbscript",
        "application/x-vbscript",
        "application/x-powershell",
        "application/x-python",
        "application/x-python-code",
        "text/x-python",
        "text/x-script.python",
        "application/x-perl",
        "text/x-perl",
        "application/x-ruby",
        "text/x-ruby",
        "application/x-php",
        "application/x-msdos-windows",
        "application/x-ms-application",
    }
)

# The standard library's own table, not the machine's: mimetypes.guess_type also reads
# /etc/mime.types and the Windows registry, which differ between machines (and the registry
# has been known to map .js to text/plain). A few types newer than Python 3.10's table:
_MEDIA_TYPES = mimetypes.MimeTypes()
for _extension, _type in {
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".heic": "image/heic",
    ".md": "text/markdown",
    ".7z": "application/x-7z-compressed",
    ".opus": "audio/opus",
    ".flac": "audio/flac",
}.items():
    _MEDIA_TYPES.add_type(_type, _extension)


def safe_name(name: str) -> str:
    """A file name that cannot leave its folder or misbehave on Windows or Linux.

    Keeps only what follows the last ``/`` or ``\\``; drops control, format (bidi) and
    separator characters and those Windows forbids; strips leading dots, dashes and spaces
    and trailing dots and spaces; prefixes a Windows device name (``CON``, ``com1.txt``) with
    ``_``; normalises to NFC; cuts it to :data:`MAX_NAME_BYTES` of UTF-8, keeping a short
    extension. Nothing left gives :data:`FALLBACK_NAME`. The same input always gives the same
    output, and ``safe_name(safe_name(x)) == safe_name(x)``.
    """
    name = _SEPARATORS.split(name)[-1]  # "C:\x" keeps "x"; "a/.." keeps ".." (dropped below)
    name = "".join(_kept(char) for char in unicodedata.normalize("NFC", name))
    name = _trimmed(unicodedata.normalize("NFC", name))  # again: a dropped char may join two
    name = _trimmed(_cut(name, MAX_NAME_BYTES))
    if _is_device(name):
        name = _trimmed(_cut("_" + name, MAX_NAME_BYTES))
    return name or FALLBACK_NAME


def unique_path(folder: Path, name: str) -> Path:
    """A path directly inside ``folder`` that nothing occupies yet: ``name``, else
    ``name (2).ext``, ``name (3).ext`` … Pass a name from :func:`safe_name`.

    A name that would resolve anywhere but directly inside ``folder`` (empty, ``..``, an
    absolute path, a separator, a Windows device) raises ``ValueError``. Whatever is there
    already counts as occupied, a symbolic link too (even a dangling one), so nothing is ever
    written through one.
    The answer is only a proposal: open it with mode ``"xb"`` (it fails if someone took the
    name meanwhile; then ask again). Raises ``FileExistsError`` after :data:`MAX_COPIES`.
    """
    if name in ("", ".", "..") or _SEPARATORS.search(name) or "\0" in name:
        raise ValueError(f"{name!r} is not a plain file name")
    base = folder.resolve()
    stem, extension = _split_for_copies(name)
    for copy in range(1, MAX_COPIES + 1):
        wanted = name if copy == 1 else f"{stem} ({copy}){extension}"
        candidate = folder / wanted
        if os.path.lexists(candidate):  # a file, a folder, a link (even a dangling one)
            continue
        # Resolving catches what the name alone does not show: a Windows device (CON
        # resolves to \\.\CON) or a name the OS reads as another path.
        if candidate.name != wanted or candidate.resolve().parent != base:
            raise ValueError(f"{wanted!r} does not name a file inside {base}")
        return candidate
    raise FileExistsError(f"{MAX_COPIES} files named like {name!r} already exist in {folder}")


def is_executable(name: str, media_type: str) -> bool:
    """Whether a received file runs something when opened, so the app warns before saving.

    Judges the name as it will be saved (:func:`safe_name`: ``x.exe.`` is ``x.exe``), by its
    last extension in any case (``photo.jpg.exe`` is a program), and the sender's declared
    media type; either one is enough. Both come from the sender: this warns, it proves nothing.
    """
    saved = safe_name(name)
    extension = saved.rpartition(".")[2].casefold() if "." in saved else ""
    declared = media_type.split(";", 1)[0].strip().casefold()
    return extension in _EXECUTABLE_EXTENSIONS or declared in _EXECUTABLE_MEDIA_TYPES


def media_type_for(path: Path) -> str:
    """The media type to declare for a file we send, from its name's extension; the same on
    every machine (Python's own table); ``application/octet-stream`` when unknown."""
    media_type, _encoding = _MEDIA_TYPES.guess_type(path.name, strict=False)
    return media_type or DEFAULT_MEDIA_TYPE


def describe_size(n: int) -> str:
    """A size for people: ``"1 byte"``, ``"512 bytes"``, ``"1.2 MB"``, ``"340 kB"`` (powers of
    1000, as file managers show them; one decimal below 100)."""
    if n < 0:
        raise ValueError(f"a size cannot be negative: {n}")
    if n < 1000:
        return "1 byte" if n == 1 else f"{n} bytes"
    value = float(n)
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        value /= 1000
        shown = f"{value:.1f}" if value < 99.95 else f"{value:.0f}"
        if float(shown) < 1000 or unit == "PB":
            return f"{shown} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def _kept(char: str) -> str:
    """``char`` as it may stay in a name: dropped (""), or a plain space for any space."""
    category = unicodedata.category(char)
    if category in _DROPPED_CATEGORIES or char in _WINDOWS_FORBIDDEN:
        return ""
    if category == "Zs":  # no-break, ideographic, em… spaces: one ordinary space each
        return " "
    return char


def _trimmed(name: str) -> str:
    """Without leading dots, dashes and spaces or trailing dots and spaces; ``.``/``..``
    become empty."""
    return name.lstrip(_LEADING_STRIPPED).rstrip(_TRAILING_STRIPPED).lstrip(_LEADING_STRIPPED)


def _cut(name: str, limit: int) -> str:
    """``name`` in at most ``limit`` bytes of UTF-8, cut at a character boundary; a short
    extension (after the last dot) is kept whole and the part before it shortened."""
    encoded = name.encode("utf-8")
    if len(encoded) <= limit:
        return name
    stem, dot, extension = name.rpartition(".")
    tail = (dot + extension).encode("utf-8")
    if not stem or len(tail) > _MAX_EXTENSION_BYTES + 1:
        return encoded[:limit].decode("utf-8", errors="ignore")
    kept = stem.encode("utf-8")[: limit - len(tail)].decode("utf-8", errors="ignore")
    return kept.rstrip(_TRAILING_STRIPPED) + dot + extension


def _is_device(name: str) -> bool:
    """Whether Windows reads ``name`` as a device: the part before the first dot, without
    trailing spaces, is a reserved name in any case."""
    return name.partition(".")[0].rstrip(" ").casefold() in _RESERVED


def _split_for_copies(name: str) -> tuple[str, str]:
    """(stem, extension) where " (2)" goes between: ``a.jpg`` → a, .jpg; ``a.tar.gz`` → a,
    .tar.gz; no extension (or only a dot file's name) → the whole name, ""."""
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension.encode("utf-8")) > _MAX_EXTENSION_BYTES:
        return name, ""
    if stem.casefold().endswith(".tar") and len(stem) > len(".tar"):
        return stem[: -len(".tar")], name[len(stem) - len(".tar") :]
    return stem, dot + extension
