"""Sessions: tests, pip_compat, lint, typecheck (default), fuzz and bench (by hand)."""

from __future__ import annotations

import os
from pathlib import Path

import nox

# Interpreters installed with pyenv (not on PATH unless selected): let nox find them.
_PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
os.environ["PATH"] = os.pathsep.join(
    [*(str(p / "bin") for p in sorted(_PYENV.glob("3.*"))), os.environ["PATH"]]
)

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
# Straddle the http/ -> http-v2/ change (23.3) and pip's later moves of its internals.
PIP_VERSIONS = ["23.2.1", "23.3.2", "24.3.1", "25.3", "latest"]
LINT_PATHS = ["src", "tests", "noxfile.py", "benchmarks"]


@nox.session
def tests(session: nox.Session) -> None:
    """Unit and integration tests (real pips through a loopback index) on this Python."""
    session.install(".[test]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHONS)
@nox.parametrize("pip", PIP_VERSIONS)
def pip_compat(session: nox.Session, pip: str) -> None:
    """The suite with each pip installed beside us (our compat layer imports pip's code)."""
    session.install(".[test]")
    session.install("pip" if pip == "latest" else f"pip=={pip}", "--upgrade")
    session.run("python", "-m", "pip", "--version")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", *LINT_PATHS)
    session.run("ruff", "format", "--check", *LINT_PATHS)


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install(".[test]", "mypy", "nox")
    session.run("mypy")


@nox.session
def fuzz(session: nox.Session) -> None:
    """Thousands of damaged caches through every command (the tests session runs 30).

    Random examples, kept in .hypothesis/ when they fail; ``PCP_FUZZ_EXAMPLES`` sets how
    many (default 3000, about an hour)."""
    session.install(".[test]")
    env = {
        "PCP_FUZZ_PROFILE": "pcp-fuzz-long",
        "PCP_FUZZ_EXAMPLES": os.environ.get("PCP_FUZZ_EXAMPLES", "3000"),
    }
    session.run(
        "pytest", "tests/test_fuzz.py", "--hypothesis-show-statistics", *session.posargs, env=env
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against pip cache and simple baselines (not part of CI)."""
    session.install("--upgrade", "pip")  # compared with the current pip's `pip cache info`
    session.install(".")
    session.run("python", "benchmarks/run.py", *session.posargs)
