"""A room's messages written to a file the person chose: plain text, HTML or JSON.

Call :func:`export` with the messages to keep (oldest first, as :meth:`Archive.latest
<net.client.archive.Archive.latest>` and :meth:`~net.client.archive.Archive.before` give them)
and the path from a save dialog; :func:`format_for_path` picks the format from its suffix.

Every name and text came from another person and is hostile:

* text and HTML are for reading, so they go through :func:`net.client.termtext.clean`, which
  shows control characters (NUL, ESC), bidi overrides such as U+202E and other invisible
  characters as escapes like ``\\u202e``. A message's later lines are indented, so no text can
  start a line that passes for another message's header.
* the HTML document is escaped throughout with :func:`html.escape`, runs nothing (no script;
  a Content-Security-Policy allowing only its own style sheet, by hash), loads nothing, and
  links stay plain text: an exported chat must not become a phishing page.
* JSON is for programs, so it keeps every text exactly as it was (the JSON encoder escapes
  what JSON must); readers of that file must do their own neutralising.

Beyond plain text: a reply is written with the quote it carries (the replier's claim of what
it answers: "> bob: excerpt"), a private message says so and names the other person, a file
offer gives the file's name and size — never the key that opens the file, which only the
archive keeps — and a message of a type this version cannot show says its type.

Times are local in text and HTML (``[2026-11-29 14:03]``), ISO 8601 UTC in JSON. A timestamp
no calendar can show (a sender's clock is not trusted either) is written as unknown. The file
is written whole or not at all (a temporary file in the same folder, then :func:`os.replace`)
and is readable by its owner only: it holds what was end-to-end encrypted.
"""

from __future__ import annotations

import base64
import contextlib
import enum
import hashlib
import html
import json
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path

from net.client import events as ce
from net.client.archive import StoredMessage
from net.client.filenames import describe_size
from net.client.termtext import clean, collapse_spaces


class ExportFormat(enum.Enum):
    TEXT = "text"
    HTML = "html"
    JSON = "json"


_SUFFIXES = {
    ".txt": ExportFormat.TEXT,
    ".text": ExportFormat.TEXT,
    ".html": ExportFormat.HTML,
    ".htm": ExportFormat.HTML,
    ".json": ExportFormat.JSON,
}
_INDENT = "    "  # before every line of a message after its first, in the text file
_UNKNOWN_TIME = "time unknown"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

_STYLE = (
    "body{font:15px/1.45 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;"
    "color:#1c1c1c;background:#fff}"
    "h1{font-size:1.3em}.about{color:#666}"
    "ol{list-style:none;padding:0}li{margin:.6em 0}"
    "time{color:#666;font-size:.85em;margin-right:.5em}.sender{font-weight:600}"
    ".own .sender{color:#2a5db0}"
    ".text{white-space:pre-wrap;overflow-wrap:anywhere;margin:.1em 0 0 1.5em}"
    ".kind{color:#666;font-style:italic}"
    ".private{color:#7a3e9d;font-size:.85em;margin-left:.5em}"
    ".quote{border-left:3px solid #ccc;color:#555;margin:.2em 0 0 1.5em;padding-left:.5em;"
    "white-space:pre-wrap;overflow-wrap:anywhere}"
)
# Only this exact style sheet may apply; no script, image, font, frame or form of any origin.
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode("utf-8")).digest()).decode("ascii")
_CSP = f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; form-action 'none'"


def format_for_path(path: Path) -> ExportFormat:
    """The format a file name asks for (.txt, .html/.htm, .json); ``ValueError`` otherwise."""
    try:
        return _SUFFIXES[Path(path).suffix.lower()]
    except KeyError:
        raise ValueError("export files end in .txt, .html or .json") from None


def export(
    messages: Sequence[StoredMessage],
    *,
    room_label: str,
    fmt: ExportFormat,
    out: Path,
    now: datetime | None = None,
    tz: tzinfo | None = None,
) -> None:
    """Write ``messages`` to ``out`` in ``fmt``, replacing the file whole if it exists.

    ``now`` (the export time) and ``tz`` (the time zone of text and HTML; None: this
    computer's) exist for tests. ``OSError`` if the folder cannot be written; nothing is left
    behind then.
    """
    exported = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    if fmt is ExportFormat.TEXT:
        document = _text(messages, room_label, exported, tz)
    elif fmt is ExportFormat.HTML:
        document = _html(messages, room_label, exported, tz)
    elif fmt is ExportFormat.JSON:
        document = _json(messages, room_label, exported)
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    # Lone surrogates cannot be stored as UTF-8; the readable formats escaped them already.
    _write_atomically(Path(out), document.encode("utf-8", "replace"))


# -- times ----------------------------------------------------------------------------------


def _utc(timestamp_ms: int) -> datetime | None:
    try:
        return _EPOCH + timedelta(milliseconds=timestamp_ms)
    except OverflowError:
        return None


def _local(moment: datetime | None, tz: tzinfo | None) -> str:
    if moment is None:
        return _UNKNOWN_TIME
    try:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):  # the platform's local-time limits
        return _UNKNOWN_TIME


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- the formats ----------------------------------------------------------------------------


def _name(text: str) -> str:
    """A name or label on one line, every invisible character and long padding shown."""
    return collapse_spaces(clean(text))


def _other_kind(message: StoredMessage) -> bool:
    return isinstance(message.content, ce.UnknownContent | ce.FileContent)


def _lines(message: StoredMessage) -> list[str]:
    """The message's text as lines, each cleaned; a non-text message says what it was."""
    content = message.content
    if isinstance(content, ce.FileContent):
        offer = content.offer
        return [f"(file: {_name(offer.name)}, {describe_size(offer.size)})"]
    if isinstance(content, ce.UnknownContent):
        return [f"({_name(message.content_type)} message)"]
    return [clean(line) for line in message.text.replace("\r\n", "\n").split("\n")]


def _quote(message: StoredMessage) -> str | None:
    """A reply's quote on one line, cleaned: "> bob: excerpt" (the replier's claim)."""
    content = message.content
    if not isinstance(content, ce.ReplyContent):
        return None
    quoted = content.reply_to
    return f"> {_name(quoted.sender)}: {_name(quoted.excerpt)}"


def _private(message: StoredMessage) -> str | None:
    """ "private, to bob" (ours) or "private, to you" (theirs), or None for a room message."""
    if message.private_with is None:
        return None
    if message.private_with == message.signing_key:  # they wrote to the exporting person
        return "private, to you"
    return f"private, to {_name(message.private_name)}"


def _count(messages: Sequence[StoredMessage]) -> str:
    return f"{len(messages)} message{'' if len(messages) == 1 else 's'}"


def _zone(exported: datetime, tz: tzinfo | None) -> str:
    return exported.astimezone(tz).strftime("UTC%z")


def _text(
    messages: Sequence[StoredMessage], room_label: str, exported: datetime, tz: tzinfo | None
) -> str:
    out = [
        f"SocketChat room: {_name(room_label)}",
        f"Exported {_local(exported, tz)}, {_count(messages)}, "
        f"times in local time ({_zone(exported, tz)}).",
        "",
    ]
    for message in messages:
        lines = _lines(message)
        stamp = _local(_utc(message.timestamp_ms), tz)
        private = _private(message)
        who = _name(message.sender) + (f" ({private})" if private else "")
        quote = _quote(message)
        if quote is not None:  # the quote comes first, under the header, like the text
            lines = ["", quote, *lines]
        first, *rest = lines
        out.append(f"[{stamp}] {who}:{' ' + first if first else ''}")
        out.extend(_INDENT + line for line in rest)
    return "\n".join(out) + "\n"


def _html(
    messages: Sequence[StoredMessage], room_label: str, exported: datetime, tz: tzinfo | None
) -> str:
    label = html.escape(_name(room_label))
    out = [
        "<!DOCTYPE html>",
        "<html>",
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>SocketChat: {label}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>SocketChat room: <bdi>{label}</bdi></h1>",
        f'<p class="about">Exported {html.escape(_local(exported, tz))}, '
        f"{_count(messages)}, times in local time "
        f"({html.escape(_zone(exported, tz))}).</p>",
        '<ol class="messages">',
    ]
    for message in messages:
        iso = _iso(_utc(message.timestamp_ms))
        when = html.escape(_local(_utc(message.timestamp_ms), tz))
        stamp = f'<time datetime="{iso}">{when}</time>' if iso else f"<time>{when}</time>"
        kind = ' class="kind"' if _other_kind(message) else ""
        body = "\n".join(html.escape(line) for line in _lines(message))
        private = _private(message)
        marker = f'<bdi class="private">({html.escape(private)})</bdi>' if private else ""
        quote = _quote(message)
        quoted = f'<div class="quote"><bdi>{html.escape(quote)}</bdi></div>' if quote else ""
        out.append(
            f'<li class="message{" own" if message.own else ""}">{stamp}'
            f'<bdi class="sender">{html.escape(_name(message.sender))}</bdi>{marker}{quoted}'
            f'<div class="text"><bdi{kind}>{body}</bdi></div></li>'
        )
    out += ["</ol>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


def _json(messages: Sequence[StoredMessage], room_label: str, exported: datetime) -> str:
    document = {
        "room": room_label,
        "exported_at": _iso(exported),
        "messages": [
            {
                "id": message.message_id.hex(),
                "position": message.position,
                "sender": message.sender,
                "signing_key": message.signing_key.hex(),
                "time": _iso(_utc(message.timestamp_ms)),
                "timestamp_ms": message.timestamp_ms,
                "text": message.text,
                "content_type": message.content_type,
                "own": message.own,
                **_json_content(message),
            }
            for message in messages
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _json_content(message: StoredMessage) -> dict[str, object]:
    """What JSON adds for replies, files and private messages (never a file's key)."""
    extra: dict[str, object] = {}
    content = message.content
    if isinstance(content, ce.ReplyContent):
        extra["reply_to"] = {
            "id": content.reply_to.message_id.hex(),
            "sender": content.reply_to.sender,
            "excerpt": content.reply_to.excerpt,
        }
    elif isinstance(content, ce.FileContent):
        offer = content.offer
        extra["file"] = {"name": offer.name, "size": offer.size, "media_type": offer.media_type}
    if message.private_with is not None:
        extra["private"] = {
            "with": message.private_with.hex(),
            "name": message.private_name,
            "to_you": message.private_with == message.signing_key,
        }
    return extra


# -- writing --------------------------------------------------------------------------------


def _write_atomically(out: Path, data: bytes) -> None:
    # A temporary file in the same folder (so os.replace is a rename on one file system),
    # created owner-only by mkstemp, synced before it takes the name.
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name[:64]}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    # The rename itself survives a crash only once the folder is synced (POSIX; Windows
    # cannot open a folder this way, and NTFS journals the rename).
    with contextlib.suppress(OSError, AttributeError):
        folder = os.open(out.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
