"""The progress display: what it draws and when (a fake clock), and, end to end on a real
pip cache with stderr on a pseudo-terminal, which commands show which phase, and that it
stays out of JSON, ``-q``, the ``--log`` file, pipes and the command's own output."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pip_cache_plus.cli.render.progress import INTERVAL, ProgressLine, delay_from, progress_text
from realpip import BuiltCache

pytestmark = pytest.mark.usefixtures("index_env")

ERASE = "\r\x1b[K"
WORDS = ("Walking", "Reading index pages", "Checking", "Exporting", "Migrating", "Syncing")
DRAWN = re.compile(r"\x1b\[K((?:" + "|".join(WORDS) + r"|Removing)[^\x1b]*)")


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _line(delay: float = 0.5, width: int = 80) -> tuple[ProgressLine, _Terminal, _Clock]:
    clock, out = _Clock(), _Terminal()
    return ProgressLine(out, delay=delay, clock=clock, width=lambda: width), out, clock


def test_the_words_counts_and_bar() -> None:
    assert progress_text("walking", 12345, None) == "Walking the cache: 12,345 entries"
    assert progress_text("hashing", 5, 10) == (
        "Checking and hashing: 5/10 entries [##########..........] 50%"
    )
    assert progress_text("migrating", 2_500_000, 10_000_000) == (
        "Migrating: 2.5 MB/10.0 MB [#####...............] 25%"
    )
    assert progress_text("syncing", 512, None) == "Syncing to disk: 512 files"


def test_nothing_is_drawn_before_the_delay() -> None:
    line, out, clock = _line(delay=0.5)
    line("walking", 64, None)
    clock.now += 0.4
    line("walking", 128, None)
    assert out.getvalue() == ""
    clock.now += 0.2
    line("walking", 192, None)
    assert out.getvalue() == ERASE + "Walking the cache: 192 entries"


def test_redrawn_at_most_every_interval_but_at_once_for_a_new_phase() -> None:
    line, out, clock = _line(delay=0)
    line("walking", 64, None)
    line("walking", 128, None)  # too soon: skipped
    assert out.getvalue().count(ERASE) == 1
    line("naming", 128, None)  # a new phase: drawn now, or the old words would stay
    assert out.getvalue().endswith(ERASE + "Reading index pages and naming entries: 128 entries")
    clock.now += INTERVAL
    line("naming", 128, None)
    assert out.getvalue().count(ERASE) == 3


def test_a_phase_that_ends_erases_the_line_and_clear_is_idempotent() -> None:
    line, out, _ = _line(delay=0)
    line("checking", 1, 4)
    line("checking", 4, 4)
    assert out.getvalue() == ERASE + "Checking: 1/4 entries [#####...............] 25%" + ERASE
    line.clear()
    assert out.getvalue().count(ERASE) == 2  # nothing drawn, nothing erased


def test_the_line_never_wraps() -> None:
    line, out, _ = _line(delay=0, width=20)
    line("walking", 64, None)
    assert out.getvalue() == ERASE + "Walking the cache: "  # 19 columns


def test_the_delay_comes_from_the_environment() -> None:
    assert delay_from({"PIP_CACHE_PLUS_PROGRESS_DELAY": "0"}) == 0.0
    assert delay_from({"PIP_CACHE_PLUS_PROGRESS_DELAY": "bad"}) == 0.5
    assert delay_from({}) == 0.5


def _on_terminal(
    args: list[str], home: Path, *, stdout_too: bool = False
) -> tuple[int, str, bytes]:
    """Run the CLI with stderr (and stdout, with ``stdout_too``) on a pseudo-terminal:
    (exit code, what the terminal got, stdout if a pipe)."""
    master, slave = pty.openpty()
    env = {**os.environ, "HOME": str(home), "PIP_CACHE_PLUS_PROGRESS_DELAY": "0"}
    env["PIP_CACHE_PLUS_MEMO_DIR"] = str(home / "memo")
    stdout = slave if stdout_too else subprocess.PIPE
    cmd = [sys.executable, "-m", "pip_cache_plus", *args]
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=slave, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    piped: list[bytes] = []
    reader = threading.Thread(
        target=lambda: piped.append(proc.stdout.read() if proc.stdout else b"")
    )
    reader.start()  # a full pipe must not stop the child while the terminal is read
    got = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every end of the terminal is closed
            break
        if not chunk:
            break
        got += chunk
    os.close(master)
    reader.join()
    if proc.stdout is not None:
        proc.stdout.close()
    return proc.wait(timeout=60), got.decode("utf-8", "replace"), piped[0]


def _phases(terminal: str) -> set[str]:
    return {word for word in (*WORDS, "Removing") if "\x1b[K" + word in terminal}


def test_list_shows_its_phases_then_erases_them(mixed_cache: BuiltCache, tmp_path: Path) -> None:
    code, terminal, out = _on_terminal(["list", "--cache-dir", str(mixed_cache.path)], tmp_path)
    assert code == 0
    assert "Reading index pages" in _phases(terminal)
    assert terminal.endswith(ERASE)  # nothing of it stays on the screen
    plain = subprocess.run(
        [sys.executable, "-m", "pip_cache_plus", "list", "--cache-dir", str(mixed_cache.path)],
        capture_output=True,
        env={**os.environ, "HOME": str(tmp_path)},
        check=True,
    )
    assert out == plain.stdout and plain.stderr == b""  # the same answer, no tty, no progress


def test_output_on_the_same_terminal_never_lands_on_the_line(
    mixed_cache: BuiltCache, tmp_path: Path
) -> None:
    args = ["verify", "--deep", "--cache-dir", str(mixed_cache.path)]
    code, terminal, _ = _on_terminal(args, tmp_path, stdout_too=True)
    assert code == 0 and "Checked" in terminal
    drawn = DRAWN.findall(terminal)
    assert drawn and all("\n" not in text for text in drawn), drawn
    assert {"Reading index pages", "Checking"} <= _phases(terminal)  # and hashing
    assert "Checking and hashing: " in terminal


@pytest.mark.parametrize(
    "extra",
    [["-q"], ["--format", "json"], ["--format", "abspath"]],
    ids=["quiet", "json", "abspath"],
)
def test_no_progress_with_quiet_json_or_paths(
    mixed_cache: BuiltCache, tmp_path: Path, extra: list[str]
) -> None:
    args = ["list", *extra, "--cache-dir", str(mixed_cache.path)]
    code, terminal, out = _on_terminal(args, tmp_path)
    assert code == 0 and terminal == ""
    assert bool(out) == (extra != ["-q"])  # -q drops list's lines too, as pip's


def test_the_log_file_gets_no_progress(mixed_cache: BuiltCache, tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    args = ["--log", str(log), "list", "--cache-dir", str(mixed_cache.path)]
    code, terminal, _ = _on_terminal(args, tmp_path)
    assert code == 0 and "Reading index pages" in _phases(terminal)
    assert not any(word in log.read_text() for word in WORDS)


def test_export_and_remove_show_theirs(mixed_cache: BuiltCache, tmp_path: Path) -> None:
    dest = tmp_path / "wheelhouse"
    code, terminal, _ = _on_terminal(
        ["export", "*", "-d", str(dest), "--cache-dir", str(mixed_cache.path)], tmp_path
    )
    assert code == 0 and "Exporting" in _phases(terminal) and any(dest.iterdir())
    code, terminal, _ = _on_terminal(
        ["remove", "*", "--cache-dir", str(mixed_cache.path)], tmp_path
    )
    assert code == 0 and "Removing" in _phases(terminal)


def test_migrate_shows_bytes_then_the_sync(legacy_cache: BuiltCache, tmp_path: Path) -> None:
    code, terminal, out = _on_terminal(["migrate", "--cache-dir", str(legacy_cache.path)], tmp_path)
    assert code == 0 and out.startswith(b"Migrated ")
    assert {"Migrating", "Syncing"} <= _phases(terminal)
    assert re.search(r"Syncing to disk: \d+ files", terminal)
