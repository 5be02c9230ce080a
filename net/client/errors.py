"""What :class:`net.client.ChatClient` raises to its application.

Bad input to :meth:`~net.client.ChatClient.send` (an empty or too long text) is a plain
``ValueError`` whose text is a sentence for the person. A client that can no longer send
raises :class:`ClientStopped`: it never accepts a message it would not send.

Both are ``ValueError``\\ s, so an application that shows ``str(error)`` of whatever ``send``
raises keeps doing the right thing; one that wants to know *why* catches the type.
"""

from __future__ import annotations

from net.client.events import ErrorKind

#: NotSent.reason after close(): the person left before the relay had these.
LEFT_BEFORE_SENT = "You left the room before the relay confirmed these messages."
#: ClientStopped's text after close().
CLIENT_CLOSED = "This chat has been closed: join the room again to send."


class ChatError(ValueError):
    """Base of the errors the client library raises to the application; ``str(error)`` is a
    sentence for the person."""


class ClientStopped(ChatError):
    """The client stopped for good and sends nothing more: after :class:`~net.client.Failed`
    (``kind`` is its :class:`ErrorKind`, the text its message) or after ``close()`` (``kind``
    is None). Whatever was still waiting was handed back as :class:`~net.client.NotSent`.
    To go on, make a new :class:`~net.client.ChatClient` (Rejoin)."""

    def __init__(self, message: str, *, kind: ErrorKind | None) -> None:
        super().__init__(message)
        self.kind = kind
