"""The dry-run provider: every message is a structured log line and a success.

It is what campaign tests and benchmarks send through, so it does no I/O beyond the
log record and skips even that when its level is disabled.
"""

from __future__ import annotations

import logging

from rapport.messaging.providers.base import Outcome, PushMessage, Recipient, SendResult

log = logging.getLogger("rapport.messaging.log_provider")

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}


class LogProvider:
    """Logs instead of sending; answers ``sent`` with a synthetic id."""

    kind = "log"
    needs_token = False

    def __init__(self, level: str = "info") -> None:
        self.level = LEVELS[level]
        self.sent = 0

    async def send(self, message: PushMessage, recipient: Recipient) -> SendResult:
        self.sent += 1
        if log.isEnabledFor(self.level):
            log.log(
                self.level,
                "push (dry run)",
                extra={
                    "send_id": message.send_id,
                    "campaign_id": message.campaign_id,
                    "profile_id": recipient.profile_id,
                    "device_id": recipient.device_id,
                    "title": message.title,
                    "body": message.body,
                },
            )
        return SendResult(Outcome.SENT, provider_message_id=f"log-{message.send_id}")

    async def aclose(self) -> None:
        return None
