"""A real OpenID provider for the single sign-on tests: panva's oidc-provider on Node.js
(tests/auth/oidc_provider, installed by `npm ci` in .ci/run), started once per run on a free
port. Without node_modules those tests skip, unless KOSH_TEST_REQUIRE_SERVICES=1 (CI)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from pydantic import SecretStr

from tests.support.live_server import free_port
from tests.support.services import REQUIRED

PROVIDER_DIR = Path(__file__).parent / "oidc_provider"
CLIENT_ID = "kosh-test"
CLIENT_SECRET = "kosh-test-client-secret-0123456789"
ROLE_MAP = {"kosh-admins": "admin", "warehouse": "operator"}


@dataclass(frozen=True)
class OpenIdProvider:
    issuer: str
    kosh_port: int  # the port a live KOSH server for the browser test must use
    log_path: Path

    def settings(self, **extra: Any) -> dict[str, Any]:
        """Settings overrides for an app (tests/support/platform.app_client) using it."""
        values: dict[str, Any] = {
            "oidc_issuer": self.issuer,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": SecretStr(CLIENT_SECRET),
            "oidc_scopes": ["openid", "email", "profile", "groups"],
            "oidc_redirect_uris": ["http://testserver/auth/oidc/callback"],
            "oidc_role_map": dict(ROLE_MAP),
            "oidc_provider_name": "Test Provider",
        }
        values.update(extra)
        return values


def _require_provider() -> None:
    missing = None
    if shutil.which("node") is None:
        missing = "node is not installed"
    elif not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        missing = f"run `npm ci` in {PROVIDER_DIR}"
    if missing is None:
        return
    if REQUIRED:
        pytest.fail(f"the OpenID provider cannot start: {missing}", pytrace=False)
    pytest.skip(f"the OpenID provider cannot start: {missing}")


@pytest.fixture(scope="session")
def openid_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenIdProvider]:
    _require_provider()
    port, kosh_port = free_port(), free_port()
    issuer = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("oidc") / "provider.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PORT": str(port),
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        # the client's registered redirect URIs: the test app's and the live server's
        "REDIRECT_URIS": "http://testserver/auth/oidc/callback,"
        f"http://127.0.0.1:{kosh_port}/auth/oidc/callback",
        "POST_LOGOUT_URIS": f"http://testserver/login,http://127.0.0.1:{kosh_port}/login",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["node", "provider.mjs"],  # noqa: S607 - node from PATH
            cwd=PROVIDER_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=2)
                if answer.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    "the OpenID provider did not start:\n" + log_path.read_text(errors="replace"),
                    pytrace=False,
                )
            time.sleep(0.2)
        yield OpenIdProvider(issuer=issuer, kosh_port=kosh_port, log_path=log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


async def sign_in_at_provider(authorize_url: str, login: str) -> httpx.Response:
    """Follow the provider's pages as a browser would, with `login` on its login form, until
    it sends the browser away from itself; that last redirect (or its error page) is returned."""
    async with httpx.AsyncClient(timeout=10) as browser:
        response = await browser.get(authorize_url)
        for _ in range(12):
            if response.is_redirect:
                target = urljoin(str(response.url), response.headers["location"])
                if not target.startswith(str(response.url.copy_with(path="/", query=None))):
                    return response  # leaving the provider: back to KOSH
                response = await browser.get(target)
                continue
            action = re.search(r'<form[^>]*action="([^"]+)"', response.text)
            if response.status_code != 200 or action is None:
                return response  # an error page of the provider
            prompt = re.search(r'name="prompt" value="([^"]+)"', response.text)
            data = {"prompt": prompt.group(1) if prompt else "login"}
            if data["prompt"] == "login":
                data.update(login=login, password="any-password")
            response = await browser.post(urljoin(str(response.url), action.group(1)), data=data)
        raise AssertionError(f"the provider never sent the browser back: {response.text[:500]}")
