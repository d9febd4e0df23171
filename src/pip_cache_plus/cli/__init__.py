"""The command line: argv and options, the console, and the one renderer (text, JSON, abspath)."""

from __future__ import annotations

from .app import main

__all__ = ["main"]
