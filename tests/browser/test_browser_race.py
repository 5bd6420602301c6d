"""Day 3's race on a server whose race leaves PyTorch out (the race_torch setting): the
table has the two trainers that ran, and the sentence counts two ways, not three."""

from __future__ import annotations

import pytest

from tests.helpers import STEP_TIMEOUT, browser_stack, serve

pytestmark = pytest.mark.browser

expect = browser_stack()  # skips without Playwright; fails under CI=true


@pytest.fixture(scope="module")
def two_way_server():
    from stepgrad.app.main import create_app
    from stepgrad.app.settings import Settings

    settings = Settings(db=":memory:", race_torch=False, rate_heavy="100000/minute")
    with serve(create_app(settings), timeout_graceful_shutdown=2) as url:
        yield url


@pytest.mark.parametrize(
    ("lang", "agree", "names"),
    [
        ("en", "the same training, 2 ways", "stepgrad's engine, numpy by hand"),
        ("zh", "同一个训练，2 种实现", "stepgrad 引擎、手写 numpy"),
    ],
)
def test_the_race_counts_the_trainers_that_ran(
    page, two_way_server, screenshots, lang, agree, names
):
    # the page's language as a reader chose it before (kept in the browser's storage)
    page.add_init_script(f"localStorage.setItem('stepgrad:lang', '{lang}')")
    page.goto(f"{two_way_server}/lessons/day3#step-12")
    root = page.locator("#lesson")
    expect(root).to_have_attribute("data-step", "12")
    race = page.locator("[data-chart=race]")
    expect(race).to_have_attribute("data-status", "done", timeout=STEP_TIMEOUT)
    rows = race.locator("[data-role=race-row]")
    expect(rows).to_have_count(2)
    assert [r.get_attribute("data-trainer") for r in rows.all()] == ["engine", "numpy"]
    sentence = race.locator("[data-role=race-agree]")
    expect(sentence).to_have_attribute("data-ran", "engine numpy")
    expect(sentence).to_contain_text(agree)
    expect(sentence).to_contain_text(names)
    expect(sentence).not_to_contain_text("PyTorch")
    expect(sentence).not_to_contain_text("three")
    # PyTorch's row says why it has no numbers
    expect(race.locator("[data-role=race-missing]")).to_have_count(1)
    page.screenshot(path=str(screenshots / f"race-two-ways-{lang}.png"))
