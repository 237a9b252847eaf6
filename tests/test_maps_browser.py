"""The map pages in a real browser (Debian's Chromium driven by Playwright): polygons drawn,
a click opens a Chinese popup, nothing is fetched from outside this machine."""

from __future__ import annotations

import shutil
from urllib.parse import urlparse

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def open_page(browser, url):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, wait_until="networkidle")
    page.wait_for_function("document.querySelectorAll('path.leaflet-interactive').length > 50",
                           timeout=15_000)
    return page, requests, errors


def only_local(requests):
    hosts = {urlparse(u).hostname for u in requests if not u.startswith("data:")}
    return hosts <= {"127.0.0.1", "localhost"}


def click_compound(page):
    """Click the middle of a compound polygon drawn by the vector-tile layer."""
    box = page.evaluate("""() => {
        const paths = [...document.querySelectorAll('path.leaflet-interactive')]
            .filter(p => (p.getAttribute('fill') || '').match(/#2e7d32|#f9a825|#c62828/));
        const r = paths[Math.floor(paths.length / 2)].getBoundingClientRect();
        return {x: r.x + r.width / 2, y: r.y + r.height / 2};
    }""")
    page.mouse.click(box["x"], box["y"])
    page.wait_for_selector(".leaflet-popup-content", timeout=5_000)
    return page.inner_text(".leaflet-popup-content")


def test_overview_map(browser, service):
    page, requests, errors = open_page(browser, f"{service.url}/maps/overview")
    assert errors == []
    assert "中阳县网格包联指挥中心" in page.inner_text("body")
    assert "包联覆盖率" in page.inner_text("body") and "图例" in page.inner_text("body")
    popup = click_compound(page)
    assert "户数" in popup and "状态" in popup and "包联单位" in popup
    assert only_local(requests), [u for u in requests if "127.0.0.1" not in u]
    assert any("/tiles/compounds/" in u for u in requests)
    page.close()


def test_gaps_map_lists_ranked_gaps(browser, service):
    page, requests, errors = open_page(browser, f"{service.url}/maps/gaps")
    assert errors == []
    items = page.query_selector_all("#gap-list li")
    assert len(items) >= 10 and "力量不足" in page.inner_text("#gap-list")
    popup = click_compound(page)
    assert "户数" in popup or "排序" in popup
    assert only_local(requests)
    page.close()


def test_access_and_org_maps(browser, service, api):
    for path in ("/maps/access", "/maps/org/141129-P001"):
        page = browser.new_page()
        requests, errors = [], []
        page.on("request", lambda r, seen=requests: seen.append(r.url))
        page.on("pageerror", lambda e, seen=errors: seen.append(str(e)))
        page.goto(f"{service.url}{path}", wait_until="networkidle")
        page.wait_for_selector("path.leaflet-interactive", state="attached", timeout=15_000)
        assert errors == [] and only_local(requests), path
        page.close()
    assert api.get("/maps/org/nope").status_code == 404


def test_standalone_export_opens_from_a_file(browser, seeded_engine, tmp_path):
    from gridgov.maps.pages import save_standalone

    path = save_standalone(seeded_engine, "overview", tmp_path / "overview.html")
    text = path.read_text(encoding="utf-8")
    import re

    assert not re.search(r"<script[^>]*\ssrc=", text)  # every script inline
    assert not re.search(r"<link[^>]*\shref=", text)  # every style sheet inline
    assert "/tiles/" not in text
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function("document.querySelectorAll('path.leaflet-interactive').length > 50")
    assert errors == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    popup = click_compound(page)
    assert "户数" in popup
    page.close()
