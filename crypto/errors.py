"""Exceptions shared by the crypto package."""


class AuthenticationError(Exception):
    """A tag, MAC or PAKE confirmation did not verify.

    This is the one exception for "authentication failed": callers never get a boolean
    they could forget to check. The message never contains key material.
    """


class SignatureError(AuthenticationError):
    """A signature did not verify (a kind of :class:`AuthenticationError`: catch that one
    unless the difference matters, as when telling "unreadable" from "forged" apart)."""


class PasswordError(ValueError):
    """A room password breaks the rules. The message is user-readable and never echoes it."""


class KeyFileError(ValueError):
    """A file holding a private key is damaged, of an unknown format, or readable by others.

    Never answered by making a new key: the message says what is wrong and what to do, in
    words a user can act on, and never contains key material.
    """
