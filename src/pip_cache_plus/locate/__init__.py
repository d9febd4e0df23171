"""Where the cache is, found by pip's own rules (with pip's code when it is importable)."""
