"""Numbers clients and providers write: only 0-9 count, so nothing int() refuses gets
past a check (``str.isdigit`` admits "²" and "¹")."""

from __future__ import annotations

import httpx
import pytest

from rapport.core.digits import is_ascii_number
from rapport.decide.engine import split_alternate_id
from rapport.messaging.providers.transport import retry_after


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", True), ("120", True), ("", False), ("\u00b2", False), ("1\u00b9", False),
     ("\u0663", False), ("-1", False), ("1.5", False), (" 1", False)],
)  # fmt: skip
def test_only_ascii_digits_are_a_number(value: str, expected: bool) -> None:
    assert is_ascii_number(value) is expected


def test_an_alternate_rank_in_other_digits_is_no_rank() -> None:
    assert split_alternate_id("0192a3b4-0000-7000-8000-000000000000.2") == (
        "0192a3b4-0000-7000-8000-000000000000",
        2,
    )
    assert split_alternate_id("abc.\u00b2") == ("abc.\u00b2", 0)


def test_a_retry_after_in_other_digits_is_ignored() -> None:
    def answer(value: str) -> httpx.Response:
        return httpx.Response(429, headers={"retry-after": value.encode("latin-1")})

    assert retry_after(answer("30")) == 30.0
    assert retry_after(answer("\u00b2")) is None
