"""Opening a workspace's provider from its stored row (the provider helper fills it in)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from rapport.config import Settings
from rapport.messaging.dryrun import DryRun
from rapport.messaging.providers.base import Provider


class ProviderUnavailable(RuntimeError):
    """The provider cannot be opened (missing, or its credentials cannot be read)."""


def opener(settings: Settings) -> Callable[[Connection, str, str], Provider]:
    def open_provider(conn: Connection, workspace_id: str, provider_id: str) -> Provider:
        raise ProviderUnavailable(f"provider {provider_id!r} cannot be opened")

    return open_provider


def dry_run() -> Provider:
    return DryRun()
