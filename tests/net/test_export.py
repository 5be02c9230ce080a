"""net.client.export with hostile names and texts: markup, quotes, bidi overrides, NUL and ESC,
a 10,000-line message, emoji, and timestamps no calendar can show."""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from net import proto
from net.client import events as ce
from net.client.archive import StoredMessage
from net.client.content import quoted, reply_body
from net.client.export import ExportFormat, export, format_for_path

encode_offer = proto.encode_file_offer

ROOM = b"R" * 16
NOW = datetime(2026, 11, 29, 14, 30, tzinfo=timezone.utc)
CET = timezone(timedelta(hours=1))
T0 = int(datetime(2026, 11, 29, 13, 3, 7, 250000, tzinfo=timezone.utc).timestamp() * 1000)
SCRIPT = "<script>alert('x')</script>"
QUOTES = "\"quoted\" 'single' & ampersand"
RLO = "\u202e"
NUL_ESC = "nul\x00 esc\x1b[31m red"
LONG = "\n".join(f"line {n}" for n in range(10_000))
EMOJI = "👩‍💻 ❤️ 🏳️‍🌈 1️⃣"
LINK = "https://evil.example/login"


def msg(number: int, **fields: object) -> StoredMessage:
    values: dict[str, object] = {
        "room_id": ROOM,
        "message_id": number.to_bytes(16, "big"),
        "position": number or None,
        "sender": "alice",
        "signing_key": bytes([number]) * 32,
        "timestamp_ms": T0 + number * 60_000,
        "text": f"message {number}",
        "own": False,
    }
    values.update(fields)
    return StoredMessage(**values)  # type: ignore[arg-type]


HOSTILE = [
    msg(0, text="hello"),
    msg(1, sender=SCRIPT, text=SCRIPT),
    msg(2, sender=f"bob{RLO}evil", text=f"{QUOTES} {RLO}txt.exe", own=True),
    msg(3, sender="mallory\n[2026-11-29 14:09] alice", text=NUL_ESC),
    msg(4, text=LONG),
    msg(5, sender="zoë 👩‍💻", text=EMOJI),
    msg(6, text=f"see {LINK} now"),
    msg(7, text="fake\n[2026-11-29 14:10] alice: I owe you money"),
    msg(8, text="", content_type="image/png"),
    msg(9, timestamp_ms=2**63 - 1, text="from the far future"),
]


def write(tmp_path: Path, fmt: ExportFormat, messages=HOSTILE, label="Room <b>&"):
    out = tmp_path / f"export.{fmt.value}"
    export(messages, room_label=label, fmt=fmt, out=out, now=NOW, tz=CET)
    return out.read_text(encoding="utf-8")


def test_format_for_path():
    assert format_for_path(Path("a.txt")) is ExportFormat.TEXT
    assert format_for_path(Path("a.HTML")) is ExportFormat.HTML
    assert format_for_path(Path("dir.d/a.htm")) is ExportFormat.HTML
    assert format_for_path(Path("a.json")) is ExportFormat.JSON
    for bad in ("a", "a.exe", "a.txt.gz", ".json"):
        with pytest.raises(ValueError):
            format_for_path(Path(bad))


# -- text -------------------------------------------------------------------------------------


def test_text_lines_look_like_the_brief(tmp_path):
    text = write(tmp_path, ExportFormat.TEXT, [msg(0, text="hello")], label="friends")
    assert text.splitlines() == [
        "SocketChat room: friends",
        "Exported 2026-11-29 15:30, 1 message, times in local time (UTC+0100).",
        "",
        "[2026-11-29 14:03] alice: hello",
    ]


def test_text_neutralises_controls_and_bidi(tmp_path):
    text = write(tmp_path, ExportFormat.TEXT)
    for bad in ("\x00", "\x1b", RLO, "\r"):
        assert bad not in text
    assert "bob\\u202eevil" in text
    assert "nul\\x00 esc\\x1b[31m red" in text
    assert EMOJI in text  # emoji glue is kept


def test_text_no_message_line_can_pass_for_a_header(tmp_path):
    text = write(tmp_path, ExportFormat.TEXT)
    headers = [line for line in text.splitlines() if line.startswith("[")]
    assert len(headers) == len(HOSTILE)  # one per message, no more
    assert "    [2026-11-29 14:10] alice: I owe you money" in text.splitlines()
    assert "mallory\\n[2026-11-29 14:09] alice" in text
    assert "[time unknown] alice: from the far future" in text
    assert "(image/png message)" in text
    assert text.count("\n    line ") == 9_999


# -- HTML -------------------------------------------------------------------------------------


class Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend(attrs)

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_a_standalone_document_with_everything_escaped(tmp_path):
    page = write(tmp_path, ExportFormat.HTML)
    assert page.startswith('<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n')
    assert page.rstrip().endswith("</html>")
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&quot;quoted&quot; &#x27;single&#x27; &amp; ampersand" in page
    assert "Room &lt;b&gt;&amp;" in page
    parsed = Collector()
    parsed.feed(page)
    assert set(parsed.tags) <= {
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "h1",
        "bdi",
        "p",
        "ol",
        "li",
        "time",
        "div",
    }
    assert "a" not in parsed.tags  # links stay text
    assert not any(
        name.startswith("on") or name in ("href", "src") for name, _ in parsed.attributes
    )
    assert LINK in "".join(parsed.text)
    assert len(re.findall(r"<li ", page)) == len(HOSTILE)


def test_html_has_a_strict_content_security_policy(tmp_path):
    page = write(tmp_path, ExportFormat.HTML)
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert csp is not None
    policy = csp.group(1)
    assert "default-src 'none'" in policy
    assert "unsafe" not in policy
    assert "script-src" not in policy  # so default-src 'none' forbids every script
    assert re.search(r"style-src 'sha256-[A-Za-z0-9+/]+=*'", policy)
    assert page.index("Content-Security-Policy") < page.index("<style>")


def test_html_neutralises_controls_and_bidi(tmp_path):
    page = write(tmp_path, ExportFormat.HTML)
    for bad in ("\x00", "\x1b", RLO):
        assert bad not in page
    assert "bob\\u202eevil" in page
    assert EMOJI in page
    assert '<li class="message own">' in page
    assert "line 9999" in page
    assert '<time datetime="2026-11-29T13:03:07.250Z">2026-11-29 14:03</time>' in page
    assert "<time>time unknown</time>" in page


# -- JSON -------------------------------------------------------------------------------------


def test_json_round_trips_every_message_exactly(tmp_path):
    document = json.loads(write(tmp_path, ExportFormat.JSON))
    assert document["room"] == "Room <b>&"
    assert document["exported_at"] == "2026-11-29T14:30:00.000Z"
    assert len(document["messages"]) == len(HOSTILE)
    for item, message in zip(document["messages"], HOSTILE, strict=True):
        assert bytes.fromhex(item["id"]) == message.message_id
        assert item["position"] == message.position
        assert item["sender"] == message.sender
        assert bytes.fromhex(item["signing_key"]) == message.signing_key
        assert item["text"] == message.text
        assert item["own"] is message.own
        assert item["timestamp_ms"] == message.timestamp_ms
        assert item["content_type"] == message.content_type
    assert document["messages"][0]["time"] == "2026-11-29T13:03:07.250Z"
    assert document["messages"][9]["time"] is None


def test_json_is_utf8_not_ascii_escaped(tmp_path):
    raw = write(tmp_path, ExportFormat.JSON)
    assert EMOJI.replace("\n", "") in raw
    assert "\\u0000" in raw and "\\u001b" in raw  # JSON escapes what it must


# -- the file ---------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_written_owner_only_replacing_the_old_file_and_leaving_no_temporary(tmp_path, fmt):
    out = tmp_path / f"chat.{fmt.value}"
    out.write_text("old")
    out.chmod(0o644)
    previous = os.umask(0o022)
    try:
        export(HOSTILE[:2], room_label="r", fmt=fmt, out=out, now=NOW, tz=CET)
    finally:
        os.umask(previous)
    assert out.stat().st_mode & 0o777 == 0o600
    assert out.read_text(encoding="utf-8") != "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    out = tmp_path / "chat.txt"
    out.write_text("old")

    def refuse(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        export(HOSTILE, room_label="r", fmt=ExportFormat.TEXT, out=out, now=NOW, tz=CET)
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["chat.txt"]


def test_missing_folder_is_an_os_error(tmp_path):
    with pytest.raises(OSError):
        export(HOSTILE, room_label="r", fmt=ExportFormat.JSON, out=tmp_path / "no" / "x.json")


def test_lone_surrogates_do_not_break_the_export(tmp_path):
    broken = [msg(1, sender="a\ud800", text="b\udfff")]
    for fmt in ExportFormat:
        write(tmp_path, fmt, broken)


# -- replies, files, private messages ---------------------------------------------------------

OFFER = proto.FileOffer(
    file_id=b"\x02" * 16,
    file_key=bytes(range(32)),
    size=1_536_000,
    sha256=b"\x04" * 32,
    name=f"{RLO}gpj.exe\n[2026-11-29 14:11] alice: x",
    media_type="application/octet-stream",
)
# A quote of the 10,000-line message, cut as the sender cuts it (300 bytes).
HOSTILE_QUOTE = quoted(
    ce.ReplyTo(message_id=b"\x01" * 16, sender=f"eve{RLO}\n[2026-11-29 14:12] bob", excerpt=LONG)
)
KINDS = [
    msg(
        1,
        text="fine by me\nsee you",
        content_type=proto.ContentType.REPLY.value,
        body=reply_body(HOSTILE_QUOTE, "fine by me\nsee you"),
    ),
    msg(2, text=OFFER.name, content_type=proto.ContentType.FILE.value, body=encode_offer(OFFER)),
    msg(3, text="only for you", private_with=bytes([3]) * 32, private_name="ignored"),
    msg(4, text="only for <b>", own=True, private_with=b"\x09" * 32, private_name=SCRIPT),
]


def test_text_writes_quotes_files_and_private_marks_on_lines_no_text_can_forge(tmp_path):
    text = write(tmp_path, ExportFormat.TEXT, KINDS)
    lines = text.splitlines()
    headers = [line for line in lines if line.startswith("[")]
    assert len(headers) == len(KINDS)
    assert headers[0] == "[2026-11-29 14:04] alice:"  # the quote first, under the header
    quote = lines[lines.index(headers[0]) + 1]
    assert quote.startswith("    > eve\\u202e\\n[2026-11-29 14:12] bob: line 0\\nline 1\\n")
    assert lines[lines.index(headers[0]) + 2 : lines.index(headers[0]) + 4] == [
        "    fine by me",
        "    see you",
    ]
    assert headers[1] == (
        "[2026-11-29 14:05] alice: (file: \\u202egpj.exe\\n[2026-11-29 14:11] alice: x, 1.5 MB)"
    )
    assert headers[2] == "[2026-11-29 14:06] alice (private, to you): only for you"
    assert headers[3] == f"[2026-11-29 14:07] alice (private, to {SCRIPT}): only for <b>"
    assert OFFER.file_key.hex() not in text and RLO not in text


def test_html_escapes_quotes_and_private_names_and_leaves_out_the_file_key(tmp_path):
    page = write(tmp_path, ExportFormat.HTML, KINDS)
    parsed = Collector()
    parsed.feed(page)
    assert "script" not in parsed.tags and "a" not in parsed.tags
    assert '<div class="quote"><bdi>&gt; eve\\u202e\\n[2026-11-29 14:12] bob: line 0' in page
    assert '<bdi class="private">(private, to you)</bdi>' in page
    assert "(private, to &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;)" in page
    assert "(file: \\u202egpj.exe" in page and "1.5 MB)" in page
    assert OFFER.file_key.hex() not in page and RLO not in page


def test_json_gives_the_quote_the_file_and_the_private_peer_but_never_the_key(tmp_path):
    raw = write(tmp_path, ExportFormat.JSON, KINDS)
    items = json.loads(raw)["messages"]
    assert items[0]["reply_to"] == {
        "id": "01" * 16,
        "sender": HOSTILE_QUOTE.sender,
        "excerpt": HOSTILE_QUOTE.excerpt,
    }
    assert LONG.startswith(HOSTILE_QUOTE.excerpt) and len(HOSTILE_QUOTE.excerpt) <= 300
    assert items[1]["file"] == {
        "name": OFFER.name,
        "size": 1_536_000,
        "media_type": "application/octet-stream",
    }
    assert items[2]["private"] == {"with": "03" * 32, "name": "ignored", "to_you": True}
    assert items[3]["private"] == {"with": "09" * 32, "name": SCRIPT, "to_you": False}
    assert "private" not in items[0] and "file" not in items[0] and "reply_to" not in items[1]
    for form in (OFFER.file_key.hex(), OFFER.file_key.hex().upper(), "AAECAwQFBgcICQoLDA0ODx"):
        assert form not in raw  # neither hex nor base64
    assert "body" not in items[1]
