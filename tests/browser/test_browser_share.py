"""The Share dialog in Chromium: the students' link on an address they can reach, its QR
code, and a clear warning when the server listens on loopback only."""

from __future__ import annotations

import urllib.parse

import pytest

from tests.helpers import PageApi, browser_stack, open_editable, serve, wait_js

pytestmark = pytest.mark.browser

expect = browser_stack()  # skips without Playwright; fails under CI=true


def open_share(page):
    page.locator("[data-action=share]").first.click()
    dialog = page.locator("#share-dialog")
    expect(dialog).to_be_visible()
    return dialog


def expect_qr_of(page, link: str) -> None:
    qr = page.locator("#share-qr")
    expect(qr).to_be_visible()
    expect(qr).to_have_attribute("src", "/api/qr.svg?url=" + urllib.parse.quote(link, safe=""))
    wait_js(page, "() => document.querySelector('#share-qr').naturalWidth > 0")
    box = qr.bounding_box()
    assert box["width"] >= 200 and box["height"] >= 200  # scannable from the back of a room


def test_loopback_server_warns_that_students_cannot_open_the_link(
    page, page_server, page_api, screenshots
):
    graph, token = page_api.create({"example": "seed"})
    open_editable(page, page_server, graph, token)
    dialog = open_share(page)
    warning = dialog.locator("[data-role=share-warning]")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("Only this computer can open these links")
    expect(warning).to_contain_text("stepgrad serve --lan")
    link = f"{page_server}/g/{graph['id']}"
    expect(page.locator("#share-view")).to_have_value(link)
    expect(dialog.locator("[data-role=share-address]")).to_be_hidden()
    expect_qr_of(page, link)
    page.screenshot(path=screenshots / "share-loopback.png")
    page.keyboard.press("Escape")
    page.locator("[data-action=lang]").click()
    open_share(page)
    expect(warning).to_contain_text("只有这台电脑能打开这些链接")
    page.screenshot(path=screenshots / "share-loopback-zh.png")


@pytest.fixture(scope="module")
def lan_server(browser):
    """The app as `stepgrad serve --lan --port 8123` would build it, on a machine with two
    network addresses (the test still listens on 127.0.0.1 only)."""
    from stepgrad.app.classroom import lan as network
    from stepgrad.app.main import create_app
    from stepgrad.app.settings import Settings

    mp = pytest.MonkeyPatch()
    mp.setattr(network, "lan_addresses", lambda: ["192.168.1.23", "10.0.0.5"])
    app = create_app(Settings(db=":memory:", host="0.0.0.0", port=8123))
    try:
        with serve(app) as url:
            yield url
    finally:
        mp.undo()


def test_lan_server_links_on_the_network_address_with_a_choice(page, lan_server, screenshots):
    api = PageApi(lan_server)
    graph, token = api.create({"example": "seed"})
    open_editable(page, lan_server, graph, token)
    dialog = open_share(page)
    expect(dialog.locator("[data-role=share-warning]")).to_be_hidden()
    link = f"http://192.168.1.23:8123/g/{graph['id']}"
    expect(page.locator("#share-view")).to_have_value(link)
    expect(page.locator("#share-edit")).to_have_value(f"{link}#edit={token}")
    expect_qr_of(page, link)
    page.screenshot(path=screenshots / "share-lan.png")
    # a second network (another Wi-Fi, a cable): the teacher picks the one students are on
    choice = page.locator("#share-base")
    expect(choice.locator("option")).to_have_text(
        ["http://192.168.1.23:8123", "http://10.0.0.5:8123"]
    )
    choice.select_option("http://10.0.0.5:8123")
    other = f"http://10.0.0.5:8123/g/{graph['id']}"
    expect(page.locator("#share-view")).to_have_value(other)
    expect_qr_of(page, other)
    # the QR code never carries the edit token
    assert "edit" not in urllib.parse.unquote(page.locator("#share-qr").get_attribute("src"))
