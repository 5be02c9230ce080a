"""The identity file: crypto.identity.load_or_create / load over crypto._keyfile.

Groups: creation (mode 0600 from the first byte, atomic, never replacing, parents 0700);
loading checks (POSIX permissions and owner, size, format, damage: always KeyFileError, never a
new identity); call order and races (load of a missing file, a second instance winning the
race, no temporary files left); the Windows branch (argv of icacls, called before any secret
byte is written), exercised here with the platform flags switched.
"""

from __future__ import annotations

import json
import os
import stat

import pytest

from crypto import _keyfile
from crypto import identity_file as identity_module
from crypto.errors import KeyFileError
from crypto.identity import Identity
from crypto.identity_file import load, load_or_create

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permission checks")

FIXED = Identity.from_secret(bytes(range(64)))


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _write(path, data: bytes, mode: int = 0o600) -> None:
    path.write_bytes(data)
    os.chmod(path, mode)


def _valid_document() -> dict[str, object]:
    return json.loads(identity_module._encode_file(FIXED))


def _write_doc(path, document: dict[str, object], mode: int = 0o600) -> None:
    _write(path, json.dumps(document).encode(), mode)


@pytest.fixture
def permissive_umask():
    # Creation must not rely on the user's umask for its privacy.
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


# --------------------------------------------------------------------------- creation


def test_first_use_creates_private_file(tmp_path, permissive_umask):
    path = tmp_path / "identity.json"
    created = load_or_create(path)
    assert _mode(path) == 0o600
    assert os.stat(path).st_uid == os.geteuid()
    again = load_or_create(path)
    assert again.public == created.public
    assert again.to_secret() == created.to_secret()
    assert load(path).public == created.public


def test_file_layout(tmp_path):
    path = tmp_path / "identity.json"
    identity = load_or_create(path)
    document = json.loads(path.read_text(encoding="ascii"))
    assert document == {
        "format": "socketchat-identity",
        "version": 1,
        "secret": identity.to_secret().hex(),
        "signing_public": identity.signing_public.hex(),
        "dh_public": identity.dh_public.hex(),
    }


def test_missing_parents_created_private(tmp_path, permissive_umask):
    path = tmp_path / "config" / "socketchat" / "identity.json"
    load_or_create(path)
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700


def test_file_is_private_from_its_first_byte(tmp_path, monkeypatch, permissive_umask):
    # Every file descriptor that receives secret bytes must belong to a file that was
    # created O_EXCL with mode 0600 and has that mode at the time of the write.
    opened: dict[int, tuple[str, int, int]] = {}
    real_open, real_write = os.open, os.write

    def spy_open(path, flags, mode=0o777, *args, **kwargs):
        fd = real_open(path, flags, mode, *args, **kwargs)
        opened[fd] = (os.fspath(path), flags, mode)
        return fd

    writes = []

    def spy_write(fd, data):
        path, flags, mode = opened[fd]
        writes.append((path, flags, mode, stat.S_IMODE(os.fstat(fd).st_mode)))
        return real_write(fd, data)

    monkeypatch.setattr(_keyfile.os, "open", spy_open)
    monkeypatch.setattr(_keyfile.os, "write", spy_write)
    load_or_create(tmp_path / "identity.json")
    assert writes
    for path, flags, mode, actual in writes:
        assert flags & os.O_CREAT and flags & os.O_EXCL, path
        assert mode == 0o600 and actual == 0o600, path
        assert os.path.dirname(path) == str(tmp_path)
        assert not path.endswith("identity.json")  # a temporary name, published afterwards


def test_no_temporary_files_left(tmp_path):
    load_or_create(tmp_path / "identity.json")
    assert os.listdir(tmp_path) == ["identity.json"]


def test_create_never_replaces(tmp_path):
    path = tmp_path / "identity.json"
    _write(path, b"someone else's file")
    with pytest.raises(FileExistsError):
        _keyfile.create_private_file(path, b"new secret")
    assert path.read_bytes() == b"someone else's file"
    assert os.listdir(tmp_path) == ["identity.json"]


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_keyfile.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        load_or_create(tmp_path / "identity.json")
    assert os.listdir(tmp_path) == []


def test_without_hard_links_falls_back_to_rename(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(_keyfile.os, "link", no_links)
    path = tmp_path / "identity.json"
    created = load_or_create(path)
    assert _mode(path) == 0o600
    assert load(path).public == created.public
    assert os.listdir(tmp_path) == ["identity.json"]
    with pytest.raises(FileExistsError):  # still never replaces
        _keyfile.create_private_file(path, b"x")
    assert load(path).public == created.public


# --------------------------------------------------------------------------- loading checks


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o602, 0o620, 0o610, 0o666])
def test_group_or_other_access_is_refused(tmp_path, mode):
    path = tmp_path / "identity.json"
    load_or_create(path)
    before = path.read_bytes()
    os.chmod(path, mode)
    for call in (load, load_or_create):
        with pytest.raises(KeyFileError, match="chmod 600"):
            call(path)
    assert _mode(path) == mode  # not silently tightened: the user must look at it
    assert path.read_bytes() == before


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_owner_only_modes_accepted(tmp_path, mode):
    path = tmp_path / "identity.json"
    created = load_or_create(path)
    os.chmod(path, mode)
    assert load(path).public == created.public


def test_file_of_another_user_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "identity.json"
    load_or_create(path)
    monkeypatch.setattr(_keyfile.os, "geteuid", lambda: os.stat(path).st_uid + 1)
    with pytest.raises(KeyFileError, match="another user"):
        load_or_create(path)


def test_oversized_file_refused_before_parsing(tmp_path, monkeypatch):
    path = tmp_path / "identity.json"
    document = _valid_document()
    big = json.dumps(document, indent=4000).encode()
    assert len(big) > _keyfile.MAX_FILE_BYTES
    _write(path, big)
    parsed, reads = [], []
    real_read = os.read
    monkeypatch.setattr(identity_module.json, "loads", lambda *a, **k: parsed.append(1))
    monkeypatch.setattr(_keyfile.os, "read", lambda fd, n: reads.append(n) or real_read(fd, n))
    with pytest.raises(KeyFileError, match="too large"):
        load_or_create(path)
    assert not parsed
    assert not reads  # refused from its size alone, not a byte read
    assert path.read_bytes() == big


def test_size_limit_is_4_kib(tmp_path):
    path = tmp_path / "f"
    _write(path, b"x" * 4096)
    assert _keyfile.read_private_file(path) == b"x" * 4096
    _write(path, b"x" * 4097)
    with pytest.raises(KeyFileError):
        _keyfile.read_private_file(path)


def test_not_a_regular_file(tmp_path):
    directory = tmp_path / "identity.json"
    directory.mkdir(mode=0o700)
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_or_create(directory)


def test_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "identity.json"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_or_create(fifo)


def _damaged_variants() -> list[tuple[str, bytes]]:
    good = identity_module._encode_file(FIXED)
    doc = _valid_document()
    variants: list[tuple[str, bytes]] = [
        ("empty", b""),
        ("not json", b"identity, please"),
        ("not utf-8", b"\xff\xfe{}"),
        ("json list", b"[]"),
        ("json string", b'"socketchat-identity"'),
    ]
    variants += [(f"truncated at {n}", good[:n]) for n in (1, 10, len(good) // 2, len(good) - 3)]

    def variant(name: str, **changes: object) -> None:
        changed = dict(doc)
        for key, value in changes.items():
            if value is _DELETE:
                del changed[key]
            else:
                changed[key] = value
        variants.append((name, json.dumps(changed).encode()))

    variant("other format", format="socketchat-room")
    variant("no format", format=_DELETE)
    variant("no version", version=_DELETE)
    variant("no secret", secret=_DELETE)
    variant("no dh key", dh_public=_DELETE)
    variant("extra field", comment="hi")
    variant("secret upper case", secret=str(doc["secret"]).upper())
    variant("secret short", secret=str(doc["secret"])[:-2])
    variant("secret long", secret=str(doc["secret"]) + "00")
    variant("secret with spaces", secret=" ".join(str(doc["secret"])))
    variant("secret not str", secret=list(bytes(64)))
    variant("secret one bit off", secret=_flip_hex(str(doc["secret"]), 5))
    variant("dh secret one bit off", secret=_flip_hex(str(doc["secret"]), 100))
    variant("public key off", signing_public=_flip_hex(str(doc["signing_public"]), 0))
    variant("dh public off", dh_public=_flip_hex(str(doc["dh_public"]), 63))
    return variants


_DELETE = object()


def _must_not_be_called(*args: object, **kwargs: object) -> None:
    raise AssertionError("a new identity was attempted over an existing file")


def _flip_hex(text: str, index: int) -> str:
    digit = int(text[index], 16) ^ 1
    return text[:index] + f"{digit:x}" + text[index + 1 :]


@pytest.mark.parametrize(("name", "data"), _damaged_variants(), ids=lambda v: str(v)[:30])
def test_damaged_file_is_an_error_never_a_new_identity(tmp_path, monkeypatch, name, data):
    path = tmp_path / "identity.json"
    _write(path, data)
    # Not even an attempt to make a new one (that it could not replace the file is a second,
    # independent safeguard).
    monkeypatch.setattr(Identity, "generate", _must_not_be_called)
    monkeypatch.setattr(_keyfile, "create_private_file", _must_not_be_called)
    for call in (load, load_or_create):
        with pytest.raises(KeyFileError) as caught:
            call(path)
        assert isinstance(caught.value, ValueError)
        assert str(path) in str(caught.value)
        assert FIXED.to_secret().hex() not in str(caught.value)
        assert FIXED.to_secret().hex()[:16] not in str(caught.value)
    assert path.read_bytes() == data  # untouched
    assert os.listdir(tmp_path) == ["identity.json"]


@pytest.mark.parametrize("version", [0, 2, "1", 1.0, True, None])
def test_other_versions_refused(tmp_path, version):
    path = tmp_path / "identity.json"
    doc = _valid_document()
    doc["version"] = version
    _write_doc(path, doc)
    with pytest.raises(KeyFileError):
        load_or_create(path)


def test_hand_written_valid_file_loads(tmp_path):
    path = tmp_path / "identity.json"
    _write_doc(path, _valid_document())
    assert load(path).to_secret() == FIXED.to_secret()


# --------------------------------------------------------------------------- call order, races


def test_load_of_missing_file_raises_and_creates_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "identity.json")
    assert os.listdir(tmp_path) == []


def test_dangling_symlink_is_not_replaced(tmp_path):
    path = tmp_path / "identity.json"
    path.symlink_to(tmp_path / "missing-target.json")
    with pytest.raises(FileNotFoundError):
        load_or_create(path)
    assert path.is_symlink()
    assert sorted(os.listdir(tmp_path)) == ["identity.json"]


def test_second_instance_wins_race_keeps_first_identity(tmp_path, monkeypatch):
    # Another app instance creates the file between our failed load and our create: we must
    # end up with *its* identity, not overwrite it with ours.
    path = tmp_path / "identity.json"
    real_create = _keyfile.create_private_file

    def racing_create(target, data):
        real_create(target, identity_module._encode_file(FIXED))  # the other instance
        real_create(target, data)  # ours: must fail

    monkeypatch.setattr(_keyfile, "create_private_file", racing_create)
    assert load_or_create(path).to_secret() == FIXED.to_secret()
    monkeypatch.undo()
    assert load(path).to_secret() == FIXED.to_secret()


# --------------------------------------------------------------------------- Windows branch


def test_windows_branch_restricts_before_writing(tmp_path, monkeypatch):
    calls = []

    def fake_restrict(path: str) -> None:
        calls.append((path, os.path.getsize(path)))

    monkeypatch.setattr(_keyfile, "_WINDOWS", True)
    monkeypatch.setattr(_keyfile, "restrict_to_current_user", fake_restrict)
    target = tmp_path / "identity.json"
    load_or_create(target)
    assert len(calls) == 1
    restricted, size_then = calls[0]
    assert size_then == 0  # no secret byte was in the file yet
    assert os.path.dirname(restricted) == str(tmp_path) and restricted != str(target)


def test_windows_restriction_failure_leaves_nothing(tmp_path, monkeypatch):
    def failing(path: str) -> None:
        raise OSError("icacls exited 5")

    monkeypatch.setattr(_keyfile, "_WINDOWS", True)
    monkeypatch.setattr(_keyfile, "restrict_to_current_user", failing)
    with pytest.raises(OSError, match="icacls"):
        load_or_create(tmp_path / "identity.json")
    assert os.listdir(tmp_path) == []


def test_icacls_argv(monkeypatch):
    seen = []

    class Done:
        returncode = 0

    def fake_run(argv, **kwargs):
        seen.append((argv, kwargs))
        return Done()

    monkeypatch.setattr(_keyfile.subprocess, "run", fake_run)
    monkeypatch.setenv("SYSTEMROOT", r"C:\Windows")
    monkeypatch.setenv("USERNAME", "alice")
    monkeypatch.setenv("USERDOMAIN", "LAPTOP")
    _keyfile.restrict_to_current_user(r"C:\Users\alice\id.json")
    argv, kwargs = seen[0]
    assert argv == [
        os.path.join(r"C:\Windows", "System32", "icacls.exe"),
        r"C:\Users\alice\id.json",
        "/inheritance:r",
        "/grant:r",
        "LAPTOP\\alice:F",
    ]
    assert not kwargs.get("shell")
    Done.returncode = 5
    with pytest.raises(OSError):
        _keyfile.restrict_to_current_user("x")
    monkeypatch.delenv("USERNAME")
    with pytest.raises(OSError):
        _keyfile.restrict_to_current_user("x")
