"""The README's example outputs are real runs, so they cannot drift (issue 18, item 6).

Each ``console`` block that follows a ``<!-- example: NAME -->`` line is run: its ``$``
lines, in order, in a fresh ``HOME`` whose default cache (``~/.cache/pip``) is a copy of
the mixed cache real pips 23.2.1 and the latest filled from the loopback index (or the
legacy one pip 23.2.1 filled, for :data:`CACHES`' blocks; the index URL
in ``PIP_INDEX_URL``, as a user's configuration would give it), after the setup
:data:`SETUPS` names for the block. Their output (stdout and stderr, as a terminal shows
them) must be the block's text, with the home directory written ``/home/me`` and the
loopback index ``https://index.example.org``; what differs from run to run (dates, key
paths, digests, sizes, the interpreter's tags) is masked on both sides before they are
compared.

``PCP_UPDATE_README=1 pytest tests/test_readme.py`` writes the runs' output into the
README instead (then read the diff).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from realpip import BuiltCache, copy_cache

README = Path(__file__).resolve().parents[1] / "README.md"
HOME = "/home/me"
INDEX = "https://index.example.org"
BLOCK = re.compile(r"<!-- example: (?P<name>[\w-]+) -->\n```console\n(?P<body>.*?)```", re.S)
DAY = 86400.0

pytestmark = [
    pytest.mark.realpip,
    pytest.mark.skipif(
        os.environ.get("PCP_PIP_CURRENT", "latest") != "latest",
        reason="the README shows the caches of pip 23.2.1 and the latest pip",
    ),
]

# Masked on both sides: what changes from run to run, not what the tool decides.
_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\dZ)?( \((today|\d+ days? ago)\))?"), "DATE"),
    (re.compile(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT"), "DATE"),
    (re.compile(r"\b[0-9a-f]{8,}\b"), "HEX"),
    (re.compile(r"(http(-v2)?|wheels)(/[0-9a-f]{1,2})+/"), r"\1/KEY/"),
    (re.compile(r"For \S+ \S+ on \S+ \(\S+ and \d+ more wheel tags\)"), "For INTERPRETER"),
    (re.compile(r"-cp\d+-cp\d+-[\w.]+\.whl"), "-INTERPRETER-TAGS.whl"),
    # Keys are digests of URLs holding the loopback's port: how many directories they
    # share changes from run to run.
    (re.compile(r"(Directories (that would be )?removed): \d+"), r"\1: N"),
    # So do the sizes of the pages (their links hold the port) and of the built wheel.
    (re.compile(r"\b\d[\d,.]* (bytes|kB|MB)\b"), "SIZE"),
    (re.compile(r'"(bytes|size|size_before|size_after)": \d+'), r'"\1": N'),
)


def mask(text: str) -> str:
    for pattern, token in _MASKS:
        text = pattern.sub(token, text)
    return text


@dataclass(frozen=True)
class Example:
    name: str
    body: str
    start: int  # offsets of the body in the README
    end: int


def examples(readme: str) -> list[Example]:
    return [
        Example(m["name"], m["body"], m.start("body"), m.end("body"))
        for m in BLOCK.finditer(readme)
    ]


def commands(body: str) -> list[str]:
    return [line[2:] for line in body.splitlines() if line.startswith("$ ")]


# Setups: what a block's cache holds besides the fixture's entries.


def _entries_of(home: Path, env: dict[str, str], *argv: str) -> list[Path]:
    """The files of the entries ``list --format abspath ARGV`` prints."""
    out = _run(home, f"python -m pip_cache_plus list {' '.join(argv)} --format abspath", env)
    return [Path(line) for line in out.splitlines()]


def _damage_wheel(home: Path, env: dict[str, str]) -> None:
    """One downloaded wheel's stored RECORD flipped: a CRC and a sha256 that disagree."""
    cache = home / ".cache/pip"
    (body,) = (
        p
        for p in _entries_of(home, env, "tiny_pure==1.0", "--kind wheel", "--source http-v2")
        if p.name.endswith(".body")
    )
    data = bytearray(body.read_bytes())
    at = data.find(b"tiny_pure-1.0.dist-info/RECORD") + len("tiny_pure-1.0.dist-info/RECORD")
    data[at + 4] ^= 0xFF  # inside the member's stored bytes, past its local header's name
    body.write_bytes(bytes(data))
    assert cache in body.parents


def _debris_and_old(home: Path, env: dict[str, str]) -> None:
    """prune's example: a leftover temp file (old and fresh), a body without its metadata,
    a link someone put in wheels/, and tiny_pure 1.0 in http-v2 unused for 54 days."""
    cache = home / ".cache/pip"
    now = time.time()
    # A second apart, so that the order prune lists them in is the same in every run.
    for n, kind in enumerate(("metadata", "wheel")):
        for old in _entries_of(home, env, "tiny_pure==1.0", "--source http-v2", f"--kind {kind}"):
            os.utime(old, (now - 54 * DAY - n, now - 54 * DAY - n))
    temp = cache / "http-v2/3/2/8/c/d"
    temp.mkdir(parents=True)
    (temp / "abc123.tmp").write_bytes(b"{}")
    (temp / "fresh.tmp").write_bytes(b"{}")
    orphan = cache / "http-v2/b/0/a/5/1"
    orphan.mkdir(parents=True)
    (orphan / ("b0a5" * 14 + ".body")).write_bytes(b"x" * 136)
    for path in (temp / "abc123.tmp", orphan / ("b0a5" * 14 + ".body")):
        os.utime(path, (now - 2 * 3600, now - 2 * 3600))
    (cache / "wheels/etc-link").symlink_to("/etc")


def _requirements(home: Path, env: dict[str, str]) -> None:
    (home / "requirements.txt").write_text(
        'tiny-pure\nmixed-case[fast]\nplatpkg ; python_version < "3"\n', encoding="utf-8"
    )


# The cache a block starts from when it is not the mixed one.
CACHES = {"migrate": "legacy"}

SETUPS: dict[str, Callable[[Path, dict[str, str]], None]] = {
    "verify": _damage_wheel,
    "prune": _debris_and_old,
    "check": _requirements,
}


# Running a block.


def _env(home: Path, index_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "XDG_"))}
    memo = os.environ.get("PIP_CACHE_PLUS_MEMO_DIR")
    env.update(HOME=str(home), PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL=index_url, COLUMNS="100")
    if memo is not None:
        env["PIP_CACHE_PLUS_MEMO_DIR"] = memo
    return env


def _run(home: Path, command: str, env: dict[str, str]) -> str:
    argv = shlex.split(command)
    if argv[0] == "cat":
        return "".join(home.joinpath(a).read_text(encoding="utf-8") for a in argv[1:])
    assert argv[:3] == ["python", "-m", "pip_cache_plus"], f"README example runs {command!r}"
    done = subprocess.run(
        [sys.executable, *argv[1:]],
        cwd=home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    return done.stdout


def run_example(example: Example, cache: BuiltCache, tmp: Path) -> str:
    """The block as this run writes it: each command, then its output."""
    home = tmp / "home"
    shutil.rmtree(home, ignore_errors=True)
    copy_cache(cache, home / ".cache/pip")
    env = _env(home, cache.index_url)
    setup = SETUPS.get(example.name)
    if setup is not None:
        setup(home, env)
    base = cache.index_url.split("/simple")[0]
    out = []
    for command in commands(example.body):
        text = _run(home, command, env)
        out.append(f"$ {command}\n{text}")
    return "".join(out).replace(str(home), HOME).replace(base, INDEX)


def test_readme_has_examples() -> None:
    names = [e.name for e in examples(README.read_text(encoding="utf-8"))]
    assert len(names) == len(set(names)), names
    assert {"info", "list", "du", "show", "verify", "prune", "check", "json"} <= set(names)


def test_readme_examples_are_real(
    built_mixed_cache: BuiltCache, built_legacy_cache: BuiltCache, tmp_path: Path
) -> None:
    readme = README.read_text(encoding="utf-8")
    found = examples(readme)
    caches = {"mixed": built_mixed_cache, "legacy": built_legacy_cache}
    got = {e.name: run_example(e, caches[CACHES.get(e.name, "mixed")], tmp_path) for e in found}
    if os.environ.get("PCP_UPDATE_README"):
        for e in reversed(found):
            readme = readme[: e.start] + got[e.name] + readme[e.end :]
        README.write_text(readme, encoding="utf-8")
        return
    for e in found:
        assert mask(got[e.name]) == mask(e.body), (
            f"README example {e.name!r} is not what the tool prints now; "
            "PCP_UPDATE_README=1 pytest tests/test_readme.py writes it"
        )
