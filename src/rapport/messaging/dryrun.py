"""The provider of dry runs: nothing leaves the server, every send is recorded as sent."""

from __future__ import annotations

from rapport.messaging.providers.base import Outcome, PushMessage, Recipient, SendResult


class DryRun:
    """Accepts every message without sending it, so a dry run exercises planning,
    timing, caps and reporting end to end."""

    kind = "dry_run"
    needs_token = False

    async def send(self, message: PushMessage, recipient: Recipient) -> SendResult:
        return SendResult(Outcome.SENT, provider_message_id=f"dry-run:{message.send_id}")

    async def aclose(self) -> None:
        return None
