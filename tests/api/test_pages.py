"""The page shells and their assets, without a browser: routes, static files, no asset from
the internet, no HTML insertion in the scripts, and every UI string in both languages."""

from __future__ import annotations

import json
import os
import re

import pytest

from tests.helpers import ROOT

STATIC = ROOT / "static"
TEMPLATES = ROOT / "templates"
SCRIPTS = sorted((STATIC / "js").glob("*.js"))


def test_start_page(client):
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    static = client.app.state.services.static_url
    assert re.fullmatch(r"/static/[0-9a-f]{12}", static)
    assert f'<script type="module" src="{static}/js/startpage.js"></script>' in r.text
    assert f'href="{static}/css/app.css"' in r.text


def test_graph_page_echoes_the_id_escaped(client):
    r = client.get("/g/abc123")
    assert r.status_code == 200
    assert 'data-graph-id="abc123"' in r.text
    assert f"{client.app.state.services.static_url}/js/graphpage.js" in r.text
    hostile = client.get('/g/"><img src=x onerror=alert(1)>')
    assert hostile.status_code == 200
    assert "<img src=x" not in hostile.text
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in hostile.text


def test_pages_are_not_in_the_api_schema(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths
    assert "/g/{graph_id}" not in paths


@pytest.mark.parametrize(
    "path",
    [
        "js/graphpage.js",
        "js/startpage.js",
        "js/i18n.js",
        "i18n/zh.json",
        "css/app.css",
        "css/graph.css",
        "favicon.svg",
    ],
)
def test_static_files_are_served(client, path):
    r = client.get(f"/static/{path}")
    assert r.status_code == 200
    assert r.content == (STATIC / path).read_bytes()


def test_versioned_files_are_cached_for_good_and_plain_ones_revalidated(client):
    static = client.app.state.services.static_url
    for path in ("js/graphpage.js", "js/api.js", "css/app.css", "favicon.svg"):
        versioned = client.get(f"{static}/{path}")
        assert versioned.status_code == 200
        assert versioned.content == (STATIC / path).read_bytes()
        assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
        plain = client.get(f"/static/{path}")
        assert plain.content == versioned.content
        assert plain.headers["cache-control"] == "no-cache"
    # a page cached from another version asks for files that are not there any more
    assert client.get("/static/0123456789ab/js/graphpage.js").status_code == 404


@pytest.mark.parametrize("page", ["/", "/g/abc", "/lessons/day1", "/docs", "/redoc"])
def test_every_file_a_page_links_is_served(client, page):
    html = client.get(page).text
    links = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert links
    for link in links:
        assert link.startswith(client.app.state.services.static_url + "/"), link
        assert client.get(link).status_code == 200, link


def test_the_hash_changes_with_any_file_of_the_tree(tmp_path):
    from stepgrad.app.http.static_assets import tree_hash

    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "a.js").write_text("export const a = 1;\n")
    (tmp_path / "app.css").write_text("body {}\n")
    first = tree_hash(tmp_path)
    assert tree_hash(tmp_path) == first
    (tmp_path / "js" / "a.js").write_text("export const a = 2;\n")
    second = tree_hash(tmp_path)
    assert second != first
    (tmp_path / "js" / "b.js").write_text("")
    assert tree_hash(tmp_path) not in (first, second)
    (tmp_path / "js" / "b.js").rename(tmp_path / "b.js")  # same bytes, another place
    assert len({first, second, tree_hash(tmp_path)}) == 3


def test_modules_import_each_other_relatively():
    """Only relative imports keep the versioned prefix of the importing module."""
    for script in SCRIPTS:
        text = script.read_text()
        for target in re.findall(r'^\s*(?:import|export)\b[^;]*?from\s+"([^"]+)"', text, re.M):
            assert target.startswith(("./", "../")), (script.name, target)
        assert '"/static/' not in text, script.name


def test_every_module_import_resolves():
    imports = re.compile(r'^import .* from "(\.{1,2}/[\w./]+)"[^;]*;$', re.M)
    for script in SCRIPTS:
        for target in imports.findall(script.read_text()):
            assert (STATIC / "js" / target).exists(), (script.name, target)


def test_pages_work_from_any_working_directory(tmp_path):
    from fastapi.testclient import TestClient

    from stepgrad.app.main import create_app
    from stepgrad.app.settings import Settings

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with TestClient(create_app(Settings(db=":memory:"))) as c:
            assert c.get("/").status_code == 200
            assert c.get("/static/js/graphview.js").status_code == 200
    finally:
        os.chdir(cwd)


def asset_files():
    return [
        *SCRIPTS,
        *STATIC.glob("css/*.css"),
        *STATIC.glob("docs/*"),
        *TEMPLATES.glob("*.html"),
        STATIC / "favicon.svg",
    ]


def test_nothing_is_loaded_from_the_internet():
    """Classrooms are often offline: no CDN, no web font, no remote image."""
    for path in asset_files():
        text = path.read_text()
        for url in re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"')]*", text):
            assert url.startswith("http://www.w3.org/"), (path.name, url)  # XML namespaces only
        assert "@import" not in text and "@font-face" not in text, path.name


def test_scripts_never_insert_html():
    for script in SCRIPTS:
        text = script.read_text()
        # spelt in pieces so that this file does not match a search for them itself
        html = "HTML"
        for pattern in (
            f".inner{html}",
            f"insertAdjacent{html}",
            f"outer{html} =",
            "document.write",
            "eval(",
        ):
            assert pattern not in text, (script.name, pattern)


def i18n_tables() -> dict[str, set[str]]:
    return {p.stem: set(json.loads(p.read_text("utf-8"))) for p in (STATIC / "i18n").glob("*.json")}


def test_every_string_exists_in_english_and_chinese():
    tables = i18n_tables()
    assert set(tables) == {"en", "zh"}
    assert tables["en"] == tables["zh"]
    used = set()
    for path in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r'data-i18n(?:-\w+)?="([\w.]+)"', path.read_text()))
    for script in SCRIPTS:
        used |= set(re.findall(r'\bt\(\s*"([\w.]+)"', script.read_text()))
    assert used, "no keys found"
    missing = used - tables["en"]
    assert not missing, sorted(missing)
    # keys built at run time: phase.*, live.*, kind.*, train.final.*
    for prefix, names in {
        "phase": ["forward", "backward", "done"],
        "live": ["connecting", "live", "offline"],
        "kind": ["lesson", "example"],
    }.items():
        for name in names:
            assert f"{prefix}.{name}" in tables["en"]


def test_chinese_strings_are_chinese():
    zh = (STATIC / "i18n" / "zh.json").read_text("utf-8")
    assert len(re.findall(r"[\u4e00-\u9fff]", zh)) > 500
