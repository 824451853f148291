"""Numbers written in text by clients and providers."""

from __future__ import annotations


def is_ascii_number(value: str) -> bool:
    """Whether ``value`` is a non-empty run of the digits 0-9.

    ``str.isdigit`` also admits superscripts and other scripts' digits ("²", "¹"), which
    ``int`` refuses: a check with it lets such input through to a crash."""
    return value.isascii() and value.isdigit()
