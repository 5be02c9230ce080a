"""The two kinds of protocol error, kept apart as h11 does.

* :class:`LocalProtocolError` — *our* code broke the rules (called a method in the wrong state).
  It is raised, because it is a bug the caller must fix.
* :class:`RemoteProtocolError` — the *peer* sent something invalid. The core never lets it
  escape: it becomes a :class:`net.events.ProtocolViolation` event and the connection fails.
"""

from __future__ import annotations


class LocalProtocolError(Exception):
    """A protocol core method was called when the connection's state does not allow it."""


class RemoteProtocolError(Exception):
    """The peer sent bytes that break the protocol. Internal: callers see ProtocolViolation.

    The message is a short reason for the local log. It is never sent to the peer.
    """


class DecodeError(RemoteProtocolError):
    """A frame body or field could not be decoded (truncated, too long, bad UTF-8, ...)."""
