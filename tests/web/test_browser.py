"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright (no browser download).

Every page opens with no console error, charts have drawn marks, filters and pagination work through the
form, keyboard focus is visible; a screenshot of each page is kept under ``tests/test-artifacts/web/``
(git-ignored; ``TIERWISE_TEST_ARTIFACTS`` moves it). Chromium is ``$TIERWISE_CHROMIUM`` or
``/usr/bin/chromium``; without it (or without the ``playwright`` package) these tests skip with the reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("TIERWISE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("TIERWISE_TEST_ARTIFACTS") or Path(__file__).parents[1] / "test-artifacts") / "web"


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}: apt-get install chromium (or set TIERWISE_CHROMIUM)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@contextlib.contextmanager
def _serving(app):
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                        lifespan="off", access_log=False))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline:
            pytest.fail("the dashboard server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def server(web_app):
    with _serving(web_app) as url:
        yield url


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    pg = context.new_page()
    pg.errors = []  # console errors and uncaught page errors
    pg.on("console", lambda m: pg.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(f"page error: {e}"))
    yield pg
    context.close()


def _shot(pg, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def _marks(pg) -> int:
    """Chart marks with a drawn size (an SVG rect wider and taller than zero)."""
    return pg.evaluate("""() => [...document.querySelectorAll('svg.chart .mark')]
        .filter(r => { const b = r.getBBox(); return b.width > 0 && b.height > 0; }).length""")


def test_every_page_opens_without_console_errors(page, server, web_app):
    from tierwise.web.views import OUTPUT_VIEWS

    top = web_app.state.dashboard.data.top(1)[0]["account_id"]
    pages = {"overview": "/", "accounts": "/accounts", "account": f"/accounts/{top}",
             **{f"view-{v.key}": f"/views/{v.key}" for v in OUTPUT_VIEWS}}
    for name, url in pages.items():
        response = page.goto(server + url)
        assert response is not None and response.ok, (url, response and response.status)
        page.wait_for_load_state("load")
        assert page.title().endswith("tierwise"), url
        _shot(page, name)
        assert page.errors == [], (url, page.errors)

MIN_MARKS = {"performance": 8, "pipeline": 8, "icp": 3, "territories": 5, "rfm": 25, "assessment": 4}


def test_every_view_page_draws_its_charts_from_the_data(page, server):
    for key, least in MIN_MARKS.items():
        page.goto(server + f"/views/{key}")
        assert page.locator("#empty-state").count() == 0, key
        assert _marks(page) >= least, key
        assert page.locator("iframe").count() == 0
    page.goto(server + "/views/assessment")
    assert page.locator("svg.radar polygon.mark").count() == 1  # evidence mode: one series
    page.goto(server + "/views/rfm")
    assert page.locator("svg.chart rect.mark").count() >= 25  # the 5x5 grid and the segment bars
    assert page.errors == []


def test_empty_views_say_what_to_run(page, bare_dashboard):
    from fastapi import FastAPI

    from tierwise.web.app import router

    app = FastAPI()
    app.include_router(router(bare_dashboard))
    with _serving(app) as url:
        for key in MIN_MARKS:
            page.goto(url + f"/views/{key}")
            assert "tierwise " in page.locator("#empty-state code").inner_text(), key
            _shot(page, f"empty-{key}")
    assert page.errors == []


def test_charts_render_marks(page, server):
    page.goto(server + "/")
    assert page.locator("svg.chart").count() >= 3
    assert _marks(page) >= 10
    page.goto(server + "/accounts")
    first = page.locator("#accounts tbody a").first
    with page.expect_navigation():
        first.click()
    assert _marks(page) >= 1  # the score breakdown
    assert page.errors == []


def test_filters_and_pagination_through_the_form(page, server, web_app):
    data = web_app.state.dashboard.data
    page.goto(server + "/accounts")
    count = page.locator("#count").inner_text()
    assert count.startswith("300 of 300 accounts")
    rows_page1 = page.locator("#accounts tbody tr td:nth-child(2)").all_inner_texts()
    with page.expect_navigation():
        page.get_by_role("link", name="Next →").click()
    assert "page=2" in page.url and "page 2 of" in page.locator("#count").inner_text()
    rows_page2 = page.locator("#accounts tbody tr td:nth-child(2)").all_inner_texts()
    assert rows_page2 and not set(rows_page1) & set(rows_page2)
    with page.expect_navigation():
        page.get_by_role("link", name="← Previous").click()
    assert page.locator("#accounts tbody tr td:nth-child(2)").all_inner_texts() == rows_page1

    tier = data.tier_names[1]
    page.select_option("#f-tier", tier)
    page.fill("#f-min", "10")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply").click()
    assert f"tier={tier}" in page.url and "min_score=10" in page.url
    tiers = page.locator("#accounts tbody .tier").all_inner_texts()
    assert tiers and set(tiers) == {tier}
    from tierwise.web.data import Filters

    expected = data.accounts(Filters(tier=tier, min_score=10)).total
    assert page.locator("#count").inner_text().startswith(f"{expected} of 300 accounts")
    _shot(page, "accounts-filtered")

    page.fill("#f-q", "zzz-no-match")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # the form submits from the keyboard
    assert "No account matches these filters" in page.content()
    assert page.errors == []


def test_keyboard_navigation_and_visible_focus(page, server):
    page.goto(server + "/views/pipeline")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => [document.activeElement.className, document.activeElement.textContent]")
    assert focused == ["skip", "Skip to content"]
    page.keyboard.press("Enter")  # the skip link moves focus past the navigation
    assert page.evaluate("() => document.activeElement.id") == "main"
    order = []
    page.goto(server + "/")
    page.keyboard.press("Tab")
    for _ in range(9):  # focus order: skip link, then the navigation in reading order
        page.keyboard.press("Tab")
        order.append(page.evaluate("() => document.activeElement.textContent"))
    assert order[:8] == ["Overview", "Accounts", "Segment performance", "Pipeline health", "ICP document",
                         "Territory balance", "RFM", "Maturity assessment"]
    page.goto(server + "/")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # the first nav link
    style = page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
        return [document.activeElement.tagName, s.outlineStyle, s.outlineWidth]; }""")
    assert style[0] == "A" and style[1] != "none" and style[2] != "0px"
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # "Accounts" by keyboard alone
    assert page.url.endswith("/accounts")


def test_static_report_opens_without_server_or_network(page, workspace, tmp_path):
    from tierwise.web.app import write_static

    path = write_static(workspace, tmp_path / "report.html", top_n=25)
    requested: list[str] = []
    blocked: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    # the network is cut: any request that is not the file itself fails (and is recorded)
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
               else (blocked.append(route.request.url), route.abort())[1])
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    assert [u for u in requested if not u.startswith("file:")] == [] and blocked == []
    assert _marks(page) >= 100
    assert page.locator("#top + table tbody tr").count() == 25
    for key, least in MIN_MARKS.items():  # every view inline, its charts drawn
        section = page.locator(f"section#{key}")
        assert section.locator("#empty-state").count() == 0, key
        assert section.locator("svg.chart .mark").count() >= least, key
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    page.locator('header a[href="#rfm"]').click()  # in-file navigation
    assert page.url.endswith("#rfm")
    _shot(page, "static-report")
    assert page.errors == []
