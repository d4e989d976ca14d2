"""Errors: one hierarchy, problem+json for the API, pages for browsers, never a traceback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from kosh.core.config import Settings
from kosh.core.errors import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
    field_error,
)
from tests.support.platform import app_client

PROBLEM = "application/problem+json"


def _assert_problem(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:kosh:problem:")
    assert body["title"]
    assert body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    if code is not None:
        assert body["code"] == code
    return body


def _add_test_routes(app: FastAPI) -> None:
    async def crash() -> None:
        raise RuntimeError("secret internal detail 0xDEADBEEF")

    async def conflict() -> None:
        raise ConflictError("Bin is full.", code="bin_full", details={"available": 3})

    async def rule() -> None:
        raise RuleViolationError("Not allowed now.")

    async def invalid() -> None:
        raise ValidationError("Bad qty.", errors=[field_error(["qty"], "must be positive")])

    async def missing() -> None:
        raise NotFoundError("No such part.", code="part_not_found")

    app.add_api_route("/api/v1/_test/crash", crash)
    app.add_api_route("/_test/crash", crash)
    app.add_api_route("/api/v1/_test/conflict", conflict)
    app.add_api_route("/api/v1/_test/rule", rule)
    app.add_api_route("/api/v1/_test/invalid", invalid)
    app.add_api_route("/_test/missing", missing)


@pytest.fixture
async def test_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings, build=_add_test_routes, max_body_bytes=1000) as (_, client):
        yield client


async def test_malformed_json_is_400(test_client: httpx.AsyncClient) -> None:
    response = await test_client.post(
        "/api/v1/auth/login",
        content=b'{"username": "a", ',
        headers={"content-type": "application/json"},
    )
    body = _assert_problem(response, 400, "malformed_body")
    assert "stack" not in response.text.lower()
    assert body["errors"]


async def test_wrong_content_type_is_415(test_client: httpx.AsyncClient) -> None:
    response = await test_client.post(
        "/api/v1/auth/login",
        content=b"username=a&password=b",
        headers={"content-type": "text/plain"},
    )
    _assert_problem(response, 415, "unsupported_media_type")


async def test_wrong_content_type_without_length_is_415(test_client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"username=a&password=b"

    response = await test_client.post(
        "/api/v1/auth/login", content=chunks(), headers={"content-type": "text/plain"}
    )
    _assert_problem(response, 415, "unsupported_media_type")


async def test_declared_oversized_body_is_413(test_client: httpx.AsyncClient) -> None:
    response = await test_client.post("/api/v1/auth/login", json={"username": "a" * 2000})
    _assert_problem(response, 413, "payload_too_large")


@pytest.mark.parametrize("idempotent", [False, True])
async def test_chunked_oversized_body_is_413(
    test_client: httpx.AsyncClient, idempotent: bool
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"username": "'
        for _ in range(10):
            yield b"a" * 200
        yield b'", "password": "x"}'

    headers = {"content-type": "application/json"}
    if idempotent:
        headers["idempotency-key"] = "big-body-1"
    response = await test_client.post("/api/v1/auth/login", content=chunks(), headers=headers)
    assert "content-length" not in response.request.headers
    _assert_problem(response, 413, "payload_too_large")


async def test_non_numeric_content_length_is_400(test_client: httpx.AsyncClient) -> None:
    response = await test_client.post(
        "/api/v1/auth/login",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": "12abc"},
    )
    assert response.status_code == 400


async def test_invalid_body_fields_are_422_with_locations(test_client: httpx.AsyncClient) -> None:
    response = await test_client.post("/api/v1/auth/login", json={"username": "", "extra": 1})
    body = _assert_problem(response, 422, "validation_error")
    locs = {tuple(e["loc"]) for e in body["errors"]}
    assert ("username",) in locs
    assert ("password",) in locs
    assert ("extra",) in locs
    assert all("input" not in e for e in body["errors"])


async def test_invalid_path_and_query_params_are_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    # an id that cannot name a row is an address with nothing at it (kosh.core.errors)
    path = await client.get("/api/v1/users/not-a-number", headers=admin_headers)
    _assert_problem(path, 404, "not_found")

    query = await client.get("/api/v1/users?limit=abc&offset=-1", headers=admin_headers)
    locs = sorted(e["loc"] for e in _assert_problem(query, 422)["errors"])
    assert locs == [["query", "limit"], ["query", "offset"]]


async def test_unknown_route_is_404_problem(test_client: httpx.AsyncClient) -> None:
    _assert_problem(await test_client.get("/api/v1/no-such-thing"), 404, "not_found")
    _assert_problem(await test_client.get("/no-such-page"), 404, "not_found")


async def test_wrong_method_is_405_problem(test_client: httpx.AsyncClient) -> None:
    response = await test_client.delete("/health/live")
    _assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]


async def test_unexpected_exception_is_generic_500(test_client: httpx.AsyncClient) -> None:
    response = await test_client.get(
        "/api/v1/_test/crash", headers={"x-request-id": "trace-me-12345"}
    )
    body = _assert_problem(response, 500, "internal_error")
    assert body["request_id"] == "trace-me-12345"
    assert "DEADBEEF" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text


async def test_unexpected_exception_in_a_page_is_a_generic_html_page(
    test_client: httpx.AsyncClient,
) -> None:
    response = await test_client.get(
        "/_test/crash", headers={"accept": "text/html", "x-request-id": "trace-me-67890"}
    )
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "trace-me-67890" in response.text
    assert "DEADBEEF" not in response.text
    assert "Traceback" not in response.text


async def test_domain_errors_map_to_status_and_details(test_client: httpx.AsyncClient) -> None:
    conflict = _assert_problem(await test_client.get("/api/v1/_test/conflict"), 409, "bin_full")
    assert conflict["available"] == 3
    _assert_problem(await test_client.get("/api/v1/_test/rule"), 422, "rule_violation")
    invalid = _assert_problem(await test_client.get("/api/v1/_test/invalid"), 422)
    assert invalid["errors"] == [{"loc": ["qty"], "msg": "must be positive"}]


async def test_browsers_get_an_html_error_page(test_client: httpx.AsyncClient) -> None:
    missing = await test_client.get("/no-such-page", headers={"accept": "text/html"})
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "Not found" in missing.text
    assert missing.headers["x-request-id"] in missing.text

    domain = await test_client.get("/_test/missing", headers={"accept": "text/html"})
    assert domain.status_code == 404
    assert "No such part." in domain.text

    api = await test_client.get("/api/v1/no-such-thing", headers={"accept": "text/html"})
    assert api.headers["content-type"].startswith(PROBLEM)


async def test_pages_needing_login_redirect_to_login(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin/audit?actor=bob&action=x", headers={"accept": "text/html"})
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fadmin%2Faudit%3Factor%3Dbob%26action%3Dx"

    dashboard = await client.get("/", headers={"accept": "text/html"})
    assert dashboard.status_code == 303
    assert dashboard.headers["location"] == "/login?next=%2F"

    login_page = await client.get(dashboard.headers["location"])
    assert login_page.status_code == 200
    assert 'name="next" value="/"' in login_page.text


async def test_api_without_login_is_401_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/auth/me", headers={"accept": "text/html"})
    _assert_problem(response, 401, "authentication_required")
    assert response.headers["www-authenticate"] == "Bearer"
