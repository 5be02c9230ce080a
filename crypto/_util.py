"""Small input checks shared by the crypto modules."""


def as_bytes(value: object, name: str) -> bytes:
    """Return ``value`` as bytes if it is bytes-like; raise TypeError otherwise.

    ``bytes(5)`` is five zero bytes and ``bytes("x")`` needs an encoding: neither is ever what
    a caller meant, so only real buffers are accepted.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{name} must be bytes, not {type(value).__name__}")


def str8(text: str, what: str) -> bytes:
    """``text`` as UTF-8 behind its length byte; ``ValueError`` past 255 bytes (``what``
    names the field in the message)."""
    data = text.encode("utf-8")
    if len(data) > 255:
        raise ValueError(f"{what} is longer than 255 bytes")
    return bytes((len(data),)) + data
