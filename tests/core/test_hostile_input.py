"""Hostile input at the edge never reaches a 500 and never reaches the database.

The cases are taken from the live OpenAPI document, so a new endpoint is covered the day it
is added: every path id out of the database's range answers 404, every query id 422, every
`q` with a NUL 422, and every text field of every JSON body that holds a NUL or another
control character answers 422 naming the field, with nothing stored (checked on SQLite,
which would store it; PostgreSQL refuses such text with a server error instead).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import JSON, String, Text, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.db import Base

HUGE_IDS = ["2147483648", "9223372036854775808", "0", "-1"]
NUL = "ok\x00ok"
Leaf = tuple[str | int, ...]


def _spec(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            yield method, path, operation


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return _resolve(spec, options[0])
    return schema


def _fill(
    spec: dict[str, Any],
    schema: dict[str, Any],
    leaves: list[Leaf],
    at: Leaf,
    ids: list[Leaf] | None = None,
) -> Any:
    """A value for `schema` with every field present; records the paths of its strings
    in `leaves` and of its ids and versions in `ids`."""
    ids = [] if ids is None else ids
    schema = _resolve(spec, schema)
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    if kind == "object":
        properties = schema.get("properties", {})
        if not properties and schema.get("additionalProperties") is not False:
            leaves.append((*at, "street"))
            return {"street": "Main Street 1"}
        return {
            name: _fill(spec, sub, leaves, (*at, name), ids) for name, sub in properties.items()
        }
    if kind == "array":
        return [_fill(spec, schema.get("items", {}), leaves, (*at, 0), ids)]
    if kind == "integer":
        if at and str(at[-1]).endswith(("_id", "version")):
            ids.append(at)
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return 1
    if kind == "boolean":
        return False
    if kind == "string":
        clean_text = schema.get("pattern", "").startswith("^[^\\u0000")  # kosh.core.types
        if (schema.get("pattern") and not clean_text) or schema.get("format"):
            return _sample_for(schema)
        leaves.append(at)
        return "someone@example.com" if at and at[-1] == "email" else "sample"
    return None


def _sample_for(schema: dict[str, Any]) -> str:
    pattern = schema.get("pattern", "")
    if "[A-Z]{3}" in pattern:
        return "EUR"
    if schema.get("format") == "date":
        return "2030-01-01"
    if schema.get("format") == "date-time":
        return "2030-01-01T00:00:00Z"
    return "A1"


def _set(body: Any, leaf: Leaf, value: str) -> Any:
    target = body
    for key in leaf[:-1]:
        target = target[key]
    target[leaf[-1]] = value
    return body


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _json_bodies(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for method, path, operation in _operations(spec):
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            yield method, path, content["application/json"]["schema"]


async def _stored_with_control_characters(session: AsyncSession) -> list[str]:
    found = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, JSON):
                hit = func.instr(func.cast(column, Text), "\\u0000") > 0
            elif isinstance(column.type, String | Text):
                hit = func.instr(column, text("char(0)")) > 0
            else:
                continue
            count = await session.scalar(select(func.count()).select_from(table).where(hit))
            if count:
                found.append(f"{table.name}.{column.name}")
    return found


async def test_path_ids_out_of_range_are_404(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    checked = 0
    for method, path, _ in _operations(_spec(app)):
        names = [n for n in re.findall(r"\{(\w+)\}", path) if n.endswith("_id")]
        if method != "get" or not names:
            continue
        for huge in HUGE_IDS:
            url = path
            for name in names:
                url = url.replace("{" + name + "}", huge)
            response = await client.get(re.sub(r"\{[^}]+\}", "A1", url), headers=admin_headers)
            assert response.status_code == 404, (url, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            checked += 1
    assert checked >= 60


async def test_query_ids_out_of_range_are_422(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    checked = 0
    for method, path, operation in _operations(_spec(app)):
        if method != "get":
            continue
        for parameter in operation.get("parameters", []):
            name = parameter["name"]
            schema = _resolve(_spec(app), parameter["schema"])
            if parameter["in"] != "query" or schema.get("type") not in ("integer", "array"):
                continue
            if not (name.endswith("_id") or name in ("base", "other")):
                continue
            for huge in HUGE_IDS[:2]:
                response = await client.get(
                    _url(path),
                    params={"base": 1, "other": 1, "warehouse_id": 1, "part_id": 1} | {name: huge},
                    headers=admin_headers,
                )
                assert response.status_code == 422, (path, name, response.text)
                assert name in str(response.json()["errors"]), response.text
                checked += 1
    assert checked >= 16


async def test_text_queries_with_a_nul_are_422(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    checked = 0
    for method, path, operation in _operations(_spec(app)):
        if method != "get":
            continue
        for parameter in operation.get("parameters", []):
            schema = _resolve(_spec(app), parameter["schema"])
            if parameter["in"] != "query" or schema.get("type") != "string" or "enum" in schema:
                continue
            if schema.get("format"):
                continue  # dates: refused by their format anyway
            name = parameter["name"]
            extra = {"base": 1, "other": 1, "warehouse_id": 1, "part_id": 1}
            response = await client.get(
                _url(path), params=extra | {name: NUL}, headers=admin_headers
            )
            assert response.status_code == 422, (path, name, response.text)
            assert name in str(response.json()["errors"]), response.text
            checked += 1
    assert checked >= 15


async def test_every_text_field_of_every_json_body_refuses_control_characters(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    spec = _spec(app)
    checked: list[str] = []
    for method, path, schema in _json_bodies(spec):
        if path.endswith("/auth/login"):
            continue  # sent without a login below
        leaves: list[Leaf] = []
        _fill(spec, schema, leaves, ())
        for leaf in leaves:
            if "password" in str(leaf[-1]):
                continue  # hashed, never stored as text: any character may be in a password
            for bad in (NUL, "ok\x1bok", "ok\x7fok"):
                fresh: list[Leaf] = []
                body = _set(_fill(spec, schema, fresh, ()), leaf, bad)
                response = await client.request(
                    method, _url(path), json=body, headers=admin_headers
                )
                where = f"{method.upper()} {path} {leaf} {bad!r}"
                assert response.status_code == 422, (where, response.text)
                assert response.headers["content-type"] == "application/problem+json"
                locs = [e["loc"] for e in response.json().get("errors", [])]
                named = leaf[-2] if leaf[-1] == "street" else leaf[-1]  # free-form: the dict
                assert any(named in loc for loc in locs), (where, locs)
            checked.append(f"{method} {path} {leaf}")
    assert len(checked) >= 60, checked
    if session.get_bind().dialect.name == "sqlite":
        assert await _stored_with_control_characters(session) == []


async def test_body_ids_out_of_range_are_422(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    spec = _spec(app)
    checked = []
    for method, path, schema in _json_bodies(spec):
        ids: list[Leaf] = []
        _fill(spec, schema, [], (), ids)
        for leaf in ids:
            for huge in (2**31, 2**53, 2**63):
                body = _fill(spec, schema, [], ())
                target = body
                for key in leaf[:-1]:
                    target = target[key]
                target[leaf[-1]] = huge
                response = await client.request(
                    method, _url(path), json=body, headers=admin_headers
                )
                where = f"{method.upper()} {path} {leaf} {huge}"
                assert response.status_code == 422, (where, response.text)
                locs = [e["loc"] for e in response.json()["errors"]]
                assert any(leaf[-1] in loc for loc in locs), (where, locs)
            checked.append(leaf)
    assert len(checked) >= 15, checked


@pytest.mark.parametrize("username", ["a\x00", "admin\x00", "\x00", "a\x1b[2J"])
async def test_login_with_control_characters_is_422_never_500(
    client: httpx.AsyncClient, username: str
) -> None:
    response = await client.post("/api/v1/auth/login", json={"username": username, "password": "x"})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["username"]
    assert "kosh_session" not in response.headers.get("set-cookie", "")


async def test_login_page_with_a_nul_username_is_refused_without_a_500(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    response = await client.post(
        "/login",
        data={"username": "admin\x00", "password": "x", "csrf_token": token.group(1)},
        headers={"accept": "text/html"},
    )
    assert response.status_code == 422, response.text


async def test_clean_bodies_of_the_main_create_endpoints_are_stored(
    client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    """The counterpart of the NUL test: the same fields with clean text are accepted and
    read back as sent (tab and newline kept where a field is multi-line)."""
    warehouse = await client.post(
        "/api/v1/warehouses", json={"code": "W1", "name": "Main hall"}, headers=admin_headers
    )
    assert warehouse.status_code == 201, warehouse.text
    location = await client.post(
        "/api/v1/locations",
        json={
            "warehouse_id": warehouse.json()["id"],
            "code": "A-01",
            "kind": "storage",
            "description": "Shelf A, left",
        },
        headers=admin_headers,
    )
    assert location.status_code == 201, location.text
    part = await client.post(
        "/api/v1/parts",
        json={"number": "R-1", "description": "Resistor 10k", "manufacturer": "Yageo"},
        headers=admin_headers,
    )
    assert part.status_code == 201, part.text
    received = await client.post(
        "/api/v1/stock/receive",
        json={
            "part_number": "R-1",
            "qty": 5,
            "location_id": location.json()["id"],
            "supplier": "Mouser",
            "reference": "PO-1",
        },
        headers=admin_headers,
    )
    assert received.status_code == 201, received.text
    customer = await client.post(
        "/api/v1/customers",
        json={
            "name": "Ada",
            "billing_address": {"street": "Main Street 1\nBackyard", "city": "Berlin"},
            "notes": "line one\n\tindented",
        },
        headers=admin_headers,
    )
    assert customer.status_code == 201, customer.text
    assert customer.json()["billing_address"]["street"] == "Main Street 1\nBackyard"
    assert customer.json()["notes"] == "line one\n\tindented"
    if session.get_bind().dialect.name == "sqlite":
        assert await _stored_with_control_characters(session) == []


@pytest.mark.parametrize("field", ["sheet", "assembly_part_number", "revision", "file name"])
async def test_bom_upload_form_fields_refuse_control_characters(
    client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession, field: str
) -> None:
    fields = {"assembly_part_number": "ASSY", "revision": "A", "dry_run": "true"}
    name = "bom.csv"
    if field == "file name":
        name = "bom\x00.csv"  # sent raw: httpx would percent-encode it
    else:
        fields[field] = NUL
    boundary = "fuzzboundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'
        for key, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: text/csv\r\n\r\nReference,Quantity,Part Number\nR1,1,R-1\n\r\n"
        f"--{boundary}--\r\n"
    )
    response = await client.post(
        "/api/v1/boms/imports",
        content="".join(parts).encode(),
        headers={**admin_headers, "content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 422, response.text
    locs = [e["loc"] for e in response.json()["errors"]]
    assert any(field.split()[0] in loc[-1] for loc in locs), locs
    if session.get_bind().dialect.name == "sqlite":
        assert await _stored_with_control_characters(session) == []
