"""The crash handler: a log file in the given folder, a readable message, never a bare traceback."""

from __future__ import annotations

import os
import stat
import sys
import threading

import pytest

from gui import crash


class Boom(RuntimeError):
    pass


def _shown() -> tuple[list[tuple[str, str]], object]:
    calls: list[tuple[str, str]] = []

    def show(title: str, message: str, parent: object) -> None:
        calls.append((title, message))

    return calls, show


def test_run_guarded_returns_what_the_app_returns(tmp_path):
    calls, show = _shown()

    assert crash.run_guarded(lambda: 0, directory=tmp_path, show=show) == 0
    assert calls == []
    assert list(tmp_path.iterdir()) == []


def test_a_crash_writes_a_private_log_and_shows_where_it_is(tmp_path, capsys):
    calls, show = _shown()

    def start() -> int:
        raise Boom("the window could not be built")

    status = crash.run_guarded(start, directory=tmp_path, show=show)

    assert status == crash.EXIT_CRASH
    (log,) = tmp_path.iterdir()
    text = log.read_text(encoding="utf-8")
    assert "SocketChat 0.1.0" in text
    assert "Boom: the window could not be built" in text
    assert "Traceback" in text  # the file has the details...
    if os.name == "posix":
        assert stat.S_IMODE(log.stat().st_mode) == 0o600
    ((title, message),) = calls
    assert title == "SocketChat stopped"
    assert str(log) in message  # ...the person gets its location, not the traceback
    assert "Traceback" not in message
    err = capsys.readouterr().err
    assert str(log) in err and "Traceback" not in err


def test_the_message_says_so_when_no_log_could_be_written(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    calls, show = _shown()

    crash.report_crash(Boom("x"), directory=blocker / "logs", show=show)

    assert "could not be saved" in calls[0][1]


def test_a_failing_dialog_does_not_hide_the_crash(tmp_path):
    def broken_show(title: str, message: str, parent: object) -> None:
        raise RuntimeError("no display")

    path = crash.report_crash(Boom("x"), directory=tmp_path, show=broken_show)

    assert path is not None and path.is_file()


def test_no_console_no_problem(tmp_path, monkeypatch):
    # The windowed Windows build has sys.stderr = None.
    monkeypatch.setattr(sys, "stderr", None)
    calls, show = _shown()

    crash.report_crash(Boom("x"), directory=tmp_path, show=show)

    assert len(calls) == 1


def test_tk_callback_exceptions_are_reported(tmp_path, monkeypatch):
    class FakeRoot:
        report_callback_exception = None

    reported: list[tuple[BaseException, object]] = []
    monkeypatch.setattr(
        crash, "report_crash", lambda error, **kw: reported.append((error, kw["parent"]))
    )
    root = FakeRoot()
    crash.install_tk_handler(root, directory=tmp_path)
    try:
        raise Boom("in a callback")
    except Boom as error:
        root.report_callback_exception(type(error), error, error.__traceback__)

    assert isinstance(reported[0][0], Boom)
    assert reported[0][1] is root


def test_worker_thread_failures_are_logged(tmp_path, monkeypatch):
    monkeypatch.setattr(crash, "log_dir", lambda: tmp_path)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)  # restored afterwards
    crash.run_guarded(lambda: 0, directory=tmp_path)

    def work() -> None:
        raise Boom("in a worker")

    thread = threading.Thread(target=work, name="worker")
    thread.start()
    thread.join()

    (log,) = tmp_path.iterdir()
    assert "the thread worker" in log.read_text(encoding="utf-8")


@pytest.mark.parametrize("error", [KeyboardInterrupt(), SystemExit(3)])
def test_interrupts_and_exits_pass_through(tmp_path, error):
    def start() -> int:
        raise error

    with pytest.raises(type(error)):
        crash.run_guarded(start, directory=tmp_path, show=lambda *a: None)
    assert list(tmp_path.iterdir()) == []
