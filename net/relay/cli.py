"""``python main.py relay`` and ``python main.py room create``: the headless relay's front end.

``relay`` serves rooms until Ctrl-C or SIGTERM. It serves one room from the room password
(``--password-file``, ``$SOCKETCHAT_PASSWORD`` or a prompt: the room is made on the first start
and kept in the relay's data folder, ``password-room-PORT.room``), or one room file
(``--room-file``, written by ``room create`` on a member's machine: the relay never learns the
password), or every room file in a folder (``--rooms DIR``, on one port). Each room keeps its
room id, relay key, names and message history (SQLite, ``net.relay.history``) across
restarts, and the files members send (sealed chunks, in SQLite next to the history:
``net.relay.files``; ``--max-file-mb`` caps them, 0 turns files off); ``--data``,
``--keep-messages``, ``--keep-days`` and ``--sync`` say where and how long. Log lines go to
standard output; no line ever holds a password, a key or a message (the relay has no plaintext
to log). Behind HAProxy, ``--trust-proxy ADDR`` reads the client's address from the PROXY
protocol v2 header HAProxy sends (``net.relay.proxyheader``). On SIGTERM members are told the
relay restarts, on Ctrl-C that it shuts down; either way their clients reconnect by
themselves, and it exits 0.

``room create`` makes the room *owned* by this device's identity (the one the app and
``main.py chat`` use: ``net.client.storage``), who can then appoint admins and remove members;
the relay keeps their signed actions in the room file. The owner also chooses, once, whether
new members can read the room's recent history (the default) or see only what is sent after
they join (``--no-history-for-newcomers``): the choice is signed into the room's genesis. A
room made on the fly from a password (``relay --password-file``) has no owner.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from crypto.genesis import RoomSettings
from crypto.identity import Identity, safety_code
from crypto.kdf import derive_room_keys
from net.passwords import PasswordSourceError, read_password
from net.proto import Invite, InviteError, Reason, format_invite
from net.relay.bindings import bindings_path
from net.relay.config import RelayConfig
from net.relay.files import open_files
from net.relay.history import HistoryOptions, Sync, open_history
from net.relay.listen import ALL_INTERFACES, describe_hosts, format_host
from net.relay.proxyheader import Network, parse_trusted
from net.relay.roomfile import RoomSecret, write_private_file
from net.relay.server import Relay

if TYPE_CHECKING:
    from net.reach import RoomAnnouncer

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def run_relay(args: argparse.Namespace) -> int:
    """Entry point for ``main.py relay``."""
    try:
        trust_proxy = _trusted_proxies(getattr(args, "trust_proxy", None) or ())
    except ValueError as exc:
        _error(f"--trust-proxy: {exc}")
        return EXIT_USAGE
    config = RelayConfig(
        host=tuple(args.bind or ()) or ALL_INTERFACES,
        port=args.port,
        max_members=args.max_members,
        max_file_bytes=getattr(args, "max_file_mb", 100) * 1024 * 1024,
        trust_proxy=trust_proxy,
    )
    data = Path(args.data) if getattr(args, "data", None) else None
    options = HistoryOptions(
        data_dir=data,
        keep_messages=getattr(args, "keep_messages", 10_000),
        keep_days=getattr(args, "keep_days", 30),
        sync=Sync(getattr(args, "sync", "normal")),
    )
    rooms = getattr(args, "rooms", None)
    if rooms is not None:
        if not Path(rooms).is_dir():
            _error(f"--rooms {rooms}: not a folder")
            return EXIT_USAGE
        try:
            if data is not None:
                data.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Every room file must load, with its names and its history, or nothing starts.
            relay = Relay(None, config, rooms_dir=Path(rooms), history_options=options)
        except (OSError, ValueError) as exc:
            _error(_os_error(exc) if isinstance(exc, OSError) else str(exc))
            return EXIT_FAILED
        return _run(relay, args, config)
    try:
        secret, room_file = _relay_secret(args, data)
    except KeyboardInterrupt:  # Ctrl-C at the prompt or during scrypt: nothing to close yet
        return EXIT_OK
    except OSError as exc:
        if args.room_file is not None:
            _error(f"cannot read the room file {args.room_file}: {_os_error(exc)}")
        else:
            where = getattr(exc, "filename", None) or "the relay's data folder"
            _error(f"cannot keep the room in {where}: {_os_error(exc)}")
        return EXIT_USAGE
    except (PasswordSourceError, ValueError) as exc:
        _error(str(exc))
        return EXIT_USAGE
    names_file = bindings_path(room_file) if room_file is not None else None
    history = files = None
    try:
        if room_file is not None:
            if data is not None:
                data.mkdir(mode=0o700, parents=True, exist_ok=True)
            history = open_history(room_file, secret.room_id, options)
            if config.max_file_bytes:
                files = open_files(room_file, secret.room_id, options)
        # A damaged names file, history or files database, or a saved room action that does
        # not apply, stops the relay here, in plain words.
        relay = Relay(
            secret,
            config,
            names_file=names_file,
            room_file=room_file,
            history=history,
            files=files,
            history_options=options,
        )
    except (OSError, ValueError) as exc:
        if history is not None:
            history.close()
        if files is not None:
            files.close()
        _error(_os_error(exc) if isinstance(exc, OSError) else str(exc))
        return EXIT_FAILED
    return _run(relay, args, config)


def _trusted_proxies(values: Sequence[str]) -> tuple[Network, ...]:
    """The networks of every ``--trust-proxy`` (each a comma-separated list)."""
    return tuple(network for value in values for network in parse_trusted(value))


def _run(relay: Relay, args: argparse.Namespace, config: RelayConfig) -> int:
    _log_to_stdout()
    if config.trust_proxy:
        logging.getLogger("socketchat.relay").info(
            "trusting PROXY protocol v2 headers from %s only",
            ", ".join(str(network) for network in config.trust_proxy),
        )
    _raise_file_limit(config)
    try:
        return asyncio.run(_serve(relay, announce=getattr(args, "announce", None)))
    except KeyboardInterrupt:  # Ctrl-C before the handler was installed, or on Windows
        return EXIT_OK


def run_room_create(args: argparse.Namespace) -> int:
    """Entry point for ``main.py room create --out FILE``."""
    path = Path(args.out)
    if args.invite_for is not None:  # checked before the password is asked for
        try:
            host, port = args.invite_for
            format_invite(Invite(host, port, bytes(16), bytes(32), "x"))
        except InviteError as exc:
            _error(f"--invite-for: {exc}")
            return EXIT_USAGE
    if path.exists() and not args.force:
        _error(f"{path} already exists; choose another name or add --force to replace it.")
        return EXIT_USAGE
    try:
        owner = _device_identity()
    except (OSError, ValueError) as exc:
        _error(f"cannot load this device's identity (the room's owner): {exc}")
        return EXIT_FAILED
    try:
        password = read_password(password_file=args.password_file, confirm=True)
    except PasswordSourceError as exc:
        _error(str(exc))
        return EXIT_USAGE
    _say("Deriving the room keys (scrypt, about a second)...")
    history = getattr(args, "history_for_newcomers", True)
    settings = RoomSettings.HISTORY_FOR_NEWCOMERS if history else RoomSettings(0)
    try:
        secret = RoomSecret.create_owned(password, owner, settings=settings)
    except ValueError as exc:  # the password breaks the rules
        _error(str(exc))
        return EXIT_USAGE
    try:
        secret.save(path, overwrite=args.force)
    except OSError as exc:
        _error(f"cannot write {path}: {_os_error(exc)}")
        return EXIT_FAILED
    _say(f"Room file written to {path} (room {secret.room_id.hex()[:8]}).")
    _say(
        f"You (safety code {safety_code(owner.public)}) own this room: you can appoint "
        "admins and remove members."
    )
    if history:
        _say("New members can read the room's recent history (a member present shares it).")
    else:
        _say("New members see only what is sent after they join (--no-history-for-newcomers).")
    _say(f"Start a relay for it with:  main.py relay --room-file {path}")
    _say("Keep the file private: whoever has it can host the room and try to guess the password.")
    if args.invite_for is not None:
        host, port = args.invite_for
        invite = Invite(host, port, secret.room_id, secret.relay_key, password)
        invite_path = path.with_name(path.name + ".invite")
        try:
            write_private_file(
                invite_path, (format_invite(invite) + "\n").encode("utf-8"), overwrite=True
            )
        except OSError as exc:
            _error(f"cannot write {invite_path}: {_os_error(exc)}")
            return EXIT_FAILED
        _say(
            f"Invite for {host}:{port} written to {invite_path}: it holds the password, so send "
            "it only by a way you trust. Friends join with it in the app (Paste invite) or with "
            "main.py chat --invite-file FILE NAME."
        )
    return EXIT_OK


def _device_identity() -> Identity:
    """This device's identity, as the app and ``main.py chat`` use it (created on first use
    in the per-user data folder, or ``$SOCKETCHAT_DATA_DIR``)."""
    from net.client.storage import load_identity  # the relay itself needs no client code

    return load_identity()


def _relay_secret(args: argparse.Namespace, data: Path | None) -> tuple[RoomSecret, Path | None]:
    """The room to serve and its room file: ``--room-file``, or the room kept for the
    password (made on the first start: :func:`_password_room`)."""
    if args.room_file is not None:
        return RoomSecret.load(args.room_file), Path(args.room_file)
    password = read_password(password_file=args.password_file, confirm=True)
    _say("Deriving the room keys (scrypt, about a second)...")
    if args.port == 0:
        # A port picked anew on each start: nobody could find the room again, so it is not
        # kept (a new room id and relay key each time, history in memory).
        return RoomSecret.from_password(password), None
    path = (data if data is not None else _default_data_dir()) / f"password-room-{args.port}.room"
    return _password_room(password, path), path


def _password_room(password: str, path: Path) -> RoomSecret:
    """The room of ``relay --password-file`` on one port, kept in ``path`` so that it stays
    the same room across restarts (room id, relay key, names, history).

    Made on the first start (nobody owns it: there is no owner's identity on a server to make
    it with). Later starts check the password against it: the same password keeps everything;
    another one keeps the room id and relay key (members' pins still match) with the new
    password's verifier, and says so. ``OSError`` if the folder or file cannot be written.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        secret = RoomSecret.load(path)
    except FileNotFoundError:
        secret = RoomSecret.from_password(password)
        secret.save(path)
        _say(f"New room {secret.room_id.hex()[:8]}, kept in {path} for the next starts.")
        return secret
    access = derive_room_keys(password, room_id=secret.room_id).access
    if access != secret.access:
        secret = secret.with_access(access)
        secret.save(path, overwrite=True)
        _say(
            f"The password is not the one room {secret.room_id.hex()[:8]} had: it keeps its id "
            "and relay key, and members need the new password."
        )
    else:
        _say(f"Serving room {secret.room_id.hex()[:8]} again (kept in {path}).")
    return secret


def _default_data_dir() -> Path:
    """Where a relay keeps what it makes itself, unless ``--data`` says: the per-user data
    folder (``$SOCKETCHAT_DATA_DIR`` when set), under ``relay``."""
    from net.client.storage import data_dir  # the folder only: no client code runs

    return data_dir() / "relay"


async def _serve(relay: Relay, *, announce: str | None = None) -> int:
    """Serve until a signal; ``announce`` (a label, "" for the default one) also announces
    the room on the local network with mDNS/DNS-SD while it runs."""
    config = relay.config
    stopped: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    _on_signals(stopped)  # before the listening line: whoever reads it may signal at once
    try:
        await relay.start()
    except OSError as exc:
        hosts = (config.host,) if isinstance(config.host, str) else config.host
        addresses = tuple((host, config.port) for host in hosts if host != ALL_INTERFACES)
        where = _listening(addresses or (("::", config.port),), config.host)
        _error(f"cannot listen on {where}: {_bind_error(exc)}")
        return EXIT_FAILED
    _say(f"SocketChat relay listening on {_listening(relay.addresses, config.host)}")
    announcer = None if announce is None else await _announce(announce, relay.port)
    reason = Reason.ROOM_CLOSING
    try:
        signal_name = await stopped
        reason = _SIGNAL_REASONS[signal_name]
        logging.getLogger("socketchat.relay").info(
            "stopping on %s: members are told %s", signal_name, _SIGNAL_WORDS[reason]
        )
    finally:
        if announcer is not None:
            await asyncio.to_thread(announcer.close)
        await relay.stop(reason)
    return EXIT_OK


async def _announce(label: str, port: int) -> RoomAnnouncer | None:
    """Announce the relay on the local network; a failure is said and serving goes on."""
    from net.reach import RoomAnnouncer

    announcer = RoomAnnouncer(label or f"SocketChat relay on {socket.gethostname()}", port)
    try:
        await asyncio.to_thread(announcer.start)
    except (OSError, ImportError) as exc:
        _error(f"cannot announce the room on the local network: {exc}")
        return None
    _say(f"Announced on the local network as {announcer.name!r} (mDNS/DNS-SD)")
    return announcer


def _listening(addresses: tuple[tuple[str, int], ...], host: str | tuple[str, ...]) -> str:
    """``127.0.0.1:7777``; ``127.0.0.1:7777 and [::1]:7777``; ``[::]:7777 (all addresses,
    IPv4 and IPv6)`` for the dual-stack default."""
    text = " and ".join(f"{format_host(address)}:{port}" for address, port in addresses)
    if host in (ALL_INTERFACES, ()):
        text += f" ({describe_hosts(ALL_INTERFACES)})"
    return text


#: What members are told when a signal stops the relay (docs/RELAY.md, "Stopping and
#: restarting"). SIGTERM is what a service manager sends, for a restart (an upgrade, a changed
#: setting) as for a stop: members reconnect by themselves, soon, and keep retrying with
#: backoff if it does not come back. Ctrl-C is a person ending a relay they run by hand, which
#: comes back only if they start it again: members hear that it is shutting down, and retry
#: with backoff all the same (a restarted relay serves the same rooms and history).
_SIGNAL_REASONS = {"SIGTERM": Reason.RELAY_RESTARTING, "SIGINT": Reason.ROOM_CLOSING}
_SIGNAL_WORDS = {
    Reason.RELAY_RESTARTING: "the relay is restarting",
    Reason.ROOM_CLOSING: "the relay is shutting down",
}


def _on_signals(stopped: asyncio.Future[str]) -> None:
    """Ctrl-C and SIGTERM end ``stopped`` with the signal's name (the first one counts); the
    rooms are then closed politely, their members told why (:data:`_SIGNAL_REASONS`)."""
    loop = asyncio.get_running_loop()

    def stop(name: str) -> None:
        if not stopped.done():
            stopped.set_result(name)

    for name in _SIGNAL_REASONS:
        sig = getattr(signal, name, None)
        if sig is None:
            continue
        try:
            loop.add_signal_handler(sig, stop, name)
        except (NotImplementedError, RuntimeError):  # Windows' event loops have no such hook
            with contextlib.suppress(ValueError, OSError):
                signal.signal(sig, lambda *_, n=name: loop.call_soon_threadsafe(stop, n))


def _raise_file_limit(config: RelayConfig) -> None:
    """Let the process hold a socket for every member and every connection waiting to join.

    Linux starts processes with 1024 open files by default (the soft limit), fewer than a big
    room needs; the hard limit is usually far higher, and raising the soft one to it needs no
    privilege. Says so when even that is too low.
    """
    try:
        import resource  # not on Windows, whose limits are per handle table
    except ImportError:
        return
    needed = config.max_members + config.max_silent + config.max_queued + config.max_handshakes
    needed += 64  # the listening sockets, the log, the room and names files, stdin/out/err
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    if soft != resource.RLIM_INFINITY and soft < needed:
        logging.getLogger("socketchat.relay").warning(
            "this process may open only %d files; %d members and those waiting to join need "
            "about %d (raise the limit: ulimit -n, or LimitNOFILE= in a systemd unit)",
            soft,
            config.max_members,
            needed,
        )


def _log_to_stdout() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    logger = logging.getLogger("socketchat.relay")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _bind_error(exc: OSError) -> str:
    # socket.create_server adds "(while attempting to bind on address ...)": said already.
    return os.strerror(exc.errno) if exc.errno else _os_error(exc)


def _os_error(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _say(text: str) -> None:
    print(text, flush=True)


def _error(text: str) -> None:
    print(f"error: {text}", file=sys.stderr, flush=True)
