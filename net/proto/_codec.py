"""Reader and Writer for the fixed-width, length-prefixed fields every frame is built from.

All integers are big-endian and unsigned. Strings are UTF-8, prefixed by their byte length:
``str8`` (u8 length), ``str16`` (u16 length); ``bytes32`` is a u32 length plus raw bytes.

:class:`Reader` checks every length against what is actually left *before* slicing, decodes
UTF-8 strictly, and raises :class:`net.errors.DecodeError` for anything wrong; call
:meth:`Reader.finish` at the end so trailing bytes are an error too. :class:`Writer` raises
:class:`LocalProtocolError` when a value does not fit its field: that is a bug or bad local
input, never something the peer caused.
"""

from __future__ import annotations

from net.proto._errors import DecodeError, LocalProtocolError

_U8_MAX = 0xFF
_U16_MAX = 0xFFFF
_U32_MAX = 0xFFFF_FFFF
_U64_MAX = 0xFFFF_FFFF_FFFF_FFFF
_LENGTH_BYTES = [bytes((n,)) for n in range(256)]


class Reader:
    """Consume one frame body field by field. Create one per body; end with :meth:`finish`."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(bytes(data))
        self._pos = 0

    @property
    def remaining(self) -> int:
        """How many bytes are left unread."""
        return len(self._data) - self._pos

    def _take(self, size: int, what: str) -> memoryview:
        if size > self.remaining:
            raise DecodeError(f"truncated {what}")
        chunk = self._data[self._pos : self._pos + size]
        self._pos += size
        return chunk

    def _uint(self, size: int, what: str) -> int:
        return int.from_bytes(self._take(size, what), "big")

    def u8(self, what: str = "u8") -> int:
        return self._uint(1, what)

    def u16(self, what: str = "u16") -> int:
        return self._uint(2, what)

    def u32(self, what: str = "u32") -> int:
        return self._uint(4, what)

    def u64(self, what: str = "u64") -> int:
        return self._uint(8, what)

    def raw(self, size: int, what: str = "bytes") -> bytes:
        """Exactly ``size`` bytes (a fixed-size field such as a key or a message id)."""
        return bytes(self._take(size, what))

    def bytes32(self, what: str = "bytes32") -> bytes:
        """A u32 length and that many bytes; the length is checked before anything is copied."""
        return self.raw(self.u32(what), what)

    def bytes16(self, what: str = "bytes16") -> bytes:
        """A u16 length and that many bytes."""
        return self.raw(self.u16(what), what)

    def _text(self, size: int, what: str) -> str:
        try:
            return str(self._take(size, what), "utf-8", "strict")
        except UnicodeDecodeError:
            raise DecodeError(f"invalid UTF-8 in {what}") from None

    def str8(self, what: str = "str8") -> str:
        return self._text(self.u8(what), what)

    def str16(self, what: str = "str16") -> str:
        return self._text(self.u16(what), what)

    def str8_records(self, count: int, size: int, what: str) -> list[tuple[str, bytes]]:
        """``count`` records of a str8 followed by ``size`` fixed bytes (a member list: name,
        then keys and flags), read in one pass without a method call per field: a WELCOME to
        a room of thousands lists thousands of members. Checks as :meth:`str8` and
        :meth:`raw` do, before any slice."""
        data, pos, end = self._data, self._pos, len(self._data)
        records = []
        for _ in range(count):
            if pos >= end:
                raise DecodeError(f"truncated {what}")
            length = data[pos]
            text_end = pos + 1 + length
            if text_end + size > end:
                raise DecodeError(f"truncated {what}")
            try:
                text = str(data[pos + 1 : text_end], "utf-8", "strict")
            except UnicodeDecodeError:
                raise DecodeError(f"invalid UTF-8 in {what}") from None
            pos = text_end + size
            records.append((text, bytes(data[text_end:pos])))
        self._pos = pos
        return records

    def finish(self) -> None:
        """Call after the last field: leftover bytes mean the peer and we disagree on layout."""
        if self.remaining:
            raise DecodeError("trailing bytes")


class Writer:
    """Build one frame body field by field; :meth:`getvalue` returns it."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def _uint(self, value: int, size: int, limit: int, what: str) -> Writer:
        if not 0 <= value <= limit:
            raise LocalProtocolError(f"{what} {value} does not fit in {size * 8} bits")
        self._buf += value.to_bytes(size, "big")
        return self

    def u8(self, value: int, what: str = "u8") -> Writer:
        return self._uint(value, 1, _U8_MAX, what)

    def u16(self, value: int, what: str = "u16") -> Writer:
        return self._uint(value, 2, _U16_MAX, what)

    def u32(self, value: int, what: str = "u32") -> Writer:
        return self._uint(value, 4, _U32_MAX, what)

    def u64(self, value: int, what: str = "u64") -> Writer:
        return self._uint(value, 8, _U64_MAX, what)

    def raw(self, data: bytes, size: int | None = None, what: str = "bytes") -> Writer:
        """Append ``data`` as is; with ``size``, insist on exactly that length."""
        if size is not None and len(data) != size:
            raise LocalProtocolError(f"{what} must be {size} bytes, not {len(data)}")
        self._buf += data
        return self

    def bytes32(self, data: bytes, what: str = "bytes32") -> Writer:
        self.u32(len(data), f"length of {what}")
        self._buf += data
        return self

    def bytes16(self, data: bytes, what: str = "bytes16") -> Writer:
        self.u16(len(data), f"length of {what}")
        self._buf += data
        return self

    def str8(self, text: str, what: str = "str8") -> Writer:
        encoded = text.encode("utf-8")
        self.u8(len(encoded), f"UTF-8 length of {what}")
        self._buf += encoded
        return self

    def str16(self, text: str, what: str = "str16") -> Writer:
        encoded = text.encode("utf-8")
        self.u16(len(encoded), f"UTF-8 length of {what}")
        self._buf += encoded
        return self

    def getvalue(self) -> bytes:
        return bytes(self._buf)
