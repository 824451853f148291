"""Turn msgspec decoding errors into the 422 ``detail`` list clients expect."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import msgspec

from rapport.core.errors import ValidationFailed

# `.name`, `[3]`, or `[...]` (msgspec's mark for "some key of this mapping").
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")
_MISSING = re.compile(r"^Object missing required field `([^`]+)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `([^`]+)`$")


def _path_to_loc(path: str) -> list[str | int]:
    loc: list[str | int] = []
    for name, index in _PATH_PART.findall(path.removeprefix("$")):
        if index == "...":
            continue  # the mapping itself is the most precise place msgspec names
        loc.append(int(index) if index else name)
    return loc


def validation_failed(
    error: msgspec.ValidationError, root: str | Sequence[str | int] = "body"
) -> ValidationFailed:
    """A :class:`ValidationFailed` pointing at the field msgspec complained about."""
    text = str(error)
    message, _, path = text.partition(" - at `")
    prefix = [root] if isinstance(root, str) else list(root)
    loc: list[str | int] = [*prefix, *_path_to_loc(path.rstrip("`"))]
    error_type = "value_error"
    if match := _MISSING.match(message):
        loc.append(match.group(1))
        message, error_type = "Field required", "missing"
    elif match := _UNKNOWN.match(message):
        loc.append(match.group(1))
        message, error_type = "Extra fields are not permitted", "extra_forbidden"
    elif message.startswith("Expected `") and ", got `" in message:
        error_type = "type_error"
    return ValidationFailed([{"loc": loc, "msg": message, "type": error_type}])


def decode_json(body: bytes, type_: Any, root: str | Sequence[str | int] = "body") -> Any:
    """Decode and validate ``body`` as ``type_``; 400 if it is not JSON, 422 if invalid."""
    from rapport.core.errors import MalformedJSON

    try:
        return msgspec.json.decode(body, type=type_)
    except msgspec.ValidationError as exc:
        raise validation_failed(exc, root) from None
    except msgspec.DecodeError as exc:
        raise MalformedJSON(f"Request body is not valid JSON: {exc}") from None
