"""The OpenAPI 3.1 document, generated from the routes' declared types."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from rapport.api.http import Route

_REF = "#/components/schemas/{name}"

_STATUS_TEXT = {
    400: "Malformed request, unsupported API version or missing header",
    401: "No or invalid credentials",
    403: "Credentials of the wrong kind or workspace",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Body too large",
    415: "Unsupported media type or encoding",
    421: "The workspace lives in another region",
    422: "Validation error",
    429: "Rate limited; see Retry-After",
    503: "Not ready",
}


class ErrorDetail(msgspec.Struct):
    code: str
    message: str


class ErrorBody(msgspec.Struct):
    """``{"error": {"code", "message"}}``: every non-validation error."""

    error: ErrorDetail


class ValidationItem(msgspec.Struct):
    loc: list[str | int]
    msg: str
    type: str


class ValidationBody(msgspec.Struct):
    """422: ``{"detail": [{"loc", "msg", "type"}]}``."""

    detail: list[ValidationItem]


def _path_params(path: str) -> list[dict[str, Any]]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in names
    ]


def build_document(routes: Iterable[Route], *, title: str, version: str) -> dict[str, Any]:
    """An OpenAPI 3.1 document describing ``routes``."""
    routes = [route for route in routes if route.include_in_schema]
    types: list[Any] = [ErrorBody, ValidationBody]
    for route in routes:
        types.extend(t for t in (route.body, route.response) if t is not None)
    schemas, components = msgspec.json.schema_components(types, ref_template=_REF)
    schema_of = dict(zip(types, schemas, strict=True))

    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation: dict[str, Any] = {
            "operationId": route.name,
            "summary": route.summary or route.name,
            "tags": list(route.tags),
        }
        parameters = _path_params(route.path) + [
            {
                "name": param.name,
                "in": param.where,
                "required": param.required,
                "description": param.description,
                "schema": dict(param.schema),
            }
            for param in route.params
        ]
        if parameters:
            operation["parameters"] = parameters
        if route.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schema_of[route.body]}},
            }
        success: dict[str, Any] = {"description": "Success"}
        if route.response is not None:
            success["content"] = {"application/json": {"schema": schema_of[route.response]}}
        responses: dict[str, Any] = {str(route.status): success}
        for status in sorted(set(route.errors)):
            body = ValidationBody if status == 422 else ErrorBody
            responses[str(status)] = {
                "description": _STATUS_TEXT.get(status, "Error"),
                "content": {"application/json": {"schema": schema_of[body]}},
            }
        operation["responses"] = responses
        if route.security:
            operation["security"] = [{route.security: []}]
        paths.setdefault(route.path, {})[route.method.lower()] = operation

    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": (
                "rapport's HTTP APIs. Errors: 422 `{detail: [{loc, msg, type}]}`; "
                "others `{error: {code, message}}`."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "accessToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "adminKey": {"type": "http", "scheme": "bearer"},
                "ingestKey": {"type": "http", "scheme": "bearer"},
                "writeKey": {"type": "http", "scheme": "basic"},
                "publicKey": {"type": "http", "scheme": "bearer"},
                "surfacesKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "personalizeSecret": {"type": "http", "scheme": "basic"},
            },
        },
    }


__all__ = ["ErrorBody", "ValidationBody", "build_document"]
