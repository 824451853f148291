"""The query parser agrees with ``urllib.parse.parse_qs`` on everything."""

from __future__ import annotations

import random
from urllib.parse import parse_qs

import pytest

from rapport.api.http import parse_query

ALPHABET = "ab=&;%+ 1_-.~é"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "a=1",
        "a=1&a=2&b=",
        "a&b=&=c",
        "&&a=1&&",
        "a=1=2",
        "a=%41%zz&b=x+y",
        "contact_id=u-1&surface_id=00000000-0000-4000-8000-000000000000&allow_unassigned=true",
        "name=caf%C3%A9",
        "a;b=1",
    ],
)
def test_known_queries_parse_as_parse_qs(raw: str) -> None:
    assert parse_query(raw) == parse_qs(raw, keep_blank_values=True)


def test_random_queries_parse_as_parse_qs() -> None:
    rng = random.Random(7)
    for _ in range(20_000):
        raw = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 14)))
        assert parse_query(raw) == parse_qs(raw, keep_blank_values=True), raw
