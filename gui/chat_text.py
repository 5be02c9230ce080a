"""What the chat window says, and the plain functions behind it (no Tk: tested without a display).

The window (``gui/chat.py``) and the parts it is built from take their words from here. Every
name and body in these texts was written by another person: it goes through
:func:`gui.safetext.display_name` or :func:`gui.safetext.body_pieces` first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from gui.safetext import body_pieces, display_name
from net import client as ce
from net.client import name_skeleton

#: The pending notes of our own messages until the relay stores them.
SENDING = "sending…"
WAITING = "waiting: sent once the connection is back"
#: A message handed back as not sent but kept on this device: the next client sends it.
KEPT = "not sent yet: kept on this device, sent when you rejoin"
HINT = "Enter sends · Shift+Enter adds a line · ↑ in an empty box: your last message, sent as new"
ENCRYPTED = "● End-to-end encrypted and signed: the relay cannot read or forge messages"
NOT_CONNECTED = "○ Not connected"
#: The room's setting, chosen by its owner when it was created (rooms with an owner only).
HISTORY_SHARED = "New members can read recent history"
HISTORY_NOT_SHARED = "New members see only what is sent after they join"
PREVIEW_CHARS = 120  # of a message, in its desktop notification

#: How the client's sentences about a loss go on to say what it does next ("The relay is
#: restarting; reconnecting."): the banner says that, and once the connection is back the
#: conversation's line would say it wrongly, so the line keeps only the cause.
_NEXT_STEPS = ("reconnecting", "trying again")


def notification_text(sender: str, text: str) -> tuple[str, str]:
    """The title and body of a desktop notification for a message: the sender's name as the
    chat shows it, and the start of the body on one line, escaped characters as markers."""
    body = " ".join("".join(piece for piece, _ in body_pieces(text)).split())
    if len(body) > PREVIEW_CHARS:
        body = body[: PREVIEW_CHARS - 1].rstrip() + "…"
    return display_name(sender), body


def loss_reason(reason: str) -> str:
    """The client's sentence about a lost connection, to follow "Connection lost at 14:02:"
    (the cause only, its first letter in lower case, no full stop, one line)."""
    words = " ".join(str(reason).split()).rstrip(".")
    cause, _, then = words.rpartition("; ")
    if cause and then.lower().startswith(_NEXT_STEPS):
        words = cause
    if len(words) > 1 and words[0].isupper() and not words[1].isupper():
        words = words[0].lower() + words[1:]
    return words or "no reason given"


def message_size_problem(text: str, limit: int) -> str | None:
    """Why ``text`` cannot be sent, in plain words, or None if it can."""
    if not text.strip():
        return "Type a message first."
    size = len(text.encode("utf-8"))
    if size > limit:
        return (
            f"This message is too long by {size - limit:,} bytes "
            f"(the limit is {limit:,} bytes; emoji and accented letters count double "
            "or more). Split it into several messages."
        )
    return None


def lookalikes(members: Iterable[ce.Member]) -> dict[str, str]:
    """Members whose name could be mistaken for another present member's (same UTS #39
    skeleton, another identity key): name -> the first name it looks like. The relay refuses
    such names; a relay that let one in is not doing its job, so the window flags them."""
    groups: dict[str, list[ce.Member]] = defaultdict(list)
    for member in members:
        groups[name_skeleton(member.name)].append(member)
    found: dict[str, str] = {}
    for group in groups.values():
        for member in group:
            other = next((o for o in group if o.signing_key != member.signing_key), None)
            if other is not None:
                found[member.name] = other.name
    return found


def changed_banner_text(name: str) -> str:
    """The banner for a member whose key changed."""
    return f"⚠ {display_name(name)}'s safety code changed — this may be someone else."


def changed_notice(name: str, *, was_verified: bool) -> str:
    """The conversation's line for a member whose key changed (once per key)."""
    verified = " You had verified the old one." if was_verified else ""
    return (
        f"{display_name(name)}'s safety code changed: this may be someone else."
        f"{verified} Their messages are marked until you accept the new key (Verify…)."
    )


def forged_notice(claimed_sender: str, why: str) -> str:
    """The conversation's line for a message that failed verification (never its content)."""
    return (
        f"A message claiming to come from {display_name(claimed_sender)} was dropped: it "
        f"failed verification ({why}). Someone may be trying to impersonate them."
    )


def unproven_notice(name: str) -> str:
    """The conversation's line for a listed member who did not prove the room password."""
    return (
        f"⚠ The relay lists {display_name(name)} as a member, but they did not prove they know "
        "the room password: they receive nothing and their messages are refused. Whoever runs "
        "the relay may be trying to listen in."
    )


def lookalike_notice(name: str, other: str) -> str:
    """The conversation's line when a member who just joined has a name like another's."""
    return (
        f"{display_name(name)}'s name looks like {display_name(other)}'s: "
        "check who is who (Verify…) before you trust either."
    )


def archive_failed_notice(reason: str) -> str:
    """The conversation's line, said once, when this device cannot keep the room's history."""
    return (
        f"This device cannot keep this room's history right now ({reason}). Messages "
        "still go out, but nothing is kept here after you close the app."
    )


ALONE = "You are alone in the room. Others can join with the host, port and room password."
SLOW_DOWN = "The room asked you to slow down: your messages are delayed, not lost."
