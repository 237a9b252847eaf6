"""The map pages in a real browser (Debian's Chromium driven by Playwright): polygons drawn,
a click opens a Chinese popup, nothing is fetched from outside this machine."""

from __future__ import annotations

import re
import subprocess
from urllib.parse import urlparse


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
    """Click the middle of a compound polygon drawn by the vector-tile layer (one whose middle
    no marker, such as a cluster of open cases, covers)."""
    box = page.evaluate("""() => {
        const middle = p => { const r = p.getBoundingClientRect();
                              return [r.x + r.width / 2, r.y + r.height / 2]; };
        const paths = [...document.querySelectorAll('path.leaflet-interactive')]
            .filter(p => (p.getAttribute('fill') || '').match(/#2e7d32|#f9a825|#c62828/))
            .filter(p => document.elementFromPoint(...middle(p)) === p);
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


KPI_TEXT = ".gridgov-panel:has(#kpi-coverage) :is(b, small)"  # the title and the KPI labels


def chinese_fonts() -> set[str]:
    """Families fontconfig says cover Chinese: what Chromium on Linux can fall back to."""
    out = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True,
                         check=True).stdout
    return {name.strip() for line in out.splitlines() for name in line.split(",")}


def test_overview_kpi_labels_render_chinese_glyphs(browser, service):
    # Text and DOM are the same with or without a CJK font; only the drawing shows tofu. Two
    # checks that do not depend on screenshots: (1) Chromium's own record of which platform font
    # drew how many glyphs of each node (what DevTools shows as "Rendered Fonts"); every Chinese
    # character must be drawn by a font fontconfig says covers Chinese. (2) Each character drawn
    # on a canvas in the panel's font must differ from a character no font has (U+10FFFD), which
    # is what tofu looks like, because Chromium draws a missing glyph as the font's .notdef box.
    page, _, _ = open_page(browser, f"{service.url}/maps/overview")
    covering = chinese_fonts()
    assert covering, "no font covers Chinese (Debian: fonts-noto-cjk; scripts/test installs it)"
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    nodes = cdp.send("DOM.querySelectorAll", {"nodeId": root, "selector": KPI_TEXT})["nodeIds"]
    texts = page.eval_on_selector_all(KPI_TEXT, "els => els.map(e => e.textContent)")
    assert len(nodes) == len(texts) >= 10 and "包联覆盖率" in texts
    for node, text in zip(nodes, texts):
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        drawn = sum(f["glyphCount"] for f in fonts if f["familyName"] in covering)
        assert drawn >= len(re.findall(r"[\u4e00-\u9fff]", text)), (text, fonts)
    tofu = page.evaluate("""([selector, chars]) => {
        const family = getComputedStyle(document.querySelector(selector)).fontFamily;
        const draw = ch => {
            const c = document.createElement('canvas');
            c.width = c.height = 64;
            const ctx = c.getContext('2d');
            ctx.font = `40px ${family}`;
            ctx.fillText(ch, 4, 48);
            return c.toDataURL();
        };
        const missing = draw('\\u{10FFFD}');
        return chars.filter(ch => draw(ch) === missing);
    }""", [KPI_TEXT, sorted(set(re.findall(r"[\u4e00-\u9fff]", "".join(texts))))])
    assert tofu == [], f"drawn as tofu: {''.join(tofu)}"
    page.close()
