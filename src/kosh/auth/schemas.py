"""Pydantic shapes for users, logins and tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from kosh.core.types import CleanLine, RequiredLine, Version

Role = Literal["viewer", "operator", "manager", "admin"]
Scope = Literal["read", "write", "admin", "metrics"]


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Annotated[RequiredLine, Field(max_length=64)]
    password: str = Field(min_length=1, max_length=256)
    code: Annotated[CleanLine, Field(max_length=32)] | None = None  # two-factor code


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    display_name: str
    email: str | None
    role: Role
    active: bool
    version: int
    created_at: datetime


class UserPage(BaseModel):
    items: list[UserRead]
    total: int
    next: str | None


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Annotated[RequiredLine, Field(min_length=2, max_length=64)]
    password: str = Field(min_length=1, max_length=256)
    role: Role
    display_name: Annotated[CleanLine, Field(max_length=200)] = ""
    email: Annotated[CleanLine, Field(max_length=254)] | None = None


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Version
    role: Role | None = None
    active: bool | None = None
    display_name: Annotated[CleanLine, Field(max_length=200)] | None = None
    email: Annotated[CleanLine, Field(max_length=254)] | None = None


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")
    new_password: str = Field(min_length=1, max_length=256)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class SessionRead(BaseModel):
    user: UserRead
    via: Literal["session", "token"]
    scopes: list[str]
    csrf_token: str | None = None
    expires_at: datetime | None = None


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[RequiredLine, Field(max_length=100)]
    scopes: list[Scope] = Field(min_length=1, max_length=4)
    expires_in_days: int | None = Field(default=90, ge=1, le=3650)
    username: Annotated[CleanLine, Field(max_length=64)] | None = Field(
        default=None, description="admin only"
    )


class TokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    user_id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="shown only once")
