from __future__ import annotations

import sys

try:
    from .cli.app import main

    code = main(prog="python -m pip_cache_plus")
except KeyboardInterrupt:  # before main handles it: while importing or parsing arguments
    print("Interrupted.", file=sys.stderr)
    code = 130
raise SystemExit(code)
