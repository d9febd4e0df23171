"""The packages show the pipeline: each imports only those below it, and nothing cycles.

Read from the ``import`` statements themselves (every one: at module level, inside
functions and under ``TYPE_CHECKING``), so a lazy import cannot hide a wrong dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import pip_cache_plus

PKG = Path(pip_cache_plus.__file__).parent
NAME = "pip_cache_plus"

#: Lower numbers lie below: a module may import its own package or ones with a lower rank.
RANKS = {
    "errors": 0,
    "model": 0,
    "_version": 0,
    "format": 1,
    "fs": 1,
    "locate": 2,
    "inventory": 3,
    "actions": 4,
    "cache": 5,
    "cli": 6,
    "": 7,  # the package's own __init__ (public API, lazy) and __main__
    "__main__": 7,
}


def _module_name(path: Path) -> str:
    parts = [NAME, *path.relative_to(PKG).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path, source: str | None = None) -> Iterator[tuple[str, bool]]:
    """(imported module, at module level outside TYPE_CHECKING) for each intra-package import."""
    module = _module_name(path)
    here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source)
    eager = {id(node) for node in _eager_nodes(tree.body)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target != NAME and not target.startswith(NAME + "."):
                continue
            for alias in node.names:  # `from . import x` may import a module
                sub = f"{target}.{alias.name}"
                yield (sub if _exists(sub) else target), id(node) in eager
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(NAME):
                    yield alias.name, id(node) in eager


def _eager_nodes(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for node in body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.If, ast.Try)):
            for block in (node.body, getattr(node, "orelse", []), getattr(node, "finalbody", [])):
                yield from _eager_nodes(block)
            for handler in getattr(node, "handlers", []):
                yield from _eager_nodes(handler.body)


def _exists(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (PKG / rel).with_suffix(".py").exists() or (PKG / rel / "__init__.py").exists()


SOURCES = sorted(PKG.rglob("*.py"))


def test_every_module_has_a_rank() -> None:
    assert {_package_of(_module_name(p)) for p in SOURCES} <= set(RANKS)


def _wrong_imports(path: Path, source: str | None = None) -> list[str]:
    own = _package_of(_module_name(path))
    return sorted(
        target
        for target, _ in _imports(path, source)
        if _package_of(target) != own and RANKS[_package_of(target)] >= RANKS[own]
    )


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PKG)))
def test_imports_only_from_below(path: Path) -> None:
    wrong = _wrong_imports(path)
    assert not wrong, f"{path.relative_to(PKG)} imports from above or beside: {wrong}"


def test_no_import_cycles_at_load_time() -> None:
    graph = {_module_name(p): {t for t, eager in _imports(p) if eager} for p in SOURCES}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            cycle = (*path[path.index(module) :], module)
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        for target in graph.get(module, ()):
            if target != module and not module.startswith(target + "."):
                visit(target, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())


@pytest.mark.parametrize(
    ("source", "wrong"),
    [
        pytest.param("from ..cli import render\n", ["pip_cache_plus.cli.render"], id="up"),
        pytest.param(
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..fs.root import X\n",
            ["pip_cache_plus.fs.root"],
            id="beside-type-only",
        ),
        pytest.param(
            "def f():\n    from .. import cache\n", ["pip_cache_plus.cache"], id="lazy-module"
        ),
        pytest.param("from ..errors import E\nfrom . import sniff\n", [], id="below-and-own"),
    ],
)
def test_the_checker_finds_wrong_imports(source: str, wrong: list[str]) -> None:
    """The rule is not vacuous: a lower package's import from above or beside is found."""
    assert _wrong_imports(PKG / "format" / "fake.py", source) == wrong
