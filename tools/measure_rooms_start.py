"""Measure the app's start with many remembered rooms: time to a usable window, and until
every room is joined.

    xvfb-run -a -s "-screen 0 1280x900x24" python tools/measure_rooms_start.py [--rooms 20]
        [--runs 5]

Sets up what a person with ``--rooms`` remembered rooms has: one real relay per room (in this
process, on 127.0.0.1), each room's record in a real Secret Service (GNOME Keyring on a private
D-Bus, as the tests start it: ``tests/net/keychain_support.py``) and ``rooms.json`` in a
settings folder of its own. Then, per run, starts a fresh Python process that imports the app,
builds the window and pumps Tk, and reports (from the moment the process was started):

- ``window``: the window is mapped with the room list filled in and the first room's
  conversation showing ("Connecting…"): the person can click, type, switch rooms;
- ``listed``: the same, measured from the app object's creation (imports excluded);
- ``joined``: every room's client has joined its room (the rooms open one after the other,
  40 ms apart, off the Tk thread).

Prints every run and the medians. Needs dbus-daemon and gnome-keyring-daemon.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, os, sys, time
started = float(os.environ["MEASURE_T0"])
sys.path.insert(0, os.environ["MEASURE_ROOT"])
import tkinter as tk
from pathlib import Path
from gui.app import App
from gui.roomlist import RoomState
from net.client.keychain import Keychain
root = tk.Tk(className="socketchat")
made = time.time()
folder = Path(os.environ["MEASURE_DIR"])
app = App(root, settings_dir=folder / "settings", data_dir=folder / "data",
          system_dark=lambda: None, keychain=Keychain.open)
root.update()
while not (root.winfo_viewable() and app.chat is not None and app.chat.winfo_viewable()):
    root.update()
window = time.time()
rows = len(app.room_list.tree.get_children())
deadline = time.time() + 60
while any(room.state is not RoomState.JOINED for room in app.rooms):
    if time.time() > deadline:
        break
    root.update()
    time.sleep(0.002)
joined = time.time()
count = sum(r.state is RoomState.JOINED for r in app.rooms)
print(json.dumps({"window": window - started, "listed": window - made,
                  "joined": joined - started, "rows": rows, "rooms_joined": count}))
app.close()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()

    from crypto.kdf import derive_room_keys
    from gui.saved import SavedRoom, save_index
    from net.client import storage
    from net.client.keychain import Keychain
    from net.relay import RelayConfig, RelayThread, RoomSecret
    from tests.net.keychain_support import redetect_backend, running_secret_service

    folder = Path(tempfile.mkdtemp(prefix="sc-measure-"))
    relays: list[RelayThread] = []
    try:
        with running_secret_service() as service:
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = service.address
            os.environ["XDG_CONFIG_HOME"] = str(folder / "xdg")
            redetect_backend()
            chain = Keychain.open()
            storage.load_identity(folder / "data")  # made once, as on a used device
            saved: list[SavedRoom] = []
            for number in range(options.rooms):
                keys = derive_room_keys(f"room {number} password", room_id=os.urandom(16), n=2**10)
                relay = RelayThread(
                    RoomSecret.from_room_keys(keys), RelayConfig(host="127.0.0.1", port=0)
                )
                port = relay.start()
                relays.append(relay)
                room = SavedRoom("127.0.0.1", port, "alice", f"Room {number + 1}", keys)
                chain.set(f"room:{keys.room_id.hex()}", room.record())
                saved.append(room)
            save_index([room.entry() for room in saved], folder / "settings")
            results = []
            for run in range(options.runs):
                env = {
                    **os.environ,
                    "MEASURE_T0": repr(time.time()),
                    "MEASURE_ROOT": str(ROOT),
                    "MEASURE_DIR": str(folder),
                }
                output = subprocess.run(  # noqa: S603
                    [sys.executable, "-c", CHILD],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=120,
                ).stdout
                result = json.loads(output.strip().splitlines()[-1])
                results.append(result)
                print(
                    f"run {run + 1}: window {result['window'] * 1000:.0f} ms "
                    f"(app {result['listed'] * 1000:.0f} ms), {result['rows']} rooms listed; "
                    f"{result['rooms_joined']} joined after {result['joined'] * 1000:.0f} ms"
                )
            for key, what in (
                ("window", "process start to a usable window"),
                ("listed", "App() to a usable window"),
                ("joined", "process start to every room joined"),
            ):
                median = statistics.median(r[key] for r in results) * 1000
                print(f"median {what}: {median:.0f} ms")
    finally:
        for relay in relays:
            relay.stop()


if __name__ == "__main__":
    main()
