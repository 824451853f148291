"""Re-encrypting every provider's credentials with the current key, after a rotation.

Rotating ``RAPPORT_ENCRYPTION_KEY`` keeps the previous key in
``RAPPORT_ENCRYPTION_OLD_KEYS`` so stored credentials still open; this rewrites each
with the current key, so the old one can then be dropped. Rows already under the
current key are left as they are; rows no configured key opens are reported, not
touched (they need their credentials saved again).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import Connection, select, update

from rapport.core.tables import providers
from rapport.messaging.crypto import Cipher, DecryptionFailed, provider_context


@dataclass
class Reencrypted:
    """What a pass did, by provider id."""

    rewritten: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def reencrypt_providers(conn: Connection, cipher: Cipher) -> Reencrypted:
    """Rewrite every provider secret not under ``cipher``'s current key (all
    workspaces), in the caller's transaction."""
    report = Reencrypted()
    rows = conn.execute(
        select(providers.c.id, providers.c.workspace_id, providers.c.secret).order_by(
            providers.c.id
        )
    ).all()
    now = time.time()
    for provider_id, workspace_id, secret in rows:
        blob = bytes(secret)
        if cipher.is_current(blob):
            report.current.append(provider_id)
            continue
        context = provider_context(workspace_id, provider_id)
        try:
            plain = cipher.decrypt(blob, context)
        except DecryptionFailed:
            report.unreadable.append(provider_id)
            continue
        conn.execute(
            update(providers)
            .where(providers.c.id == provider_id, providers.c.workspace_id == workspace_id)
            .values(secret=cipher.encrypt(plain, context), updated_at=now)
        )
        report.rewritten.append(provider_id)
    return report
