"""The sentences file transfers say to a person (``ValueError`` texts and
``TransferFailed.detail``), beside :mod:`net.client.texts`, which words everything else.

Names here are local file names (the one sent, or the one saved to), never an offer's name as
the sender wrote it; callers still escape them before printing (``termtext.clean``).
"""

from __future__ import annotations

from net.client.filenames import describe_size

# -- refused at once (ValueError) ------------------------------------------------------------

NOT_JOINED = "Files can be sent once the room is joined."
FILES_OFF = "This room does not keep files: its relay turned them off."
UNKNOWN_OFFER = "That message is not a file this device has seen."
UNKNOWN_TRANSFER = "No such file transfer."


def file_missing(name: str) -> str:
    return f"There is no file named {name}."


def file_is_folder(name: str) -> str:
    return f"{name} is a folder; only a single file can be sent."


def file_not_regular(name: str) -> str:
    return f"{name} is not a regular file (a device, a pipe or a socket) and cannot be sent."


def file_unreadable(name: str, detail: str) -> str:
    return f"{name} cannot be read ({detail})."


def file_too_large(name: str, size: int, limit: int) -> str:
    return (
        f"{name} is too large for this room: {describe_size(size)}, and the room keeps files "
        f"up to about {describe_size(limit)}."
    )


def destination_exists(name: str) -> str:
    return f"{name} exists already; choose another name (nothing is ever overwritten)."


def part_exists(name: str) -> str:
    return f"{name} exists already (an unfinished download?); remove it or save under another name."


def no_folder(folder: str) -> str:
    return f"The folder {folder} does not exist."


def cannot_write(name: str, detail: str) -> str:
    return f"{name} cannot be written ({detail})."


def already_downloading(name: str) -> str:
    return f"That file is being saved already (as {name})."


# -- why a transfer failed (TransferFailed.detail) -------------------------------------------


def file_changed(name: str) -> str:
    return f"{name} changed while it was being sent; send it again."


def file_read_failed(name: str, detail: str) -> str:
    return f"Reading {name} failed ({detail})."


def write_failed(name: str, detail: str) -> str:
    return f"Writing {name} failed ({detail})."


def cancelled(upload: bool) -> str:
    return "Sending cancelled." if upload else "Download cancelled."


STOPPED = "The client stopped before the file was complete."
TOO_LARGE = "The relay refused the file: it is larger than this room keeps."
NO_SPACE = "The room's file storage is full of uploads still in progress; try again later."
TOO_MANY = "The relay holds too many unfinished uploads of yours; try again later."
RELAY_FILES_OFF = "The relay does not keep files for this room (any more)."
GONE = (
    "The relay no longer holds this file (it makes room for newer files, and keeps them only "
    "as long as messages)."
)
INCOMPLETE = "The relay holds only part of this file."
NOT_YOURS = "The relay refused the file's id; send it again."
OUTBOX_FULL = "The file was stored, but too many messages wait to be sent to offer it."
CORRUPT_CHUNK = (
    "A part of the file did not check out: it was altered on the way or on the relay. Nothing "
    "was saved."
)
CORRUPT_FILE = (
    "The file does not match the hash its sender gave: it was altered, or the sender's "
    "offer was wrong. Nothing was saved."
)
OUT_OF_ORDER = "The relay sent parts of the file that were not asked for. Nothing was saved."


def unknown_code(code: int) -> str:
    return f"The relay refused the file (code {code})."


def destination_appeared(name: str) -> str:
    return f"{name} appeared while the file was downloading; nothing was overwritten."
