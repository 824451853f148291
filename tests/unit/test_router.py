import pytest

from rapport.api.http import Request, Response, Route, Router
from rapport.core.errors import MethodNotAllowed, NotFound


async def _ok(request: Request) -> Response:
    return Response(b"{}")


def _router() -> Router:
    return Router(
        [
            Route("GET", "/api/api-keys", _ok, name="list"),
            Route("POST", "/api/api-keys", _ok, name="create"),
            Route("POST", "/api/api-keys/{id}/rotate", _ok, name="rotate"),
            Route("DELETE", "/api/api-keys/{id}", _ok, name="revoke"),
        ]
    )


def test_static_and_templated_paths_match_with_their_parameters() -> None:
    router = _router()
    assert router.match("POST", "/api/api-keys")[0].name == "create"
    route, params = router.match("POST", "/api/api-keys/abc123/rotate")
    assert (route.name, params) == ("rotate", {"id": "abc123"})
    assert router.match("DELETE", "/api/api-keys/x")[1] == {"id": "x"}


def test_unknown_path_is_404_and_wrong_method_is_405_with_allow() -> None:
    router = _router()
    with pytest.raises(NotFound):
        router.match("GET", "/api/nothing")
    with pytest.raises(NotFound):
        router.match("DELETE", "/api/api-keys/a/b")
    with pytest.raises(MethodNotAllowed) as caught:
        router.match("PUT", "/api/api-keys")
    assert caught.value.headers["Allow"] == "GET, POST"


def test_duplicate_routes_are_refused() -> None:
    with pytest.raises(ValueError, match="Duplicate"):
        Router([Route("GET", "/a", _ok, name="a"), Route("GET", "/a", _ok, name="b")])
