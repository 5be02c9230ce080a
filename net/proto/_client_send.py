"""Sending chat messages: sealing them under our sender key, and the shares that hand it out.

A part of :class:`~net.proto.ClientProtocol` (see ``_client_base``).
"""

from __future__ import annotations

from collections.abc import Iterable

from crypto import epoch as sender_keys
from crypto.aead import XNONCE_SIZE
from crypto.envelope import MAX_OVERHEAD, seal_message
from net.proto._client_base import ClientBase, ClientState
from net.proto._errors import LocalProtocolError
from net.proto._frames import MAX_CLIENT_FRAME, FrameType
from net.proto._keyring import Recipient
from net.proto._messages import MESSAGE_ID_SIZE, PendingMessage, encode_chat, encode_shares

_T = FrameType
# What a CHAT frame body spends besides the envelopes: type byte, transport tag, u16 count;
# and each envelope its u32 length.
_CHAT_FRAME_OVERHEAD = 1 + 16 + 2
_PER_MESSAGE = 4
# Shares per SHARES frame: each is a recipient key and a share (32 + 180 bytes).
_SHARES_PER_FRAME = (MAX_CLIENT_FRAME - 1 - 16 - 2) // (32 + sender_keys.SHARE_SIZE)


class SendMixin(ClientBase):
    """:meth:`send_messages` and what it needs: message ids, the size limit, SHARES."""

    def new_message_id(self) -> bytes:
        """A fresh random 16-byte message id. Keep it with the text until the echo arrives."""
        return self._random_bytes(MESSAGE_ID_SIZE)

    def send_messages(self, messages: Iterable[PendingMessage | tuple[str, bytes, int]]) -> None:
        """Sign and seal each message for the room and queue them in one CHAT frame (several
        only if they cannot fit one). Only after Welcomed. Raises :class:`LocalProtocolError`,
        sending nothing, if a text exceeds :meth:`message_limit`, an id is not 16 bytes, or a
        text or content type has no UTF-8 form (lone surrogates) or does not fit its field."""
        self._require(ClientState.JOINED)
        keys = self._keys
        if keys is None:  # unreachable: JOINED implies a finished PAKE with keys
            raise LocalProtocolError("no room keys")
        pending = [m if isinstance(m, PendingMessage) else PendingMessage(*m) for m in messages]
        if not pending:
            return
        checked = []
        for message in pending:  # validate everything before sealing anything
            try:
                data = message.wire_body()
                type_size = len(message.content_type.encode("utf-8"))
            except UnicodeEncodeError:
                raise LocalProtocolError("text or content type is not valid Unicode") from None
            if type_size > 255:
                raise LocalProtocolError("content type longer than 255 bytes")
            limit = self.message_limit(message.content_type)
            if len(data) > limit:
                raise LocalProtocolError(
                    f"The message is {len(data)} bytes long; this room accepts at most {limit}."
                )
            if len(message.message_id) != MESSAGE_ID_SIZE:
                raise LocalProtocolError(f"message_id must be {MESSAGE_ID_SIZE} bytes")
            if not 0 <= message.timestamp_ms < 2**64:
                raise LocalProtocolError("timestamp out of range")
            checked.append((message, data))
        epoch, message_key, counter, shares = self.keyring.prepare_send(
            room_id=self._room_id,
            member_key=keys.member,
            recipients=lambda: [Recipient(m.signing_key, m.dh_key) for m in self.members.values()],
            count=len(checked),
            now_ms=max(message.timestamp_ms for message, _ in checked),
        )
        self._send_shares(shares)
        batch: list[bytes] = []
        size = _CHAT_FRAME_OVERHEAD
        for message, data in checked:
            envelope = seal_message(
                message_key,
                identity=self.identity,
                room_id=self._room_id,
                sender=self.username,
                message_id=bytes(message.message_id),
                epoch=epoch,
                counter=counter,
                timestamp_ms=message.timestamp_ms,
                content_type=message.content_type,
                body=data,
                nonce=self._random_bytes(XNONCE_SIZE),
            )
            counter += 1
            if batch and size + _PER_MESSAGE + len(envelope) > MAX_CLIENT_FRAME:
                self._send_sealed(_T.CHAT, encode_chat(batch))
                batch, size = [], _CHAT_FRAME_OVERHEAD
            batch.append(envelope)
            size += _PER_MESSAGE + len(envelope)
        if batch:
            self._send_sealed(_T.CHAT, encode_chat(batch))
        # Our messages count among the recent ones from the moment they are sealed, not when
        # they come back: one whose echo is lost (a drop) may be in the room's history under
        # this key, and we must still be able to hand the key to a member who asks for it.
        self.keyring.seen(self.identity.signing_public, epoch, count=len(checked))

    def _send_shares(self, shares: list[tuple[bytes, bytes]]) -> None:
        for start in range(0, len(shares), _SHARES_PER_FRAME):
            self._send_sealed(_T.SHARES, encode_shares(shares[start : start + _SHARES_PER_FRAME]))

    def message_limit(self, content_type: str = "text/plain") -> int:
        """The largest message (UTF-8 bytes) that may be sent now: the room's limit, or what
        fits one CHAT frame if that is smaller."""
        type_bytes = len(content_type.encode("utf-8"))
        fits = MAX_CLIENT_FRAME - _CHAT_FRAME_OVERHEAD - _PER_MESSAGE - MAX_OVERHEAD
        return min(self.max_message_bytes, fits + 255 - type_bytes)
