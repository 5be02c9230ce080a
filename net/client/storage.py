"""Where this device keeps its identity and trust records, shared by the app and the terminal.

The folder is the per-user data directory (``platformdirs``: ``~/.local/share/SocketChat`` on
Linux, ``%LOCALAPPDATA%\\SocketChat`` on Windows), or ``$SOCKETCHAT_DATA_DIR`` when set (tests,
portable installs). The identity file is readable by its owner only (:mod:`crypto.identity`).
"""

from __future__ import annotations

import os
from pathlib import Path

from crypto.identity import Identity
from crypto.identity_file import load_or_create
from net.client.trust import TrustStore

ENV_VAR = "SOCKETCHAT_DATA_DIR"
IDENTITY_FILE = "identity.json"
TRUST_FILE = "trust.json"


def data_dir() -> Path:
    """The folder for this device's identity and trust records (not created here)."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override)
    import platformdirs  # only the front ends need it; the library takes paths

    return Path(platformdirs.user_data_dir("SocketChat", appauthor=False))


def load_identity(directory: Path | None = None) -> Identity:
    """This device's identity, created on first use. ``OSError`` or ``ValueError`` (a damaged
    file: never silently replaced, since a new identity changes this device's safety code)."""
    folder = directory if directory is not None else data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return load_or_create(folder / IDENTITY_FILE)


def open_trust(directory: Path | None = None) -> TrustStore:
    """This device's pins and trust-on-first-use records."""
    folder = directory if directory is not None else data_dir()
    return TrustStore(folder / TRUST_FILE)
