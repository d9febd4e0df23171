"""-v, -q and --log from pip's configuration: PIP_* variables and the config files' keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from pip_cache_plus.cli.app import main


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("PIP_VERBOSE", "PIP_QUIET", "PIP_LOG", "PIP_LOG_FILE", "PIP_LOCAL_LOG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PIP_CONFIG_FILE", str(tmp_path / "pip.conf"))
    where = tmp_path / "cache" / "wheels" / "ab"
    where.mkdir(parents=True)
    (where / "zzz-1.0-py3-none-any.whl").write_bytes(b"")
    return tmp_path / "cache"


def run(capsys: pytest.CaptureFixture[str], cache: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--cache-dir", str(cache), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_verbose_in_the_config_file_prints_each_removal(
    capsys: pytest.CaptureFixture[str], cache: Path
) -> None:
    (cache.parent / "pip.conf").write_text("[global]\nverbose = 1\n")
    code, out, _ = run(capsys, cache, "remove", "zzz")
    assert code == 0
    assert f"Removed {cache / 'wheels' / 'ab' / 'zzz-1.0-py3-none-any.whl'}\n" in out


def test_quiet_in_the_cache_section_and_v_cancel(
    capsys: pytest.CaptureFixture[str], cache: Path
) -> None:
    (cache.parent / "pip.conf").write_text("[cache]\nquiet = yes\n")
    assert run(capsys, cache, "dir")[1] == ""
    assert run(capsys, cache, "dir", "-v")[1] == f"{cache}\n"


def test_a_configured_log_file_gets_every_line_and_log_replaces_it(
    capsys: pytest.CaptureFixture[str], cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured, given = cache.parent / "configured.log", cache.parent / "given.log"
    monkeypatch.setenv("PIP_LOG_FILE", str(configured))
    run(capsys, cache, "dir")
    assert configured.read_text().endswith(f" {cache}\n")
    run(capsys, cache, "info", "--log", str(given))
    assert "Number of locally built wheels: 1" in given.read_text()
    assert "Number of locally built wheels" not in configured.read_text()
    run(capsys, cache, "info", "--isolated")  # which ignores PIP_*
    assert "Number of locally built wheels" not in configured.read_text()


def test_a_bad_configured_count_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], cache: Path
) -> None:
    (cache.parent / "pip.conf").write_text("[global]\nquiet = -1\n")
    with pytest.raises(SystemExit) as exc:
        run(capsys, cache, "dir")
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "-1 is not a valid value for quiet option" in err and err.count("\n") == 1
