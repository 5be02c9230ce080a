"""The pictures of files and pictures in a room, for docs/screenshots/ (run through
tools/screenshots.py):

    xvfb-run -a -s "-screen 0 1280x900x24" python tools/screenshots.py files [FOLDER]

The real app with a real relay on 127.0.0.1 and real members (``bob`` and ``carol``, real
clients, each with an identity of its own), every file sent through the relay for real:

- ``file.png``: bob sends a PDF: its card with name, size, kind and Save…;
- ``picture.png``: carol sends a photo: fetched by itself and previewed in the conversation;
- ``transfer.png``: alice sends a large video with Send a file… (the file dialog answers with
  it): its card with the progress bar and Cancel, grabbed half-way;
- ``files-dark.png`` (with ``--dark``): the same conversation in the dark theme, to look at.

The photo and the files are made here (Pillow draws the photo); settings, identities and the
picture cache go to temporary folders.
"""

from __future__ import annotations

import os
import time
import tkinter as tk
from pathlib import Path
from tkinter import filedialog
from types import ModuleType

from PIL import Image, ImageDraw

from net.client import ChatClient

PASSWORD = "files and pictures, for the screenshots only"  # noqa: S105


def _photo(path: Path) -> None:
    """A landscape at dusk: sky, sun, hills and a lake (drawn, so the pictures owe nothing)."""
    width, height = 1200, 800
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):  # the sky: deep blue to orange
        t = y / height
        draw.line(
            [(0, y), (width, y)],
            fill=(int(40 + 215 * t), int(60 + 110 * t), int(140 - 60 * t)),
        )
    draw.ellipse((760, 330, 900, 470), fill=(255, 214, 120))
    draw.polygon([(0, 560), (260, 420), (520, 540), (800, 400), (1200, 560), (1200, 800), (0, 800)],
                 fill=(52, 74, 66))  # fmt: skip
    draw.polygon([(0, 640), (400, 560), (760, 630), (1200, 580), (1200, 800), (0, 800)],
                 fill=(32, 52, 48))  # fmt: skip
    draw.rectangle((0, 690, 1200, 800), fill=(70, 96, 130))
    image.save(path, format="JPEG", quality=88)


def files_pictures(out: Path, shots: ModuleType, *, dark: bool = False) -> None:
    """Take the pictures into ``out``; ``shots`` is tools/screenshots.py (its helpers)."""
    relay, keys = shots.picture_relay(PASSWORD)
    root = tk.Tk(className="socketchat")
    folder = shots.temp_dir("socketchat-shots-files-")
    app = shots.picture_app(root, folder, dark=dark)
    friends: dict[str, ChatClient] = {}
    try:
        shots.join_as_alice(app, root, relay.port, PASSWORD)
        app.rename_room(app.current, "Hiking group")
        chat = app.chat
        chat.attachments._cache = folder / "pictures"
        chat.attachments._cache.mkdir()
        for name in ("bob", "carol"):
            friends[name] = ChatClient(
                host="127.0.0.1", port=relay.port, username=name, keys=keys,
                identity=shots.identity(name), on_event=lambda _e: None, kdf_cost=shots.CHEAP,
            )  # fmt: skip
            friends[name].start()
        shots.pump(root, lambda: len(chat.members) == 3)
        root.geometry("1150x760+0+0")

        def said(name: str, text: str) -> None:
            if name == "alice":
                chat.entry.insert("1.0", text)
                chat.send_entry()
            else:
                friends[name].send(text)
            shots.pump(root, lambda: text in chat.messages.text.get("1.0", "end"))
            shots.settle(root, 0.1)

        said("bob", "Here's the plan for Saturday, with the map and the times.")
        report = folder / "Saturday hike - route and times.pdf"
        report.write_bytes(b"%PDF-1.7\n" + os.urandom(845_000))
        friends["bob"].send_file(report)
        shots.pump(root, lambda: len(chat.attachments.cards) == 1)
        shots.settle(root, 0.4)
        shots.grab(root, "file.png", out / ("files-dark.png" if dark else "file.png"))
        if dark:
            return

        said("carol", "And the view from the top last time 😍")
        photo = folder / "view from the ridge.jpg"
        _photo(photo)
        friends["carol"].send_file(photo)
        shots.pump(root, lambda: any(c.row.photo for c in chat.attachments.cards.values()))
        shots.settle(root, 0.5)
        shots.grab(root, "picture.png", out / "picture.png")

        said("alice", "Lovely! Here's the video from last year.")
        video = folder / "Ridge walk 2024.mp4"
        with video.open("wb") as writing:
            for _ in range(90):
                writing.write(os.urandom(1_000_000))
        original = filedialog.askopenfilename
        filedialog.askopenfilename = lambda **_: str(video)  # what the person picks
        try:
            chat.file_sending.button.invoke()
        finally:
            filedialog.askopenfilename = original
        (card,) = chat.attachments.transfers.values()
        deadline = time.monotonic() + 30
        while not 0.35 <= float(card.row.bar.cget("value")) <= 0.75:
            if time.monotonic() > deadline or not chat.attachments.transfers:
                raise TimeoutError("the upload was not caught half-way")
            root.update()
            time.sleep(0.002)
        root.update_idletasks()  # drawn as it is now, then grabbed before anything moves
        shots.grab(root, "transfer.png", out / "transfer.png")
    finally:
        for friend in friends.values():
            friend.close()
        app.close()  # destroys the root too
        relay.stop()
