"""Factories and helpers: users, logins, tokens. Each test makes its own data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.auth import service as auth_service
from kosh.auth import tokens as token_service
from kosh.auth.models import User

PASSWORD = "correct-horse-battery"


@dataclass
class LoggedIn:
    user: User
    csrf: str

    @property
    def headers(self) -> dict[str, str]:
        return {"x-csrf-token": self.csrf}


MakeUser = Callable[..., Awaitable[User]]


@pytest.fixture
def make_user(sessions: async_sessionmaker[AsyncSession]) -> MakeUser:
    counter = {"n": 0}

    async def make(
        role: str = "operator", username: str | None = None, password: str = PASSWORD
    ) -> User:
        counter["n"] += 1
        async with sessions() as session:
            return await auth_service.create_user(
                session, username=username or f"{role}{counter['n']}", password=password, role=role
            )

    return make


@pytest.fixture
def login() -> Callable[[httpx.AsyncClient, User], Awaitable[LoggedIn]]:
    async def do_login(client: httpx.AsyncClient, user: User, password: str = PASSWORD) -> LoggedIn:
        response = await client.post(
            "/api/v1/auth/login", json={"username": user.username, "password": password}
        )
        assert response.status_code == 200, response.text
        return LoggedIn(user=user, csrf=response.json()["csrf_token"])

    return do_login


@pytest.fixture
def token_for(sessions: async_sessionmaker[AsyncSession]) -> Callable[..., Awaitable[str]]:
    async def make(user: User, scopes: list[str] | None = None) -> str:
        async with sessions() as session:
            new = await token_service.create_token(
                session,
                user_id=user.id,
                name="test",
                scopes=scopes or ["read", "write"],
                expires_at=None,
            )
        return new.raw_token

    return make


@pytest.fixture
async def admin_headers(
    make_user: MakeUser, token_for: Callable[..., Awaitable[str]]
) -> dict[str, str]:
    admin = await make_user("admin")
    return {"authorization": f"Bearer {await token_for(admin, ['read', 'write', 'admin'])}"}


@pytest.fixture
async def operator_headers(
    make_user: MakeUser, token_for: Callable[..., Awaitable[str]]
) -> dict[str, str]:
    operator = await make_user("operator")
    return {"authorization": f"Bearer {await token_for(operator)}"}


@pytest.fixture
async def manager_headers(
    make_user: MakeUser, token_for: Callable[..., Awaitable[str]]
) -> dict[str, str]:
    manager = await make_user("manager")
    return {"authorization": f"Bearer {await token_for(manager)}"}
