"""The webhook signature, and the verification snippet the README gives receivers."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from rapport.messaging.providers.webhook import sign, verify
from tests.conftest import ROOT


def _readme_verify() -> Callable[[str, str, bytes], bool]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("**Verifying webhook calls.**", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README shows no verification code"
    namespace: dict[str, object] = {}
    exec(match.group(1), namespace)  # noqa: S102 (our own README's snippet)
    function = namespace["verify"]
    assert callable(function)
    return function  # type: ignore[return-value]


def test_signatures_verify_and_tampering_is_refused() -> None:
    readme_verify = _readme_verify()
    body = b'{"send_id": "s-1"}'
    now = int(time.time())
    header = sign("whsec_0123456789abcdef", now, body)
    assert header.startswith(f"t={now},v1=")
    for check in (verify, readme_verify):
        assert check("whsec_0123456789abcdef", header, body)
        assert not check("whsec_0123456789abcdef", header, body + b" ")
        assert not check("another-secret-0000", header, body)
        stale = sign("whsec_0123456789abcdef", now - 3600, body)
        assert not check("whsec_0123456789abcdef", stale, body)
