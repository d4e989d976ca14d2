"""A person signs in through the real OpenID provider in a real browser: the role comes from
their group, and logging out ends the KOSH session and the provider's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.auth.conftest import CLIENT_ID, CLIENT_SECRET, OpenIdProvider
from tests.support.browser import TIMEOUT_MS
from tests.support.live_server import (
    LiveServer,
    kosh_command,
    server_env,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def sso_server(
    openid_provider: OpenIdProvider,
    database_url: str,
    engine: AsyncEngine,  # the schema is migrated before the server starts
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    """`kosh serve` with single sign-on through the test provider, on the port the
    provider's client has its redirect URI for."""
    workdir = tmp_path_factory.mktemp("sso-server")
    port = openid_provider.kosh_port
    env = server_env(
        database_url,
        workdir / "data",
        KOSH_OIDC_ISSUER=openid_provider.issuer,
        KOSH_OIDC_CLIENT_ID=CLIENT_ID,
        KOSH_OIDC_CLIENT_SECRET=CLIENT_SECRET,
        KOSH_OIDC_SCOPES="openid,email,profile,groups",
        KOSH_OIDC_REDIRECT_URIS=f"http://127.0.0.1:{port}/auth/oidc/callback",
        KOSH_OIDC_ROLE_MAP="kosh-admins=admin,warehouse=operator",
        KOSH_OIDC_PROVIDER_NAME="Test Provider",
    )
    server = start_server(
        [*kosh_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        port=port,
        env=env,
        workdir=workdir,
    )
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture
async def sso_page(browser: Browser, sso_server: LiveServer) -> AsyncIterator[Page]:
    context = await browser.new_context(base_url=sso_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    try:
        yield page
    finally:
        await context.close()


async def sign_in(page: Page, login: str) -> None:
    await page.goto("/")
    await page.get_by_test_id("sso-login").click()
    # the provider's own login form
    await page.wait_for_selector("input[name=login]")
    await page.fill("input[name=login]", login)
    await page.fill("input[name=password]", "any-password")
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: urlsplit(url).path == "/" and "/auth" not in url)


@pytest.mark.parametrize(
    ("login", "name", "role"),
    [("alice", "Alice Admin", "admin"), ("bob", "Bob Picker", "operator")],
)
async def test_sign_in_through_the_provider_with_the_role_of_the_group(
    sso_page: Page, sso_server: LiveServer, login: str, name: str, role: str
) -> None:
    # when the person signs in with the button on KOSH's login page
    await sign_in(sso_page, login)

    # then they see the dashboard as themselves, with their group's role
    await expect(sso_page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    await expect(sso_page.locator(".lead")).to_contain_text(name)  # the provider's name claim
    await expect(sso_page.locator(".who .role")).to_have_text(role)


async def test_logout_ends_the_kosh_session_and_the_providers(
    sso_page: Page, sso_server: LiveServer, openid_provider: OpenIdProvider
) -> None:
    await sign_in(sso_page, "bob")

    # when they log out, KOSH ends its session and sends them to the provider's logout
    await sso_page.get_by_test_id("logout").click()
    await sso_page.wait_for_url(lambda url: url.startswith(openid_provider.issuer))
    await sso_page.get_by_role("button", name="Yes, sign me out").click()

    # then they are back on KOSH's login page, and KOSH is closed to them
    await sso_page.wait_for_url(lambda url: urlsplit(url).path == "/login")
    await sso_page.goto("/")
    assert urlsplit(sso_page.url).path == "/login"

    # and the provider asks for the login again (its session ended too)
    await sso_page.get_by_test_id("sso-login").click()
    await sso_page.wait_for_selector("input[name=login]")
