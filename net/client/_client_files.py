"""Files of a :class:`~net.client.ChatClient`: what the application calls to send and save.

:class:`_Files` checks what it can on the caller's thread (the client still running, a private
recipient this device knows) and hands the work to :class:`net.client.transfers.Transfers`,
which speaks the file frames on the worker thread and puts an uploaded file's offer in the
outbox when the relay holds it whole (``queue_offer``, in :mod:`net.client._client_messages`).
"""

from __future__ import annotations

from pathlib import Path

from net import proto
from net.client._client_core import _ClientCore


class _Files(_ClientCore):
    """Sending and saving files: ``send_file``, ``download``, ``cancel_transfer``."""

    @property
    def max_file_bytes(self) -> int | None:
        """The room's file limit from its welcome: the most a file may take on the relay,
        sealed (a file of ``n`` bytes takes ``net.proto.sealed_size(n)``, 40 bytes more per
        64,000). 0: the room keeps no files; None until the room is first joined."""
        return self.transfers.max_file_bytes

    def send_file(self, path: Path, *, private_to: bytes | None = None) -> bytes:
        """Send the file at ``path`` to the room (or, with ``private_to``, to that member only,
        as :meth:`send_private` does a text) and return the transfer's id (16 bytes) at once.

        The file is read a chunk at a time on the worker thread (never whole into memory),
        hashed and sealed under a fresh key, and stored on the relay; a reconnect resumes it
        where the relay got to. Then its offer (name, size, type, hash and key) goes out as a
        message, through the outbox like any other. Events: TransferProgress, then
        TransferFinished (its ``message_id`` is the offer's: MessageStored and the echo
        follow as for a text) or TransferFailed. The file must not change meanwhile.

        Raises ``ValueError`` with a user-readable message for a file that is missing,
        unreadable, a folder or not a regular file, larger than the room keeps
        (:attr:`max_file_bytes`), in a room that keeps no files or before the first join, or
        for a ``private_to`` this device does not know (see :meth:`send_private`);
        :class:`~net.client.ClientStopped` once the client stopped or is closing.
        """
        with self._lock:
            self._raise_if_stopped()
        if private_to is not None:
            self._private_peer(self._sealing_room(), bytes(private_to))  # ValueError if unknown
        return self.transfers.start_upload(Path(path), private_to=private_to)

    def download(
        self, message_id: bytes, dest: Path, *, offer: proto.FileOffer | None = None
    ) -> bytes:
        """Save the file offered in message ``message_id`` to ``dest`` and return the
        transfer's id (16 bytes) at once.

        The offer is the one this client reported in that MessageReceived
        (``FileContent``); pass ``offer`` for one it did not (read from the archive after a
        restart). ``dest`` is never overwritten and nothing is written through a link: it
        must not exist (pick a free name: ``net.client.filenames.unique_path``), and its
        folder must. The file is written to ``dest.name + ".part"`` beside it, each chunk
        checked as it arrives, and renamed to ``dest`` only once the whole file's SHA-256
        matches the offer's; any failure deletes the ``.part``. A reconnect resumes it. Events
        as for :meth:`send_file` (``path`` is ``dest``).

        Raises ``ValueError`` with a user-readable message for an unknown message, a file
        already being saved, or a ``dest`` (or ``.part``) that exists or cannot be created;
        :class:`~net.client.ClientStopped` once the client stopped or is closing.
        """
        with self._lock:
            self._raise_if_stopped()
        return self.transfers.start_download(bytes(message_id), Path(dest), offer)

    def cancel_transfer(self, transfer_id: bytes) -> None:
        """Stop a transfer (any thread): its TransferFailed(CANCELLED) is emitted before this
        returns, and nothing more about it after. An upload's offer is never sent and the
        relay drops what it holds of it; a download's ``.part`` is deleted. Nothing happens for
        a transfer that already ended."""
        self.transfers.cancel(bytes(transfer_id))

    def now_ms(self) -> int:
        """The wall clock in milliseconds, as message timestamps take it."""
        return int(self._wall_clock() * 1000)
