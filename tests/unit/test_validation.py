from typing import Annotated

import msgspec
import pytest

from rapport.api.validation import decode_json
from rapport.core.errors import MalformedJSON, ValidationFailed


class Item(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1)]
    count: int = 0


class Order(msgspec.Struct):
    items: list[Item]


def _error(body: bytes) -> dict[str, object]:
    with pytest.raises(ValidationFailed) as caught:
        decode_json(body, Order)
    assert caught.value.status == 422
    [error] = caught.value.errors
    return error


def test_wrong_type_points_at_the_field() -> None:
    error = _error(b'{"items": [{"name": "a"}, {"name": "b", "count": "x"}]}')
    assert error["loc"] == ["body", "items", 1, "count"]
    assert error["type"] == "type_error"


def test_missing_field_is_named_in_loc() -> None:
    error = _error(b'{"items": [{"count": 1}]}')
    assert error == {
        "loc": ["body", "items", 0, "name"],
        "msg": "Field required",
        "type": "missing",
    }


def test_unknown_field_is_refused_where_forbidden() -> None:
    error = _error(b'{"items": [{"name": "a", "colour": "red"}]}')
    assert error["loc"] == ["body", "items", 0, "colour"]
    assert error["type"] == "extra_forbidden"


def test_constraint_violations_are_value_errors() -> None:
    error = _error(b'{"items": [{"name": ""}]}')
    assert error["loc"] == ["body", "items", 0, "name"]
    assert error["type"] == "value_error"


def test_wrong_top_level_shape_points_at_the_body() -> None:
    assert _error(b"[1, 2]")["loc"] == ["body"]


def test_malformed_json_is_a_400_not_a_422() -> None:
    with pytest.raises(MalformedJSON) as caught:
        decode_json(b'{"items": [', Order)
    assert caught.value.status == 400


class Tagged(msgspec.Struct):
    data: dict[str, Annotated[str, msgspec.Meta(max_length=3)]]


def test_a_bad_mapping_value_points_at_the_mapping() -> None:
    with pytest.raises(ValidationFailed) as caught:
        decode_json(b'{"data": {"k": "too long"}}', list[Tagged] | Tagged)
    [error] = caught.value.errors
    assert error["loc"] == ["body", "data"]
