from __future__ import annotations

from .cli import main

raise SystemExit(main(prog="python -m pip_cache_plus"))
