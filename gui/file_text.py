"""What the conversation says about files and pictures, and the plain decisions behind it.

No Tk here: the words of a file's row (its name, size and kind), of a transfer's progress and
of its failures, the refusal of a file over the room's limit, the warning before saving a
program, whether a file offer is a picture to preview, and where Save… proposes to put a file.
Everything a file offer says (name, media type, size) is the sender's claim: names go through
``net.client.filenames.safe_name`` before they are shown, and a media type is never shown as
it came, only a kind from this module's own table.
"""

from __future__ import annotations

from pathlib import Path

from net.client import (
    FileOffer,
    TransferError,
    describe_size,
    is_executable,
    safe_name,
    sealed_size,
)

#: The pictures previewed in the conversation (their own file type decides: gui/pictures.py).
PICTURE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
#: Pictures larger than this are offered like any file (Save…), never fetched by themselves.
MAX_PREVIEW_BYTES = 10_000_000
NAME_CHARS = 60  # a longer name is shortened in the middle on screen (saved whole)

SEND_FILE = "Send a file…"
SAVE = "Save…"
CANCEL = "Cancel"
SHOW_IN_FOLDER = "Show in folder"
SEND_PICTURE = "Send picture"

_KINDS = {
    "image/png": "PNG picture",
    "image/jpeg": "JPEG picture",
    "image/gif": "GIF picture",
    "image/webp": "WebP picture",
    "application/pdf": "PDF document",
    "text/plain": "text",
    "application/zip": "ZIP archive",
    "audio/mpeg": "MP3 audio",
    "video/mp4": "MP4 video",
}


def is_picture_type(media_type: str) -> bool:
    """Whether ``media_type`` is one of the four picture types previewed."""
    return media_type.split(";", 1)[0].strip().casefold() in PICTURE_TYPES


def is_picture(offer: FileOffer) -> bool:
    """Whether ``offer`` is shown as a picture (fetched by itself and previewed): one of the
    four picture types and at most :data:`MAX_PREVIEW_BYTES`. The type is the sender's
    claim; the decoder (``gui/pictures.py``) checks what the file really is."""
    return is_picture_type(offer.media_type) and 0 < offer.size <= MAX_PREVIEW_BYTES


def shown_name(name: str) -> str:
    """A file's name as the conversation shows it: :func:`safe_name` (no path, no bidi
    tricks, no controls), then shortened in the middle past :data:`NAME_CHARS`, keeping the
    end, where the extension is."""
    name = safe_name(name)
    if len(name) <= NAME_CHARS:
        return name
    keep = NAME_CHARS - 1
    return name[: keep - keep // 3] + "…" + name[len(name) - keep // 3 :]


def kind_of(name: str, media_type: str) -> str:
    """What a file is, in a few words: from this module's table of common types, else its
    extension ("ODT file"); "program" for a type that runs when opened."""
    if is_executable(name, media_type):
        return "program"
    declared = media_type.split(";", 1)[0].strip().casefold()
    if declared in _KINDS:
        return _KINDS[declared]
    saved = safe_name(name)
    extension = saved.rpartition(".")[2] if "." in saved else ""
    if extension.isascii() and extension.isalnum() and len(extension) <= 8:
        return f"{extension.upper()} file"
    return "file"


def file_line(offer: FileOffer) -> str:
    """The line under a file's name: its size and kind (``"1.2 MB · PDF document"``)."""
    return file_line_for(offer.name, offer.size, offer.media_type)


def file_line_for(name: str, size: int, media_type: str) -> str:
    """:func:`file_line` of a file that is not an offer (one we send)."""
    return f"{describe_size(size)} · {kind_of(name, media_type)}"


def progress_text(done: int, total: int, *, upload: bool) -> str:
    """``"Sending… 1.2 MB of 3.4 MB"`` / ``"Saving… …"``."""
    doing = "Sending…" if upload else "Downloading…"
    return f"{doing} {describe_size(max(0, min(done, total)))} of {describe_size(total)}"


def largest_file(limit: int) -> int:
    """The largest file a room whose limit is ``limit`` bytes *as stored* takes (each 64,000
    bytes are stored with 40 more: ``net.proto.sealed_size``)."""
    low, high = 0, max(0, limit)  # sealed_size grows with the size: search between
    while low < high:
        middle = (low + high + 1) // 2
        if sealed_size(middle) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def too_large_text(name: str, size: int, limit: int) -> str:
    """Why a file is refused before anything is sent: the room's limit (``limit`` as the
    relay stores files), or files off. Sizes that round alike are given in bytes."""
    if limit <= 0:
        return "This room does not take files (its relay turned them off)."
    largest = largest_file(limit)
    shown, most = describe_size(size), describe_size(largest)
    if shown == most:
        shown, most = f"{size:,} bytes", f"{largest:,} bytes"
    return f"{shown_name(name)} is {shown}: this room takes files up to {most}. Nothing was sent."


def failure_text(reason: TransferError, *, upload: bool, detail: str = "") -> str:
    """A failed transfer in plain words. ``detail`` (the client's words, for IO) is local,
    never another person's text."""
    match reason:
        case TransferError.CANCELLED:
            return "Cancelled."
        case TransferError.TOO_LARGE:
            return "Too large for this room's file limit."
        case TransferError.NO_SPACE:
            return "The relay has no space for it now (other files are being sent). Try later."
        case TransferError.FILES_OFF:
            return "This room does not take files."
        case TransferError.GONE:
            return "No longer on the relay: ask for it to be sent again."
        case TransferError.CORRUPT:
            return "It arrived damaged or changed on the way, so it was not saved."
        case TransferError.IO:
            where = "read the file" if upload else "write the file"
            return f"Could not {where}" + (f": {detail}" if detail else ".")
        case TransferError.STOPPED:
            return "Stopped: the connection to the room ended. Try again once it is back."
    return "It did not work."  # a reason added to the client later


def executable_warning(name: str) -> tuple[str, str]:
    """The heading and text of the question before saving a file that runs when opened."""
    return (
        "This file is a program",
        f"{shown_name(name)} can run programs on this computer when it is opened. Save it "
        "only if you trust the sender and expected this file. SocketChat never opens it.",
    )


def downloads_folder(home: Path | None = None) -> Path:
    """Where Save… starts: the user's Downloads folder when it exists, else the home folder."""
    base = home if home is not None else Path.home()
    try:
        import platformdirs

        found = Path(platformdirs.user_downloads_dir())
    except Exception:  # no such folder known on this system
        found = base / "Downloads"
    if home is not None:
        found = base / "Downloads"
    return found if found.is_dir() else base


def saved_text(path: Path) -> str:
    return f"Saved to {path}"
