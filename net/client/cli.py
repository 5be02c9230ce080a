"""``python main.py chat HOST PORT USERNAME`` — the terminal client.

Or ``python main.py chat --invite-file FILE USERNAME``: an invite (``net.client.invite``)
carries host, port, room id, relay key and passphrase, and works wherever the password is
asked for (the file, ``$SOCKETCHAT_PASSWORD``, the prompt); with one, HOST and PORT may be left
out. The relay key it carries is expected from the first connection on.

Works on a terminal and with pipes: each line of standard input is sent as a message (a line
starting with ``/`` is a command: ``/op NAME``, ``/deop NAME``, ``/kick NAME``, ``/release
NAME``, ``/rotate [NAME]`` (a new room password, removing NAME first), for the room's owner and
admins; ``/msg NAME TEXT`` sends TEXT to NAME only (a private message: NAME as the member list
shows it, in double quotes if another member's name starts the same way; never to a member whose
safety code changed and was not accepted); ``/send PATH``,
``/files`` and ``/save ID [PATH]`` send and save files
(``net.client.cli_files``); ``//`` sends a message that starts with ``/``); every
event is printed as one flushed line on standard output. At the end of input the command waits
for the files sent or saved with it, then until the relay has confirmed (stored) every message
typed, at most :data:`DRAIN_TIMEOUT`
seconds or until the room is lost for good, then leaves.

Messages the relay never confirmed are never dropped silently: when the room is lost for good,
or the wait at the end runs out, or Ctrl-C ends the command, they are printed on standard
output, after a header line ``! N message(s) were not sent: WHY``, one per line as ``! unsent:
TEXT`` (escaped like everyone's text), so a script can send them again — a private one as
``! unsent: /msg NAME TEXT``, so that sending it again keeps it private.

A private message is printed as ``[private] 12:34 alice → you: TEXT`` (ours: ``you → bob``):
the mark comes first, where no member's name can reach (a name could read "alice → you"), and
a message from someone else never starts with it. A reply is printed after a line with its
quote, ``> bob: START OF THE QUOTED TEXT`` — this device's copy of the quoted message when it
has it, else the replier's claim — a line no message starts with.

Exit status: 0 after leaving with everything typed confirmed; 1 if the room could not be joined
(or was lost for good) with nothing left unsent; 2 for a usage error; 3 if any message typed
was not confirmed by the relay (they were printed as above; this wins over 1).

This device's identity and trust records live in ``storage.data_dir()`` (``$SOCKETCHAT_DATA_DIR``
when set). A relay that proves another key than the one remembered for the address is refused
before the password is at stake; ``--forget-relay-key`` drops that memory first, for a person
who knows the room there was recreated.

Text from other members is untrusted: control and invisible characters (which could drive the
terminal, or reorder and hide text) are printed as escapes, never raw; on a terminal every event
is wrapped by this program, with continuation lines marked, so nobody's text starts a line that
could pass for another member's message (``termtext``).
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TextIO

from crypto.identity import Identity
from net.client import events as ce
from net.client import storage, texts
from net.client.cli_files import TerminalFiles
from net.client.client import ChatClient
from net.client.errors import LEFT_BEFORE_SENT, ClientStopped
from net.client.invite import pin_invite
from net.client.termtext import clean, collapse_spaces, wrap
from net.client.trust import Trust, TrustStore
from net.passwords import PasswordSourceError, read_password
from net.proto import (
    DEFAULT_ROOM,
    ActionKind,
    ContentType,
    Invite,
    InviteError,
    PendingMessage,
    Role,
    looks_like_invite,
    parse_invite,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_SENT = 3  # some message typed was never confirmed by the relay (printed as unsent)
DRAIN_TIMEOUT = 10.0  # at end of input, how long to wait for the relay to confirm everything
JOIN_TIMEOUT = 120.0  # at end of input, how long to wait for the first join


def run(args: argparse.Namespace) -> int:
    """Entry point for ``main.py chat``."""
    where = list(args.where)
    if len(where) not in (1, 3):
        return _usage("give HOST PORT USERNAME, or --invite-file FILE and USERNAME")
    invite_file = getattr(args, "invite_file", None)
    try:
        secret = read_password(password_file=invite_file or args.password_file)
    except PasswordSourceError as exc:
        return _usage(str(exc))
    invite: Invite | None = None
    if looks_like_invite(secret) or invite_file is not None:
        try:
            invite = parse_invite(secret)
        except InviteError as exc:
            return _usage(texts.invite_problem(exc))
    if invite is not None:
        host, port, password, room_id = invite.host, invite.port, invite.passphrase, invite.room_id
    elif len(where) == 3:
        host, password, room_id = where[0], secret, DEFAULT_ROOM
        typed_port = _port(where[1])
        if typed_port is None:
            return _usage(f"{where[1]!r} is not a port number from 1 to 65535")
        port = typed_port
    else:
        return _usage("without an invite, give HOST PORT USERNAME")
    username = where[-1]
    try:
        identity = storage.load_identity()
    except (OSError, ValueError) as exc:
        print(f"error: cannot load this device's identity: {exc}", file=sys.stderr, flush=True)
        return EXIT_FAILED
    printer = _Printer(sys.stdout)
    trust = storage.open_trust()
    try:
        session = TerminalChat(
            host=host,
            port=port,
            username=username,
            password=password,
            printer=printer,
            identity=identity,
            trust=trust,
            room_id=room_id,
            invited=invite is not None,
        )
    except ValueError as exc:  # a bad username or password, before any connection
        return _usage(str(exc))
    if getattr(args, "forget_relay_key", False):
        # The person knows the room at this address was recreated: whatever relay answers
        # next is trusted on first use again (and pinned once joined).
        at = f"{host}:{port}"
        if trust.forget_relays_at(host, port):
            printer.line(f"* forgot the relay key remembered for {clean(at)}")
        else:
            printer.line(f"* no relay key was remembered for {clean(at)}")
    if invite is not None:
        pin_invite(trust, invite)  # after any forgetting: the invite's key is the one to expect
        if len(where) == 3 and (where[0], where[1]) != (host, str(port)):
            printer.line(f"* the invite is for a room at {clean(host)}:{port}; joining that")
    try:
        return session.run(sys.stdin)
    except KeyboardInterrupt:
        return session.leave()


def _usage(text: str) -> int:
    print(f"error: {text}", file=sys.stderr, flush=True)
    return EXIT_USAGE


def _port(text: str) -> int | None:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        return None
    return int(text)


class _Printer:
    """Writes events as whole lines, one at a time, flushed (they arrive from the client thread).

    The one place text reaches standard output. On a terminal each event is wrapped to the
    width of the terminal at that moment, continuation lines marked; into a pipe each event
    stays one line, for scripts. Long runs of spaces are shown as ``[N spaces]`` either way.
    ``is_terminal``, ``columns`` and ``ambiguous_wide`` default to what the stream and the
    environment say; tests pass them.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        is_terminal: bool | None = None,
        columns: Callable[[], int] | None = None,
        ambiguous_wide: bool | None = None,
    ) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._is_terminal = _isatty(stream) if is_terminal is None else is_terminal
        self._columns = columns or (lambda: shutil.get_terminal_size().columns)
        self._ambiguous_wide = _cjk_locale() if ambiguous_wide is None else ambiguous_wide

    def line(self, text: str) -> None:
        self.lines([text])

    def lines(self, texts: list[str]) -> None:
        """Several lines of one event, together (no other event's line between them)."""
        shown = []
        for text in texts:
            # Cleaning again is a no-op for cleaned text and a safety net for any that was not.
            text = collapse_spaces(clean(text))
            if self._is_terminal:
                cut = wrap(text, columns=self._columns(), ambiguous_wide=self._ambiguous_wide)
                text = "\n".join(cut)
            shown.append(text + "\n")
        with self._lock:
            self._stream.write("".join(shown))
            self._stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or already closed
        return False


def _cjk_locale() -> bool:
    # Terminals set up for Chinese, Japanese or Korean usually draw East Asian "ambiguous"
    # characters (Greek, Cyrillic, box drawing) two columns wide; counting them narrow there
    # would let a line reach the edge and wrap by itself.
    for variable in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = os.environ.get(variable)
        if value:
            return value.split("_")[0].split(".")[0].lower() in ("ja", "ko", "zh")
    return False


def _clock(timestamp_ms: int) -> str:
    # The timestamp is the sender's claim: any value up to 2^64 - 1 ms may arrive.
    try:
        return datetime.fromtimestamp(timestamp_ms / 1000).strftime("%H:%M")
    except (OverflowError, OSError, ValueError):
        return "--:--"


class TerminalChat:
    """Joins a room and bridges it to text lines: stdin → messages, events → stdout."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        password: str,
        printer: _Printer,
        identity: Identity,
        trust: TrustStore | None = None,
        room_id: bytes = DEFAULT_ROOM,
        invited: bool = False,
        client_factory: Callable[..., ChatClient] = ChatClient,
    ) -> None:
        self._printer = printer
        self._invited = invited  # the relay key came in an invite: a mismatch is said so
        self._where = f"{host}:{port}"
        self._failed: ce.Failed | None = None
        self._unsent = 0  # messages typed and not confirmed (printed), or refused by send()
        self._said_unsent = False
        self._said_lock = threading.Lock()
        self._done = threading.Event()
        self._joined = threading.Event()
        # Who said what lately (id → sender, text): a reply quotes from this copy when it can.
        self._recent: collections.OrderedDict[bytes, tuple[str, str]] = collections.OrderedDict()
        self.client = client_factory(
            host=host,
            port=port,
            username=username,
            password=password,
            identity=identity,
            trust=trust,
            room_id=room_id,
            on_event=self._on_event,
        )
        self._files = TerminalFiles(self.client, printer.line)  # /send, /files, /save

    def run(self, lines: TextIO) -> int:
        """Send each line of ``lines``; at its end wait for delivery, leave, return the status.

        Input is read on its own daemon thread, so a failure (wrong password, room closed)
        ends the command at once even while the user has not typed anything.
        """
        self.client.start()
        end_of_input = threading.Event()
        threading.Thread(
            target=self._read_lines,
            args=(lines, end_of_input),
            name="socketchat-stdin",
            daemon=True,
        ).start()
        while not (end_of_input.is_set() or self._done.is_set()):
            end_of_input.wait(0.1)
        # Input may end before the room is joined (an empty pipe): join (or fail) first, so
        # the exit status says whether the room was reached.
        deadline = time.monotonic() + JOIN_TIMEOUT
        while not (self._joined.is_set() or self._done.is_set()):
            if time.monotonic() > deadline:
                print("error: the room could not be joined in time", file=sys.stderr, flush=True)
                return self.leave() if self._unsent else EXIT_FAILED
            self._done.wait(0.1)
        if not self._done.is_set():
            self._files.wait_done(self._done)  # files sent or saved here, then their offers
            # Returns early if the room is lost for good (then NotSent says what is left).
            self.client.wait_sent(DRAIN_TIMEOUT)
        return self.leave()

    def leave(self) -> int:
        """Leave the room (whatever is still unconfirmed is printed as unsent: the client
        hands it back as it stops) and return the exit status."""
        self.client.close()
        if self.client.is_alive():
            # Its worker is stuck (a connect that does not answer): say what waits ourselves.
            self._say_unsent(self.client.pending(), LEFT_BEFORE_SENT)
        if self._unsent:
            return EXIT_NOT_SENT
        if self._failed is not None:
            return EXIT_FAILED
        self._printer.line("* left the room")
        return EXIT_OK

    def _read_lines(self, lines: TextIO, end_of_input: threading.Event) -> None:
        try:
            for raw in lines:
                text = raw.rstrip("\r\n")
                if not text.strip():
                    continue
                if text.startswith("/") and not text.startswith("//"):
                    self._command(text)
                    continue
                if text.startswith("//"):
                    text = text[1:]  # "//text" sends "/text" (IRC's way to start with a slash)
                self._send(text)
        finally:
            end_of_input.set()

    def _send(self, text: str, private: tuple[str, bytes] | None = None) -> None:
        """Send ``text`` to the room, or to ``private`` = (name, signing key) only."""
        try:
            if private is None:
                self.client.send(text)
            else:
                self.client.send_private(private[1], text)
        except ClientStopped as exc:
            self._unsent += 1
            self._printer.line(f"! not sent: {clean(str(exc))}")
            again = text if private is None else f"/msg {_msg_name(private[0])} {text}"
            self._printer.line(f"! unsent: {clean(again)}")
        except ValueError as exc:  # too long, empty, nobody: said, and the person goes on
            self._printer.line(f"! not sent: {clean(str(exc))}")

    def _private(self, rest: str) -> None:
        """/msg NAME TEXT: TEXT to NAME only. NAME may hold spaces; if two members' names
        could be meant, nothing is sent and the person is asked to quote it. Nothing is sent
        to a member whose key changed and was not accepted: it may be someone else."""
        found = _split_msg(rest, self.client.peer_named)
        if isinstance(found, str):
            self._printer.line(f"! {found}")
            return
        name, key, text = found
        if any(m.signing_key == key and m.trust is Trust.CHANGED for m in self.client.members):
            self._printer.line(
                f"! {clean(name)}'s safety code changed and the new one was not accepted: a "
                "private message could reach someone else; nothing was sent"
            )
            return
        self._send(text, (name, key))

    def _say_unsent(self, messages: tuple[PendingMessage, ...], reason: str) -> None:
        """Print the messages the relay never confirmed, once (from whichever thread first)."""
        with self._said_lock:
            if self._said_unsent or not messages:
                return
            self._said_unsent = True
            self._unsent += len(messages)
        count = len(messages)
        self._printer.line(
            f"! {count} message{'s' if count != 1 else ''} "
            f"{'were' if count != 1 else 'was'} not sent: {clean(reason)}"
        )
        for message in messages:
            text = message.text
            if message.content_type == ContentType.PRIVATE:  # sent again, it stays private
                sent = self.client.content_of(message)
                text = f"/msg {_msg_name(sent.private_name)} {text}"
            self._printer.line(f"! unsent: {clean(text)}")

    def _command(self, line: str) -> None:
        """IRC's room commands: /op NAME, /deop NAME, /kick NAME, /release NAME."""
        word, _, name = line[1:].partition(" ")
        if self._files.command(word, name):  # /send, /files, /save
            return
        if word.lower() == "msg":
            self._private(name)
            return
        if word.lower() == "rotate":  # IRC has none; the name follows /kick's style
            try:
                self.client.change_password(remove=name.strip() or None)
            except ValueError as exc:
                self._printer.line(f"! {clean(str(exc))}")
            return
        actions = {
            "op": self.client.make_admin,
            "deop": self.client.unmake_admin,
            "kick": self.client.remove_member,
            "release": self.client.release_name,
        }
        action = actions.get(word.lower())
        if action is None or not name.strip():
            self._printer.line(f"! {_COMMANDS_HELP}")
            return
        try:
            action(name.strip())
        except ValueError as exc:
            self._printer.line(f"! {clean(str(exc))}")

    def _on_event(self, event: ce.ClientEvent) -> None:  # runs on the client's worker thread
        line = self._describe(event)
        if line is not None:
            quote = self._quote(event)
            self._printer.lines([line] if quote is None else [quote, line])
        if isinstance(event, ce.MessageReceived):
            self._remember(event)
        if isinstance(event, ce.NotSent):
            # Before Failed (and before close() returns): the exit status counts them.
            self._say_unsent(event.messages, event.reason)
        if isinstance(event, ce.Joined):
            if not event.reconnected and event.history_for_newcomers is not None:
                self._printer.line(_history_setting(event.history_for_newcomers))
            self._joined.set()
        if isinstance(event, ce.Failed):
            # Said before _done is set: once it is, run() returns and the process may exit.
            message = event.message
            if event.kind is ce.ErrorKind.RELAY_CHANGED and self._invited:
                message = texts.not_the_invited_relay(self._where)
            print(f"error: {clean(message)}", file=sys.stderr, flush=True)
            if event.kind is ce.ErrorKind.RELAY_CHANGED and not self._invited:
                print(
                    f"If you know the room at {self._where} was recreated, run the same command "
                    "with --forget-relay-key.",
                    file=sys.stderr,
                    flush=True,
                )
            self._failed = event
            self._done.set()

    def _describe(self, event: ce.ClientEvent) -> str | None:
        if isinstance(event, ce.TransferProgress | ce.TransferFinished | ce.TransferFailed):
            return self._files.describe(event)
        members = ", ".join(clean(m.name) for m in self.client.members)
        if isinstance(event, ce.MessageReceived):
            earlier = "(earlier) " if event.from_history else ""
            you = " (you)" if event.own else ""
            changed = "[key changed!] " if event.trust is Trust.CHANGED else ""
            who = f"{changed}{clean(event.sender)}{you}"
            if event.private_with is not None:
                # First on the line, where no name reaches: "alice → you" could be a name.
                earlier = f"[private] {earlier}"
                if event.own:
                    who = f"{changed}you → {clean(event.private_name)}"
                else:
                    who = f"{changed}{clean(event.sender)} → you"
            if isinstance(event.content, ce.FileContent):
                return (
                    f"{earlier}{_clock(event.timestamp_ms)} {who} "
                    f"{self._files.offered(event, event.content.offer)}"
                )
            if isinstance(event.content, ce.UnknownContent):
                return (
                    f"{earlier}{_clock(event.timestamp_ms)} {who}: "
                    f"[a message this version cannot show ({clean(event.content.content_type)})]"
                )
            return f"{earlier}{_clock(event.timestamp_ms)} {who}: {clean(event.text)}"
        if isinstance(event, ce.IdentityChanged):
            verified = " You had verified the old one." if event.was_verified else ""
            return (
                f"! {clean(event.name)}'s safety code changed: this may be someone else.{verified} "
                "Their messages are marked [key changed!]."
            )
        if isinstance(event, ce.Joined):
            verb = "reconnected to" if event.reconnected else "joined"
            return (
                f"* {verb} the room at {self._where} as {clean(event.your_name)} "
                f"(members: {members})"
            )
        if isinstance(event, ce.MemberJoined):
            return f"* {clean(event.name)} joined (members: {members})"
        if isinstance(event, ce.MemberLeft):
            return f"* {clean(event.name)} {event.reason} (members: {members})"
        if isinstance(event, ce.AloneInRoom):
            return "* you are alone in the room"
        if isinstance(event, ce.MessageNotSent):
            return f"! not sent: {clean(event.reason)}"
        if isinstance(event, ce.ForgedMessage):
            return (
                f"! a message claiming to be from {clean(event.claimed_sender)} failed "
                f"verification ({event.why}) and was dropped"
            )
        if isinstance(event, ce.MessageLocked):
            if event.withheld:
                return (
                    f"* an earlier message from {clean(event.sender)} stays locked: messages "
                    "from before you joined are not shared with new members in this room"
                )
            if event.from_history:
                return (
                    f"* an earlier message from {clean(event.sender)} is locked: it shows once "
                    "a member who was here comes online"
                )
            return (
                f"* a message from {clean(event.sender)} is locked: it shows when its key arrives"
            )
        if isinstance(event, ce.RoleChange):
            return _describe_role_change(event)
        if isinstance(event, ce.ActionNotTaken):
            return f"! {clean(event.reason)}"
        if isinstance(event, ce.PasswordChanged):
            if event.own and event.password is not None:
                return (
                    f"* you changed the room password; the new one is: {event.password} "
                    "(members here switched to it; send it to those who were not)"
                )
            if event.password is not None:
                return f"* {clean(event.by)} changed the room password; switched to the new one"
            return f"! {clean(event.by)} changed the room password and did not give it to you"
        if isinstance(event, ce.UnprovenMember):
            return (
                f"! the relay lists {clean(event.name)} as a member, but they did not prove "
                "they know the room password: they get nothing and their messages are refused"
            )
        if isinstance(event, ce.RateLimited):
            return f"* slow down: {clean(event.text)}"
        if isinstance(event, ce.Disconnected):
            return f"* disconnected: {clean(event.reason)} Reconnecting in {event.retry_in:.1f} s."
        if isinstance(event, ce.DerivingKeys):
            return "* deriving the room key…"
        if isinstance(event, ce.Queued):
            return f"* the relay lets others in first; you are number {event.position} in line"
        if isinstance(event, ce.Connecting):
            return f"* connecting to {self._where}" if event.attempt == 1 else None
        return None  # Failed goes to stderr

    def _remember(self, event: ce.MessageReceived) -> None:
        """Keep the newest messages' sender and text, for the quotes of replies to them."""
        self._recent[event.message_id] = (event.sender, event.text)
        while len(self._recent) > _RECENT:
            self._recent.popitem(last=False)

    def _quote(self, event: ce.ClientEvent) -> str | None:
        """The quote line above a reply: this device's copy of the replied message if it has
        it, else what the replier claims it said."""
        if not isinstance(event, ce.MessageReceived) or not isinstance(
            event.content, ce.ReplyContent
        ):
            return None
        replied = event.content.reply_to
        sender, text = self._recent.get(replied.message_id, (replied.sender, replied.excerpt))
        return f"> {clean(sender)}: {clean(_one_line(text))}"


_RECENT = 1000  # messages whose sender and text are kept for quotes
_QUOTE_CHARS = 60  # a quote shows at most this much of the replied text


def _one_line(text: str) -> str:
    """The start of ``text`` on one line, cut at :data:`_QUOTE_CHARS` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _QUOTE_CHARS else flat[: _QUOTE_CHARS - 1] + "…"


def _msg_name(name: str) -> str:
    """``name`` as /msg takes it back: in double quotes when it holds a space."""
    return f'"{name}"' if " " in name else name


def _split_msg(
    rest: str, peer_named: Callable[[str], bytes | None]
) -> tuple[str, bytes, str] | str:
    """/msg's NAME and TEXT: (name, signing key, text), or a sentence saying why not.

    ``"NAME WITH SPACES" TEXT``, or NAME TEXT where NAME is the one way of splitting the line
    that names someone (names hold single spaces, so "bob smith hi" may mean "bob smith" or
    "bob": if both are members, ask for quotes rather than guess who gets it)."""
    rest = rest.strip()
    if rest.startswith('"'):
        name, closed, text = rest[1:].partition('"')
        candidates = [(name, text.strip())] if closed else []
    else:
        candidates = [(rest[:at], rest[at + 1 :].strip()) for at, c in enumerate(rest) if c == " "]
    if not rest or not any(text for _, text in candidates):
        return "usage: /msg NAME TEXT (a private message to NAME only)"
    found = []
    for name, text in candidates:
        key = peer_named(name) if text else None
        if key is not None:
            found.append((name, key, text))
    if len(found) > 1:
        names = " and ".join(f'"{clean(name)}"' for name, _, _ in found)
        return f"/msg could mean {names}: put the name in double quotes; nothing was sent"
    if not found:
        first = candidates[0][0]
        return (
            f"nobody called '{clean(first)}' is in the room (or remembered from it); nothing "
            "was sent"
        )
    return found[0]


_COMMANDS_HELP = (
    "commands: /op NAME (make admin), /deop NAME, /kick NAME (remove from the room), "
    "/rotate [NAME] (change the room password, removing NAME first), /release NAME (free a "
    "name); /msg NAME TEXT (a private message to NAME only); start a message with // to send "
    "it with one /; "
    "/send PATH (send a file), /files (files received), /save ID [PATH] (save one)"
)


def _history_setting(history_for_newcomers: bool) -> str:
    """The room's setting, said once after joining a room with an owner."""
    if history_for_newcomers:
        return "* in this room, new members can read recent history"
    return "* in this room, new members see only what is sent after they join"


def _describe_role_change(event: ce.RoleChange) -> str | None:
    actor, target = clean(event.actor), clean(event.target)
    match event.kind:
        case None:
            roles = [
                f"{clean(m.name)} ({m.role.value})"
                for m in event.members
                if m.role is not Role.MEMBER
            ]
            return f"* roles: {', '.join(roles)}" if roles else None
        case ActionKind.MAKE_ADMIN:
            return f"* {actor} made {target} an admin"
        case ActionKind.UNMAKE_ADMIN:
            return f"* {actor} took admin rights from {target}"
        case ActionKind.REMOVE:
            return f"* {actor} removed {target} from the room"
        case ActionKind.RELEASE_NAME:
            return f"* {actor} released the name {clean(event.detail)}"
        case ActionKind.CHANGE_PASSWORD:
            return f"* {actor} changed the room password"
    return None
