"""Allows ``python -m rapport``."""

from rapport.cli import main

raise SystemExit(main())
