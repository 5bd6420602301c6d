"""/docs and /redoc without a browser: our pages, scripts from this origin only (no inline
script), and assets served from the installed package."""

from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_load_only_same_origin_files_and_no_inline_script(client, path):
    r = client.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", r.text, re.S)
    assert scripts
    for attrs, body in scripts:
        assert body.strip() == "", "inline script"
        assert re.search(r'\bsrc="/', attrs), attrs
    assert "<style" not in r.text
    assert not re.search(r"\son\w+=", r.text), "inline event handler"
    urls = re.findall(r'(?:src|href|spec-url|data-openapi-url)="([^"]*)"', r.text)
    assert urls
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 10, url


def test_swagger_ui_starts_from_our_file(client):
    page = client.get("/docs").text
    assert 'data-openapi-url="/openapi.json"' in page
    init = re.search(r'src="(/static/\w+/docs/swagger-init\.js)"', page).group(1)
    js = client.get(init)
    assert js.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert "SwaggerUIBundle(" in js.text and "validatorUrl: null" in js.text
    bundle = re.search(r'src="(/docs/assets/swagger-ui-bundle\.js[^"]*)"', page).group(1)
    assert "SwaggerUIBundle" in client.get(bundle).text[:2000]


def test_docs_follow_the_root_path(make_client):
    client = make_client()
    client.app.root_path = "/stepgrad"
    page = client.get("/docs", headers={}).text
    assert 'data-openapi-url="/stepgrad/openapi.json"' in page
    assert 'src="/stepgrad/docs/assets/swagger-ui-bundle.js' in page


def test_docs_are_not_in_the_api_description(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert not {"/docs", "/redoc", "/docs/oauth2-redirect"} & set(paths)
