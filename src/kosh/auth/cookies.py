"""The session cookie and the login policy built from settings."""

from __future__ import annotations

from datetime import timedelta

from starlette.responses import Response

from kosh.auth.deps import SESSION_COOKIE
from kosh.auth.sessions import LoginPolicy, NewSession
from kosh.core.config import Settings
from kosh.core.ratelimit import RateLimiter


def login_policy(settings: Settings, limiter: RateLimiter) -> LoginPolicy:
    return LoginPolicy(
        limiter=limiter,
        limit=settings.login_rate_limit,
        account_limit=settings.login_account_rate_limit,
        idle=timedelta(minutes=settings.session_idle_minutes),
        lifetime=timedelta(hours=settings.session_max_hours),
        admins_only=settings.password_login == "admins",  # noqa: S105 - not a password
    )


def set_session_cookie(response: Response, new: NewSession, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        new.raw_token,
        max_age=settings.session_max_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.is_production,
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
