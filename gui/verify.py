"""Safety codes on screen: "Your safety code" and the Verify dialog for one member.

Every device has an identity (``crypto.identity``); its **safety code** is 30 digits in groups
of five, derived from its public keys. Two members verify each other by comparing the **pair
code** (``pair_safety_code``: both codes, sorted, so both screens show the same 60 digits in
the same order), read aloud in person or on a call. A match proves that nobody in between (a
relay, a look-alike) swapped the keys.

What the dialogs say and offer is decided by plain functions and dataclasses
(:func:`verify_view`, :func:`code_rows`, :func:`badge`), which tests call without a display, as
``gui/login.py`` does with ``validate_login``. The dialogs (:class:`SafetyCodeDialog`,
:class:`VerifyDialog`) are laid out hidden, then shown, ``transient`` and modal, with Escape to
close, like IDLE's ``query.Query``; they never block the Tk loop and record the outcome in
``result``. Recording trust is the caller's business (``on_verify``/``on_accept``: the chat
window hands them to the client, ``ChatClient.mark_verified`` / ``accept_key``).
"""

from __future__ import annotations

import contextlib
import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass
from tkinter import ttk
from typing import Protocol

from crypto.identity import PublicIdentity, pair_safety_code, safety_code
from gui.safetext import display_name
from gui.theme import current_palette
from net.client import Trust

YOUR_CODE_TITLE = "Your safety code"
YOUR_CODE_HELP = (
    "This is this device's safety code. When someone verifies you, it is one half of the code "
    "their Verify dialog shows: read it aloud to them, in person or on a call, and they check "
    "that it is there. It stays the same as long as you keep this device's identity."
)
VERIFY_HELP = (
    "Compare this code with the one {name} sees for you: read it aloud to each other in person "
    "or on a call, not in this chat. If every digit matches, nobody can be impersonating "
    "either of you, and you can mark {name} as verified."
)

_BADGES = {Trust.VERIFIED: "✓", Trust.CHANGED: "⚠"}


class TrustActions(Protocol):
    """What the chat window records when a person verifies a member or accepts a new key.
    :class:`net.client.ChatClient` has both; tests pass a recorder."""

    def mark_verified(self, name: str, key: bytes) -> None: ...

    def accept_key(self, name: str, key: bytes) -> None: ...


def badge(trust: Trust) -> str:
    """The sign shown before a member's name: ✓ verified, ⚠ key changed, nothing otherwise."""
    return _BADGES.get(trust, "")


def code_rows(code: str, per_row: int) -> list[str]:
    """A grouped code (``"12345 67890 …"``) in rows of ``per_row`` groups, to read aloud."""
    groups = code.split()
    return [" ".join(groups[i : i + per_row]) for i in range(0, len(groups), per_row)]


def public_identity(signing_key: bytes, dh_key: bytes) -> PublicIdentity | None:
    """A member's identity from the keys the relay listed, or None if they are missing or
    are keys no honest device has (then there is no code to compare)."""
    try:
        return PublicIdentity(signing_public=bytes(signing_key), dh_public=bytes(dh_key))
    except (TypeError, ValueError):
        return None


def your_code(identity: PublicIdentity) -> str:
    """This device's safety code: 30 digits in six groups of five."""
    return safety_code(identity)


@dataclass(frozen=True)
class VerifyView:
    """Everything the Verify dialog shows for one member (plain values, testable without Tk)."""

    name: str  # as the chat shows it (``safetext.display_name``)
    trust: Trust
    code: str  # the pair code, "" when it cannot be computed
    heading: str
    warning: str  # "" unless the key changed
    explanation: str
    status: str  # one line: where the person stands with this member
    can_verify: bool
    can_accept: bool


def verify_view(
    own: PublicIdentity,
    name: str,
    member: PublicIdentity | None,
    trust: Trust,
    *,
    was_verified: bool = False,
) -> VerifyView:
    """What the Verify dialog shows for ``name`` (keys ``member``, trusted as ``trust``).

    ``member`` is None when the member is not in the room (a key change noticed in history) or
    listed with unusable keys: there is then no code, but a changed key can still be accepted.
    """
    shown = display_name(name)
    code = pair_safety_code(own, member) if member is not None else ""
    warning = ""
    if trust is Trust.CHANGED:
        warning = (
            f"{shown}'s safety code changed since this device last saw them: this may be "
            f"someone else using the name, or {shown} on a new device or after a reinstall."
        )
        if was_verified:
            warning += (
                " You had verified the old code, so their messages stay marked until you "
                "accept the new key."
            )
        else:
            warning += " Their messages stay marked until you accept the new key."
    if code:
        explanation = VERIFY_HELP.format(name=shown)
    else:
        explanation = (
            f"{shown} is not in the room right now, so there is no code to compare. "
            "Open this again when they are back."
        )
    status = {
        Trust.VERIFIED: f"✓ You verified {shown}.",
        Trust.CHANGED: "⚠ New key, not accepted yet.",
    }.get(trust, f"Not verified yet: you have not compared codes with {shown}.")
    return VerifyView(
        name=shown,
        trust=trust,
        code=code,
        heading=f"Verify {shown}",
        warning=warning,
        explanation=explanation,
        status=status,
        can_verify=bool(code) and trust is not Trust.VERIFIED,
        can_accept=trust is Trust.CHANGED,
    )


# -- dialogs ---------------------------------------------------------------------------------


class _Dialog(tk.Toplevel):
    """Laid out hidden, then shown centred over the parent's window; modal if it can be."""

    def __init__(self, parent: tk.Misc, title: str) -> None:
        super().__init__(parent)
        self.withdraw()
        self.title(title)
        self.resizable(False, False)
        self.transient(parent.winfo_toplevel())
        self.palette = current_palette(self)
        self.body = ttk.Frame(self, padding=(22, 18, 22, 16))
        self.body.grid(sticky="nsew")
        self.body.columnconfigure(0, weight=1)
        self.protocol("WM_DELETE_WINDOW", self.close)
        self.bind("<Escape>", lambda _e: self.close())

    def _show(self, parent: tk.Misc, focus: tk.Widget) -> None:
        self.update_idletasks()
        top = parent.winfo_toplevel()
        x = top.winfo_rootx() + max(0, (top.winfo_width() - self.winfo_reqwidth()) // 2)
        y = top.winfo_rooty() + max(0, (top.winfo_height() - self.winfo_reqheight()) // 3)
        self.geometry(f"+{x}+{y}")
        self.deiconify()
        focus.focus_set()
        with contextlib.suppress(tk.TclError):
            self.grab_set()  # fails while another grab (a menu) is active: usable, not modal

    def _code_label(self, row: int, code: str, per_row: int) -> tk.Label:
        label = tk.Label(
            self.body,
            text="\n".join(code_rows(code, per_row)),
            font="SocketChatCode",
            justify="center",
            background=self.palette.surface,
            foreground=self.palette.text,
            padx=18,
            pady=12,
            relief="solid",
            borderwidth=1,
            highlightthickness=0,
        )
        label.grid(row=row, column=0, sticky="ew", pady=(12, 0))
        return label

    def copy_text(self, text: str) -> None:
        self.clipboard_clear()
        self.clipboard_append(text)

    def close(self) -> None:
        with contextlib.suppress(tk.TclError):
            self.grab_release()
        self.destroy()


class SafetyCodeDialog(_Dialog):
    """This device's safety code, to read aloud, with Copy and Close."""

    def __init__(self, parent: tk.Misc, identity: PublicIdentity) -> None:
        super().__init__(parent, YOUR_CODE_TITLE)
        self.code = your_code(identity)
        ttk.Label(self.body, text=YOUR_CODE_TITLE, style="Header.TLabel").grid(
            row=0, column=0, sticky="w"
        )
        self.code_label = self._code_label(1, self.code, 3)
        ttk.Label(self.body, text=YOUR_CODE_HELP, wraplength=400, justify="left").grid(
            row=2, column=0, sticky="w", pady=(12, 0)
        )
        self.copied = tk.StringVar(self, "")
        ttk.Label(self.body, textvariable=self.copied, foreground=self.palette.good).grid(
            row=3, column=0, sticky="w", pady=(6, 0)
        )
        buttons = ttk.Frame(self.body)
        buttons.grid(row=4, column=0, sticky="e", pady=(10, 0))
        self.copy_button = ttk.Button(buttons, text="Copy", command=self.copy)
        self.copy_button.grid(row=0, column=0, padx=(0, 8))
        self.close_button = ttk.Button(
            buttons, text="Close", style="Accent.TButton", command=self.close, default="active"
        )
        self.close_button.grid(row=0, column=1)
        self.bind("<Return>", lambda _e: self.close())
        self._show(parent, self.close_button)

    def copy(self) -> None:
        """Put the code on the clipboard, as shown (groups of five)."""
        self.copy_text(self.code)
        self.copied.set("Copied to the clipboard.")


class VerifyDialog(_Dialog):
    """The pair code for you and one member, how to compare it, and what to record.

    ``result`` becomes ``"verified"`` or ``"accepted"`` when the person records one, after
    ``on_verify()`` / ``on_accept()`` ran; it stays None when the dialog is just closed.
    """

    def __init__(
        self,
        parent: tk.Misc,
        view: VerifyView,
        *,
        on_verify: Callable[[], None],
        on_accept: Callable[[], None],
    ) -> None:
        super().__init__(parent, view.heading)
        self.view = view
        self.result: str | None = None
        self._on_verify = on_verify
        self._on_accept = on_accept
        row = 0
        ttk.Label(self.body, text=view.heading, style="Header.TLabel").grid(
            row=row, column=0, sticky="w"
        )
        if view.warning:
            row += 1
            ttk.Label(
                self.body,
                text="⚠ " + view.warning,
                foreground=self.palette.warning,
                wraplength=460,
                justify="left",
            ).grid(row=row, column=0, sticky="w", pady=(8, 0))
        self.code_label: tk.Label | None = None
        if view.code:
            row += 1
            # Three groups a row: each person's own code fills two rows, as in their "Your
            # safety code" dialog, so either half can be checked against it at a glance.
            self.code_label = self._code_label(row, view.code, 3)
        row += 1
        ttk.Label(self.body, text=view.explanation, wraplength=460, justify="left").grid(
            row=row, column=0, sticky="w", pady=(12, 0)
        )
        row += 1
        colour = {Trust.VERIFIED: self.palette.good, Trust.CHANGED: self.palette.warning}.get(
            view.trust, self.palette.muted
        )
        ttk.Label(self.body, text=view.status, foreground=colour).grid(
            row=row, column=0, sticky="w", pady=(8, 0)
        )
        row += 1
        buttons = ttk.Frame(self.body)
        buttons.grid(row=row, column=0, sticky="e", pady=(16, 0))
        self.accept_button: ttk.Button | None = None
        self.verify_button: ttk.Button | None = None
        column = 0
        if view.can_accept:
            self.accept_button = ttk.Button(buttons, text="Accept the new key", command=self.accept)
            self.accept_button.grid(row=0, column=column, padx=(0, 8))
            column += 1
        if view.can_verify:
            self.verify_button = ttk.Button(
                buttons, text="Mark as verified", command=self.mark_verified
            )
            self.verify_button.grid(row=0, column=column, padx=(0, 8))
            column += 1
        # Close is the default: recording trust always takes a deliberate click.
        self.close_button = ttk.Button(
            buttons, text="Close", style="Accent.TButton", command=self.close, default="active"
        )
        self.close_button.grid(row=0, column=column)
        self.bind("<Return>", self._on_return)
        self._show(parent, self.close_button)

    def _on_return(self, _event: tk.Event) -> str:
        focused = self.focus_get()
        if focused is not None and focused is self.verify_button:
            self.mark_verified()
        elif focused is not None and focused is self.accept_button:
            self.accept()
        else:
            self.close()
        return "break"

    def mark_verified(self) -> None:
        """The codes matched: record it and close."""
        if not self.view.can_verify:
            return
        self._on_verify()
        self.result = "verified"
        self.close()

    def accept(self) -> None:
        """Accept the member's new key (they are shown as usual again) and close."""
        if not self.view.can_accept:
            return
        self._on_accept()
        self.result = "accepted"
        self.close()
