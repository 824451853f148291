"""Errors as data: each has an HTTP status and a stable machine code.

Services raise these; the HTTP layer renders them as
``{"error": {"code": ..., "message": ...}}`` (or the 422 ``detail`` shape for
validation errors), so every dialect answers errors the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class RapportError(Exception):
    """Base of every error a client may see."""

    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self) -> dict[str, Any]:
        """The JSON error body."""
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


class BadRequest(RapportError):
    status, code = 400, "bad_request"


class MalformedJSON(RapportError):
    status, code = 400, "malformed_json"


class Unauthorized(RapportError):
    status, code = 401, "unauthorized"

    def __init__(self, message: str = "Missing or invalid credentials", **kw: Any) -> None:
        super().__init__(message, **kw)


class Forbidden(RapportError):
    status, code = 403, "forbidden"


class NotFound(RapportError):
    status, code = 404, "not_found"


class MethodNotAllowed(RapportError):
    status, code = 405, "method_not_allowed"


class Conflict(RapportError):
    status, code = 409, "conflict"


class PayloadTooLarge(RapportError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(RapportError):
    status, code = 415, "unsupported_media_type"


class WrongRegion(RapportError):
    status, code = 421, "wrong_region"


class TooManyRequests(RapportError):
    status, code = 429, "rate_limited"

    def __init__(self, message: str, retry_after: int, **kw: Any) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)}, **kw)


class ServiceUnavailable(RapportError):
    status, code = 503, "unavailable"


class ValidationFailed(RapportError):
    """422 with the ``{"detail": [{"loc", "msg", "type"}]}`` body clients already parse."""

    status, code = 422, "validation_error"

    def __init__(self, errors: Sequence[Mapping[str, Any]]) -> None:
        super().__init__(errors[0]["msg"] if errors else "Validation failed")
        self.errors = [dict(error) for error in errors]

    @classmethod
    def single(
        cls, loc: Sequence[str | int], msg: str, type_: str = "value_error"
    ) -> ValidationFailed:
        """One error at one location."""
        return cls([{"loc": list(loc), "msg": msg, "type": type_}])

    def body(self) -> dict[str, Any]:
        return {"detail": self.errors}
