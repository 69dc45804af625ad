"""Swagger UI and ReDoc work without internet: every script, style and icon they load is served here."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx
import pytest

pytestmark = [pytest.mark.stack, pytest.mark.asyncio(loop_scope="session")]


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.urls.append(values["src"] or "")
        if tag == "link" and values.get("href"):
            self.urls.append(values["href"] or "")


def _inline_urls(html: str) -> list[str]:
    """URLs that Swagger UI's inline bootstrap script names (the spec and the redirect page)."""
    return [part.split("'")[0] for part in html.split("url: '")[1:]]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_load_only_local_assets(client: httpx.AsyncClient, page: str) -> None:
    response = await client.get(page, headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    parser = _Assets()
    parser.feed(response.text)
    assert len(parser.urls) >= 2, response.text
    assert "://" not in response.text.replace("http://www.w3.org", ""), "a remote URL in the page"
    for url in parser.urls + _inline_urls(response.text):
        assert url.startswith("/"), url
        asset = await client.get(url, headers={"Authorization": ""})
        assert asset.status_code == 200, url
        assert asset.content


async def test_docs_assets_are_scripts_and_styles(client: httpx.AsyncClient) -> None:
    js = await client.get("/docs-assets/swagger-ui-bundle.js")
    css = await client.get("/docs-assets/swagger-ui.css")
    redoc = await client.get("/docs-assets/redoc.standalone.js")
    assert "javascript" in js.headers["content-type"] and "css" in css.headers["content-type"]
    assert "javascript" in redoc.headers["content-type"]
