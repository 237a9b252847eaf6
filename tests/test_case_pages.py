"""The case pages in a real browser (Debian's Chromium driven by Playwright): a resident files a
随手拍 report from a phone (geolocation emulated, a photo taken), the command center lists and
dispatches it, the responsible unit signs it and reports back, and the overview map shows a new
open case within 10 s without reloading. Errors are said in Chinese, data is shown as text,
nothing is fetched from outside this machine, and Chinese is drawn with a CJK font.

The pages get their own service over their own copy of the seeded database (with case
categories, accounts and a generous intake limit), so the cases filed here touch no other test.
Screenshots go to $GRIDGOV_SCREENSHOTS when it is set (phone 390x844, wall 1920x1080).
"""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw
from sqlalchemy import text

from gridgov import auth
from gridgov.db import make_engine
from gridgov.io.importer import import_layer
from test_maps_browser import chinese_fonts, only_local as _only_local

KANGLE = {"latitude": 37.33306, "longitude": 111.19765, "accuracy": 12}  # 康乐小区
BEIJING = {"latitude": 39.9, "longitude": 116.4, "accuracy": 20}  # in no county served here
PHONE = {"width": 390, "height": 844}
WALL = {"width": 1920, "height": 1080}
CODE = re.compile(r"^141129-\d{8}-\d{6}$")
CATEGORIES = """code,kind,class_name,name,time_limit,limit_type,route_org_code
0101,event,市容环境,暴露垃圾（乱扔垃圾）,1,working_days,
0402,event,街面秩序,乱停乱放（机动车）,2,working_hours,
"""
CENTER = ("center", "center-pass-2026")
UNIT_PASSWORD = "unit-pass-2026"


@pytest.fixture(scope="module")
def live(databases, seeded_template, tmp_path_factory):
    """The service over a private seeded copy with case categories and a dispatcher."""
    from service import LiveService

    tmp = tmp_path_factory.mktemp("case_pages")
    url = databases.create(seeded_template, "pages")
    engine = make_engine(url)
    with engine.connect() as conn:
        have = conn.execute(text("SELECT count(*) FROM case_categories")).scalar()
    if not have:  # the bundle may not carry categories yet
        (tmp / "case_categories.csv").write_text(CATEGORIES, encoding="utf-8")
        import_layer(engine, "case_categories", tmp / "case_categories.csv")
    auth.add_user(engine, CENTER[0], "dispatcher", password=CENTER[1])
    # the pages sign in and report more often than a person would: wider doors
    with LiveService(url, GRIDGOV_MEDIA_DIR=str(tmp / "media"),
                     GRIDGOV_SERVICE_INTAKE_PER_MINUTE_ADDRESS="600",
                     GRIDGOV_SERVICE_SIGNIN_PER_MINUTE_ACCOUNT="600",
                     GRIDGOV_SERVICE_SIGNIN_PER_MINUTE_ADDRESS="600") as service:
        service.engine = engine
        service.state = {}
        yield service
    engine.dispose()


@pytest.fixture(scope="module")
def client(live):
    with httpx.Client(base_url=live.url, timeout=60) as c:
        yield c


def context(browser, size, csp=False, **kw):
    """A phone or a wall screen in Chinese. Playwright's waiting on a condition evaluates it
    with eval(), which the pages' Content-Security-Policy forbids: tests bypass the policy,
    except test_pages_run_under_their_content_security_policy (``csp=True``)."""
    phone = size == PHONE
    return browser.new_context(viewport=size, locale="zh-CN", timezone_id="Asia/Shanghai",
                               is_mobile=phone, has_touch=phone, bypass_csp=not csp, **kw)


def only_local(requests):
    # blob: URLs are the page's own photos (a preview, or read with the user's token)
    return _only_local([u for u in requests if not u.startswith("blob:")])


def watch(page):
    """Requests made and script errors raised by the page."""
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    return requests, errors


def screenshot(page, name):
    folder = os.environ.get("GRIDGOV_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def jpeg(color=(198, 40, 40)) -> bytes:
    """A small photo, as a phone camera would send it (JPEG)."""
    image = Image.new("RGB", (640, 480), (236, 239, 241))
    draw = ImageDraw.Draw(image)
    draw.rectangle((120, 160, 520, 420), fill=color)
    draw.ellipse((260, 40, 380, 160), fill=(46, 125, 50))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def file_report(client, description, point=KANGLE, category="0101") -> dict:
    r = client.post("/cases", data={"category_code": category, "lon": point["longitude"],
                                    "lat": point["latitude"], "description": description,
                                    "anonymous": "true"})
    assert r.status_code == 201, r.text
    return r.json()


def sign_in(page, username, password):
    page.fill(".signin input[name=username]", username)
    page.fill(".signin input[name=password]", password)
    page.click(".signin button[type=submit]")
    page.wait_for_selector(".signin .who")


def drawn_in_chinese_fonts(page, selector) -> None:
    """Every Chinese character of the elements is drawn by a font that covers Chinese (what
    Chromium records per node; see test_maps_browser for why this, not a screenshot)."""
    covering = chinese_fonts()
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    nodes = cdp.send("DOM.querySelectorAll", {"nodeId": root, "selector": selector})["nodeIds"]
    texts = page.eval_on_selector_all(selector, "els => els.map(e => e.textContent)")
    assert nodes and len(nodes) == len(texts)
    for node, value in zip(nodes, texts):
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        drawn = sum(f["glyphCount"] for f in fonts if f["familyName"] in covering)
        assert drawn >= len(re.findall(r"[\u4e00-\u9fff]", value)), (value, fonts)


# --- the resident's phone page -----------------------------------------------------------------

def test_resident_files_a_report_with_a_photo_from_a_phone(browser, live, client, tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg())
    ctx = context(browser, PHONE, geolocation=KANGLE, permissions=["geolocation"])
    page = ctx.new_page()
    requests, errors = watch(page)
    page.goto(f"{live.url}/report")
    assert page.locator("meta[name=viewport]").count() == 1
    page.wait_for_function("document.getElementById('where').textContent.includes('已定位')")
    assert "精度约 12 米" in page.inner_text("#where")
    screenshot(page, "report-phone-empty")
    page.select_option("#category", "0101")
    page.fill("#description", "楼下垃圾堆放三天无人清理")
    page.set_input_files("#photo", str(photo))
    page.wait_for_function("document.getElementById('preview').naturalWidth > 0")
    assert page.is_checked("#anonymous") and page.is_hidden("#contact")  # anonymous by default
    # large touch targets: the buttons a thumb presses are at least 48 px high
    for selector in ("#submit", "label.photo", "#category", "#locate"):
        assert page.locator(selector).bounding_box()["height"] >= 44, selector
    page.click("#submit")
    page.wait_for_selector("#done:not([hidden])", timeout=15_000)
    code = page.inner_text("#code").strip()
    assert CODE.match(code), code
    assert "康乐小区" in page.inner_text("#routing")
    screenshot(page, "report-phone-done")
    drawn_in_chinese_fonts(page, "header h1, #done h2, #routing")
    assert errors == [] and only_local(requests)
    case = client.get(f"/cases/{code}").json()
    assert case["channel"] == "resident" and case["anonymous"] is True
    assert case["lon"] == pytest.approx(KANGLE["longitude"], abs=1e-6)  # WGS84 as given
    assert [p["stage"] for p in case["photos"]] == ["report"]
    assert "reporter_name" not in case  # a viewer never sees who reported
    live.state["report"] = code
    ctx.close()


def test_report_page_is_small_and_plain(client):
    page = client.get("/report")
    assert page.status_code == 200 and "文明中阳随手拍" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    script = client.get("/static/cases/report.js")
    style = client.get("/static/cases/report.css")
    assert script.status_code == style.status_code == 200
    assert len(script.content) + len(style.content) + len(page.content) < 16_000
    assert not re.search(r"https?://", script.text + style.text + page.text)  # no CDN


def test_report_errors_are_said_in_chinese(browser, live, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"this is not a photo")
    ctx = context(browser, PHONE, geolocation=BEIJING, permissions=["geolocation"])
    page = ctx.new_page()
    _, errors = watch(page)
    page.goto(f"{live.url}/report")
    page.wait_for_function("document.getElementById('where').textContent.includes('已定位')")
    page.click("#submit")  # nothing chosen: said before anything is sent
    assert "请选择问题类别" in page.inner_text("#error")
    page.select_option("#category", "0101")
    page.fill("#description", "路灯不亮")
    page.click("#submit")
    page.wait_for_function("document.getElementById('error').textContent.includes('不在中阳县')")
    screenshot(page, "report-phone-outside")
    # the resident walks home: locate again, then a photo the service refuses
    ctx.set_geolocation(KANGLE)
    page.click("#locate")
    page.wait_for_function("document.getElementById('where').textContent.includes('111.19765')")
    page.set_input_files("#photo", str(broken))
    page.click("#submit")
    page.wait_for_function("document.getElementById('error').textContent.includes('照片无法接收')")
    # too many reports from one place: the service's 429 with Retry-After
    page.route("**/cases", lambda route: route.fulfill(
        status=429, headers={"Retry-After": "17", "Content-Type": "application/json"},
        body='{"code": "TooManyRequests", "description": "too many reports from this '
             'address; try again in 17 s"}'))
    page.set_input_files("#photo", [])
    page.click("#submit")
    page.wait_for_function("document.getElementById('error').textContent.includes('17 秒')")
    assert "提交太频繁" in page.inner_text("#error")
    # named, not anonymous: name and phone appear, and a bad phone number is caught here
    page.uncheck("#anonymous")
    assert page.is_visible("#name") and page.is_visible("#phone")
    page.fill("#phone", "12ab")
    page.click("#submit")
    assert "手机号码格式不正确" in page.inner_text("#error")
    assert errors == []
    ctx.close()


# --- the command center ------------------------------------------------------------------------

def test_dispatcher_lists_filters_and_dispatches(browser, live, client):
    code = live.state["report"]
    # a second case, overdue: dispatched, and its deadline a day gone
    late = file_report(client, "乱停车堵住消防通道", category="0402")["code"]
    key = auth.add_user(live.engine, "center-key", "dispatcher")
    for action in ("file", "dispatch"):
        r = client.post(f"/cases/{late}/actions/{action}", json={}, headers={"X-API-Key": key})
        assert r.status_code == 200, r.text
    with live.engine.begin() as conn:
        conn.execute(text("UPDATE cases SET handle_due = now() - interval '1 day' "
                          "WHERE code = :c"), {"c": late})

    ctx = context(browser, WALL)
    page = ctx.new_page()
    requests, errors = watch(page)
    page.goto(f"{live.url}/center/cases")
    sign_in(page, *CENTER)
    row = page.locator(f"tr[data-code='{code}']")
    row.wait_for()
    assert "已受理" in row.inner_text() and "暴露垃圾" in row.inner_text()
    late_row = page.locator(f"tr[data-code='{late}']")
    assert "overdue" in late_row.get_attribute("class") and "超期" in late_row.inner_text()
    assert late_row.evaluate("r => getComputedStyle(r.querySelector('.late')).color") == \
        "rgb(198, 40, 40)"  # red
    # both on the map beside the list (clustered while they are close)
    page.wait_for_function("document.querySelectorAll('.gg-pin, .marker-cluster').length > 0")
    screenshot(page, "center-list-wall")
    # filter by category: only the parking case is left
    page.select_option("#filters select[name=category_code]", "0402")
    page.click("#filters button[type=submit]")
    page.wait_for_function(f"!document.querySelector(\"tr[data-code='{code}']\")")
    assert page.locator(f"tr[data-code='{late}']").count() == 1
    assert "category_code=0402" in page.url  # the filtered list can be bookmarked
    page.select_option("#filters select[name=category_code]", "")
    page.click("#filters button[type=submit]")

    page.click(f"tr[data-code='{code}'] a")
    page.wait_for_selector(".actions button[data-action=file]")
    body = page.inner_text("#case")
    assert "派遣说明" in body and "康乐小区" in body and "办理记录" in body
    page.wait_for_function("[...document.querySelectorAll('.photos img')]"
                           ".some(i => i.naturalWidth > 0)")
    page.wait_for_selector(".case-map path.leaflet-interactive", state="attached")
    labels = page.eval_on_selector_all(".actions button", "bs => bs.map(b => b.textContent)")
    assert "立案" in labels and "不予立案" in labels and "重复件合并" in labels
    screenshot(page, "center-case-wall")
    page.fill(".actions textarea", "情况属实，予以立案")
    page.click(".actions button[data-action=file]")
    page.wait_for_function("document.querySelector('#case h2').textContent.includes('已立案')")
    page.click(".actions button[data-action=dispatch]")  # to the routed unit
    page.wait_for_function("document.querySelector('#case h2').textContent.includes('已派遣')")
    history = page.inner_text("ol.events")
    assert "上报" in history and "立案" in history and "派遣" in history
    assert "情况属实，予以立案" in history
    case = client.get(f"/cases/{code}").json()
    assert case["status"] == "dispatched" and case["unit_kind"] == "org"
    live.state["unit"] = case["unit_code"]
    screenshot(page, "center-case-dispatched-wall")
    assert errors == [] and only_local(requests)
    ctx.close()


def test_the_center_page_on_a_phone(browser, live):
    ctx = context(browser, PHONE)
    page = ctx.new_page()
    _, errors = watch(page)
    page.goto(f"{live.url}/center/cases")
    sign_in(page, *CENTER)
    page.locator("#cases tbody tr").first.wait_for()
    # stacked: the list above the map, nothing wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "center-list-phone")
    assert errors == []
    ctx.close()


# --- the responsible unit -----------------------------------------------------------------------

def test_unit_signs_uploads_photos_and_reports_back(browser, live, client, tmp_path):
    code, unit = live.state["report"], live.state["unit"]
    auth.add_user(live.engine, "unit", "handler", password=UNIT_PASSWORD, org_code=unit)
    after = tmp_path / "after.jpg"
    after.write_bytes(jpeg((46, 125, 50)))
    ctx = context(browser, PHONE)
    page = ctx.new_page()
    requests, errors = watch(page)
    page.goto(f"{live.url}/unit/cases")
    sign_in(page, "unit", UNIT_PASSWORD)
    card = page.locator(f"#mine li[data-code='{code}']")
    card.wait_for()
    assert "已派遣" in card.inner_text() and "签收时限" in card.inner_text()
    screenshot(page, "unit-list-phone")
    card.locator("button[data-action=sign]").click()
    page.wait_for_function("document.querySelector('#case h2') && "
                           "document.querySelector('#case h2').textContent.includes('处置中')")
    assert client.get(f"/cases/{code}").json()["status"] == "signed"
    labels = page.eval_on_selector_all(".actions button", "bs => bs.map(b => b.textContent)")
    assert set(labels) >= {"退回", "处置反馈"} and "派遣" not in labels
    # the after photo, then the report back
    page.select_option(".upload select", "after")
    page.set_input_files(".upload input[type=file]", str(after))
    page.click(".upload button")
    page.wait_for_function("[...document.querySelectorAll('.photos figcaption')]"
                           ".some(f => f.textContent.includes('处置后'))")
    page.fill(".actions textarea", "已清运完毕")
    page.click(".actions button[data-action=handle]")
    page.wait_for_function("document.querySelector('#case h2').textContent.includes('待核查')")
    screenshot(page, "unit-case-phone")
    case = client.get(f"/cases/{code}").json()
    assert case["status"] == "handled"
    assert sorted(p["stage"] for p in case["photos"]) == ["after", "report"]
    assert case["events"][-1]["note"] == "已清运完毕"
    assert errors == [] and only_local(requests)
    ctx.close()


def test_unit_page_refuses_other_roles_in_chinese(browser, live):
    ctx = context(browser, WALL)
    page = ctx.new_page()
    page.goto(f"{live.url}/unit/cases")
    assert "经办人账号登录" in page.inner_text("#summary")
    page.fill(".signin input[name=password]", "wrong")
    page.fill(".signin input[name=username]", "unit")
    page.click(".signin button[type=submit]")
    page.wait_for_selector(".signin .err")
    assert "用户名或密码错误" in page.inner_text(".signin")
    # a dispatcher, signed in with an API key instead of a password
    key = auth.add_user(live.engine, "center-desk", "dispatcher")
    page.click(".signin a")
    page.fill(".signin input[name=key]", key)
    page.click(".signin button[type=submit]")
    page.wait_for_selector(".signin .who")
    assert "指挥中心调度员" in page.inner_text(".signin")
    page.wait_for_function("document.getElementById('summary').textContent.includes('经办人使用')")
    ctx.close()


# --- the overview map and the poll behind it -----------------------------------------------------

def test_overview_shows_a_new_case_within_10_s_without_reloading(browser, live, client):
    ctx = context(browser, WALL)
    page = ctx.new_page()
    requests, errors = watch(page)
    page.goto(f"{live.url}/maps/overview", wait_until="networkidle")
    page.wait_for_function("window.gridgovCases && window.gridgovCases.getLayers().length >= 2")
    page.evaluate("window.__sameDocument = true")
    started = time.monotonic()
    code = file_report(client, "小区门口井盖缺失")["code"]
    page.wait_for_function(
        "code => window.gridgovCases.getLayers().some(m => m.options.title === code)",
        arg=code, timeout=10_000)
    assert time.monotonic() - started < 10
    assert page.evaluate("window.__sameDocument") is True  # no reload
    shown = int(page.inner_text("#kpi-cases-open"))
    assert shown == len(client.get("/cases", params={
        "status": "received,filed,dispatched,signed,handled,returned,suspended",
        "limit": 5000}).json())
    assert int(page.inner_text("#kpi-cases-late")) >= 1  # the parking case
    # and red on the map: its marker, or the cluster holding it
    page.wait_for_selector(".gg-pin-late, .gg-cluster-late", timeout=5_000)
    screenshot(page, "overview-wall")
    assert errors == [] and only_local(requests)
    assert any("/versions?tables=cases" in u for u in requests)
    ctx.close()


def test_versions_and_pages_escape_data(browser, live, client):
    v = client.get("/versions", params={"tables": "cases,case_events"})
    assert v.status_code == 200 and set(v.json()) == {"cases", "case_events"}
    assert v.headers["cache-control"] == "no-store"
    assert client.get("/versions", params={"tables": "cases,nope"}).status_code == 400
    assert client.get("/center/cases/nope").status_code == 200  # a shell; the script says 404
    hostile = "<img src=x onerror=\"window.__owned=1\">楼道堆物"
    code = file_report(client, hostile)["code"]
    ctx = context(browser, WALL)
    page = ctx.new_page()
    _, errors = watch(page)
    page.goto(f"{live.url}/center/cases/{code}")
    page.wait_for_selector("ol.events li")
    assert hostile in page.inner_text("#case")  # shown as text
    assert page.evaluate("window.__owned") is None
    page.goto(f"{live.url}/center/cases/141129-20000101-999999")
    page.wait_for_selector("#case .error")
    assert "没有找到" in page.inner_text("#case")
    assert errors == []
    ctx.close()


def test_pages_run_under_their_content_security_policy(browser, live):
    """With the policy in force (script-src 'self', no eval, no inline script), every page
    still works: waits here go through Playwright's selectors only, never eval."""
    code = live.state["report"]
    ctx = context(browser, WALL, csp=True, geolocation=KANGLE, permissions=["geolocation"])
    page = ctx.new_page()
    refused, errors = [], []
    page.on("console", lambda m: refused.append(m.text)
            if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live.url}/report")
    page.locator("#where", has_text="已定位").wait_for()
    page.goto(f"{live.url}/center/cases")
    sign_in(page, *CENTER)
    page.locator(f"tr[data-code='{code}']").wait_for()
    page.locator(".leaflet-marker-icon").first.wait_for()
    page.goto(f"{live.url}/center/cases/{code}")
    page.locator("ol.events li").first.wait_for()
    page.locator(".photos img[src^='blob:']").first.wait_for()
    page.goto(f"{live.url}/maps/overview")  # the folium page has no policy of its own
    page.locator("#kpi-cases-open", has_text=re.compile(r"\d")).wait_for()
    assert refused == [] and errors == []
    ctx.close()


def test_a_case_near_a_boundary_warns_the_dispatcher(browser, live, client):
    with live.engine.connect() as conn:  # on a compound's outline: within 20 m of a boundary
        lon, lat = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_LineInterpolatePoint(ST_ExteriorRing("
            "ST_GeometryN(geom, 1)), 0.3) p FROM compounds ORDER BY code LIMIT 1) s")).one()
    case = file_report(client, "围墙倒塌", point={"longitude": lon, "latitude": lat})
    assert case["near_boundary"] is True
    ctx = context(browser, WALL)
    page = ctx.new_page()
    page.goto(f"{live.url}/center/cases/{case['code']}")
    sign_in(page, *CENTER)
    page.wait_for_selector("#case .warn")
    assert "边界附近" in page.inner_text("#case .warn")
    assert "请派遣员核实" in page.inner_text("#case .note-routing")
    ctx.close()
