"""The API documents (/docs with Swagger UI, /redoc with ReDoc) work with no internet: their
scripts and styles come from the process itself, under a digest of their content. A real
browser (Debian's Chromium, as in test_dashboard.py) opens the gateway's /docs with every other
host blocked, sees the operations, the login ones first, and authorizes with a username and
password; the services' own documents serve the same files."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import expect

from tests.fixtures.gateway import ADMIN_PASSWORD
from tests.gateway.test_dashboard import browser, serve  # noqa: F401 (the module's browser fixture)

PAGES = ("/docs", "/redoc")


@pytest.fixture
async def served(gateway):
    async with serve(gateway.app) as base:
        yield base


async def offline_context(browser, base: str):  # noqa: F811
    """A browser context that reaches the gateway and nothing else: any other host is aborted,
    as on a station's LAN without internet, and listed in `context.blocked`."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    blocked: list[str] = []

    async def route(r) -> None:
        if r.request.url.startswith(base + "/") or r.request.url.startswith("data:"):
            await r.continue_()
        else:
            blocked.append(r.request.url)
            await r.abort("internetdisconnected")

    await context.route("**/*", route)
    context.blocked = blocked
    return context


async def offline_page(browser, base: str, path: str):  # noqa: F811
    """A page of `offline_context` opened at `path`, and the list its script errors go to."""
    context = await offline_context(browser, base)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{base}{path}")
    return context, page, errors


class TestOfflineDocs:
    async def test_swagger_ui_lists_login_first_and_authorizes_without_internet(self, browser, served):  # noqa: F811
        context, page, errors = await offline_page(browser, served, "/docs")

        # The operations are listed, the login ones first.
        sections = page.locator(".opblock-tag-section")
        await expect(sections.first).to_be_visible(timeout=60_000)
        assert (await sections.first.locator(".opblock-tag").get_attribute("data-tag")) == "auth"
        await expect(page.locator('.opblock-summary-path[data-path="/v1/auth/token"]')).to_be_visible()
        assert await page.locator('.opblock-tag[data-tag="beneficiaries"]').count() == 1

        # Authorize: username and password; the tablet's scheme says it is not for people.
        await page.click(".auth-wrapper .btn.authorize")
        dialog = page.locator(".dialog-ux .modal-ux")
        await expect(dialog).to_be_visible()
        text = await dialog.inner_text()
        assert "HTTPBearer" not in text and "OAuth2PasswordBearer" not in text
        assert re.search(r"station tablets only", text, re.IGNORECASE), text
        await dialog.locator("#oauth_username").fill("admin")
        await dialog.locator("#oauth_password").fill(ADMIN_PASSWORD)
        await dialog.locator(".auth-btn-wrapper .btn.modal-btn.auth.authorize").first.click()
        await expect(dialog.locator(".auth-btn-wrapper .btn.modal-btn.auth").first).to_have_text("Logout")
        await dialog.locator(".btn-done").first.click()

        # A call made from the page carries the token: /v1/me answers the admin.
        me = page.locator("#operations-users-me_v1_me_get")
        await me.locator(".opblock-summary").click()
        await me.locator(".try-out__btn").click()
        await me.locator(".execute").click()
        body = me.locator(".responses-inner .live-responses-table .response-col_description pre").first
        await expect(body).to_contain_text('"username": "admin"', timeout=10_000)

        assert context.blocked == [] and errors == []
        await context.close()

    async def test_redoc_renders_without_internet(self, browser, served):  # noqa: F811
        context, page, errors = await offline_page(browser, served, "/redoc")
        # ReDoc lays out the whole document (a few hundred operations) before it shows anything.
        await expect(page.locator("h1").first).to_contain_text("Haolin", timeout=90_000)
        await expect(page.get_by_text("/v1/auth/token").first).to_be_attached()
        assert context.blocked == [] and errors == []
        await context.close()


class TestDocument:
    async def test_login_comes_first_and_each_scheme_says_who_it_is_for(self, gateway):
        doc = (await gateway.get("/openapi.json")).json()
        assert doc["tags"][0]["name"] == "auth"
        first = [(path, method) for path, item in list(doc["paths"].items())[:3] for method in item]
        assert first == [("/v1/auth/token", "post"), ("/v1/auth/refresh", "post"), ("/v1/auth/logout", "post")]
        # Every operation of a tag sits together, in the order the tags are declared.
        order = [op["tags"][0] for item in doc["paths"].values() for op in item.values()]
        declared = [t["name"] for t in doc["tags"]]
        assert [t for t in order if t in declared] == sorted((t for t in order if t in declared), key=declared.index)

        schemes = doc["components"]["securitySchemes"]
        people = doc["paths"]["/v1/cases"]["get"]["security"][0]
        tablets = doc["paths"]["/v1/sync"]["get"]["security"][0]
        (person,), (tablet,) = people, tablets
        assert person == "Login" and schemes[person]["flows"]["password"]["tokenUrl"] == "/v1/auth/token"
        assert "username and password" in schemes[person]["description"]
        assert tablet == "StationTablet" and schemes[tablet]["scheme"] == "bearer"
        assert re.search(r"station tablets only", schemes[tablet]["description"], re.IGNORECASE)
        assert set(schemes) == {person, tablet}


class TestDocAssets:
    async def test_every_page_loads_its_files_from_this_origin(self, gateway, cases_client, projects_client,
                                                               volunteers_client):
        for client in (gateway, cases_client, projects_client, volunteers_client):
            for path in PAGES:
                r = await client.get(path)
                assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
                urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""", r.text)
                urls = [u for pair in urls for u in pair if u]
                assert urls and not any(re.match(r"(https?:)?//", u) for u in urls), (path, urls)
                assets = [u for u in urls if u.startswith("/docs/assets/")]
                assert assets, (path, urls)
                for url in assets:
                    a = await client.get(url)
                    assert a.status_code == 200 and "immutable" in a.headers["cache-control"], url
                    assert len(a.content) > 1000, url
        assert (await gateway.get("/docs/assets/0000000000000000/swagger-ui-bundle.js")).status_code == 404
