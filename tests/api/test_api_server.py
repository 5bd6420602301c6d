"""GET /api/server (where students reach the server) and GET /api/qr.svg (a link as a QR
code to scan from the projector)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from stepgrad.app.classroom import lan as network
from tests.helpers import SVG


def test_a_loopback_server_says_so(client):
    r = client.get("/api/server")
    assert r.status_code == 200
    assert r.json() == {"listen": "127.0.0.1:8000", "loopback_only": True, "share_urls": []}


def test_a_lan_server_lists_its_addresses(make_client, monkeypatch):
    monkeypatch.setattr(network, "lan_addresses", lambda: ["192.168.1.23"])
    client = make_client(host="0.0.0.0", port=8123)
    assert client.get("/api/server").json() == {
        "listen": "0.0.0.0:8123",
        "loopback_only": False,
        "share_urls": ["http://192.168.1.23:8123"],
    }


def modules(svg: bytes) -> list[list[bool]]:
    """The dark modules drawn by the SVG's black path (segno draws rows of horizontal runs:
    `M x y` starts, `m dx dy` moves, `h n` draws n modules), without the quiet zone."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and not list(root.iter(f"{SVG}script"))
    size = int(float(root.get("viewBox").split()[2]))
    grid = [[False] * size for _ in range(size)]
    x = y = 0.0
    (path,) = [p.get("d") for p in root.iter(f"{SVG}path") if p.get("stroke") == "#000"]
    for cmd, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?:[ ,](-?[\d.]+))?", path):
        if cmd == "M":
            x, y = float(a), float(b)
        elif cmd == "m":
            x, y = x + float(a), y + float(b)
        else:
            for i in range(int(float(a))):
                grid[int(y)][int(x) + i] = True
            x += float(a)
    return [row[4:-4] for row in grid[4:-4]]


def test_qr_code_of_a_link(client):
    import segno

    url = "http://192.168.1.23:8000/g/AbCdEfGhIjKlMnOp"
    r = client.get("/api/qr.svg", params={"url": url})
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/svg+xml"
    expected = [[bool(m) for m in row] for row in segno.make(url, error="m", micro=False).matrix]
    assert modules(r.content) == expected
    other = client.get("/api/qr.svg", params={"url": url + "x"}).content
    assert modules(other) != expected


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "/g/abc", "ftp://host/x", "http://", "http://h/" + "a" * 600],
)
def test_qr_code_refuses_anything_but_a_bounded_web_link(client, url):
    r = client.get("/api/qr.svg", params={"url": url})
    assert r.status_code == 422
    assert r.json()["detail"]
