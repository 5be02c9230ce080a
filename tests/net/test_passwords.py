"""Password sources for the headless commands: file, environment, prompt — never argv."""

import pytest

from net.passwords import ENV_VAR, PasswordSourceError, read_password


def _no_prompt(_: str) -> str:
    raise AssertionError("must not prompt")


def test_file_wins_and_loses_one_trailing_newline(tmp_path):
    path = tmp_path / "pw"
    path.write_bytes("  spaced pässword  \n".encode())
    got = read_password(password_file=str(path), environ={ENV_VAR: "other"}, prompt=_no_prompt)
    assert got == "  spaced pässword  "


def test_environment_then_prompt():
    assert (
        read_password(password_file=None, environ={ENV_VAR: "from-env"}, prompt=_no_prompt)
        == "from-env"
    )
    answers = iter(["typed", "typed"])
    got = read_password(
        password_file=None, environ={}, is_tty=True, prompt=lambda _: next(answers), confirm=True
    )
    assert got == "typed"


def test_confirmation_mismatch_and_no_source_are_clear_errors():
    answers = iter(["one", "two"])
    with pytest.raises(PasswordSourceError, match="differ"):
        read_password(
            password_file=None,
            environ={},
            is_tty=True,
            prompt=lambda _: next(answers),
            confirm=True,
        )
    with pytest.raises(PasswordSourceError, match="--password-file"):
        read_password(password_file=None, environ={}, is_tty=False, prompt=_no_prompt)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"x" * 5000, "too large"),
        (b"\n", "empty"),
        (b"a\x00b", "control character"),
    ],
)
def test_bad_password_files(tmp_path, content, message):
    path = tmp_path / "pw"
    path.write_bytes(content)
    with pytest.raises(PasswordSourceError, match=message) as info:
        read_password(password_file=str(path), environ={}, prompt=_no_prompt)
    assert "a\x00b" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(PasswordSourceError, match="Cannot read"):
        read_password(password_file=str(tmp_path / "nope"), environ={}, prompt=_no_prompt)
