import pytest

from rapport.core.errors import ValidationFailed
from rapport.core.pagination import (
    PageRequest,
    build_page,
    decode_cursor,
    encode_cursor,
    parse_page_request,
)


def test_cursor_round_trips_any_sort_key() -> None:
    for key in [["2026-11-01T00:00:00+00:00", "abc"], 42, "x"]:
        assert decode_cursor(encode_cursor(key)) == key


@pytest.mark.parametrize("token", ["%%%", "bm90IGpzb24", encode_cursor(1)[:-2] + "!!"])
def test_a_token_we_did_not_issue_is_a_422(token: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        decode_cursor(token)
    assert caught.value.errors[0]["loc"] == ["query", "next_token"]


def test_page_request_defaults_and_bounds() -> None:
    assert parse_page_request({}) == PageRequest(limit=100, after=None, with_total=False)
    parsed = parse_page_request({"limit": ["5"], "with_total": ["true"]})
    assert (parsed.limit, parsed.with_total) == (5, True)
    for bad in (["0"], ["1001"], ["-1"], ["ten"]):
        with pytest.raises(ValidationFailed):
            parse_page_request({"limit": bad})
    with pytest.raises(ValidationFailed):
        parse_page_request({"with_total": ["maybe"]})


def test_build_page_sets_next_token_only_when_more_rows_follow() -> None:
    request = PageRequest(limit=2)
    more = build_page([1, 2, 3], request, key=lambda row: row, total=None)
    assert more.data == [1, 2]
    assert more.next_token is not None
    assert decode_cursor(more.next_token) == 2
    last = build_page([1, 2], request, key=lambda row: row, total=2)
    assert (last.data, last.next_token, last.total) == ([1, 2], None, 2)
