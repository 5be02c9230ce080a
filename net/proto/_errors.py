"""The two kinds of protocol error, kept apart as h11 does, under one base.

* :class:`LocalProtocolError` — *our* code broke the rules: called a method in the wrong state,
  or asked for something that cannot be encoded (a field too long, a frame over the peer's
  cap). It is raised, because it is a bug (or unchecked local input) the caller must fix; every
  misuse of the core raises this one family.
* :class:`RemoteProtocolError` — the *peer* sent something invalid. The core never lets it
  escape: it becomes a :class:`net.proto.ProtocolViolation` event and the connection fails.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base of every error the protocol core defines."""


class LocalProtocolError(ProtocolError):
    """The caller misused the core: wrong state, or a value that does not fit the wire."""


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that break the protocol. Internal: callers see ProtocolViolation.

    The message is a short reason for the local log. It is never sent to the peer.
    """


class DecodeError(RemoteProtocolError):
    """A frame body or field could not be decoded (truncated, too long, bad UTF-8, ...)."""
