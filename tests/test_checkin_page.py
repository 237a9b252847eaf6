"""The member's check-in page in a real browser (Debian's Chromium driven by Playwright, as
test_maps_browser): a member signs in on a phone, is located (geolocation emulated inside a
compound their organization is assigned to), checks in with the one big button and sees 有效 and
已签到, checks out and sees the hours; from 600 m away the flags are said in Chinese; another
role is told the page is for members; and the page runs under its Content-Security-Policy.

Screenshots go to $GRIDGOV_SCREENSHOTS when it is set (phone 390x844).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from gridgov import auth
from gridgov.db import make_engine
from test_checkins_api import find_member
from test_maps_browser import only_local

PHONE = {"width": 390, "height": 844}
PASSWORD = "member-pass-2026"


@pytest.fixture(scope="module")
def live(databases, seeded_template, tmp_path_factory):
    from service import LiveService

    url = databases.create(seeded_template, "checkin_page")
    engine = make_engine(url)
    m = find_member(engine)
    auth.add_user(engine, "dangyuan", "member", password=PASSWORD, member_code=m["member"])
    auth.add_user(engine, "guihua", "planner", password=PASSWORD)
    with LiveService(url, GRIDGOV_MEDIA_DIR=str(tmp_path_factory.mktemp("media")),
                     GRIDGOV_SERVICE_SIGNIN_PER_MINUTE_ACCOUNT="600",
                     GRIDGOV_SERVICE_SIGNIN_PER_MINUTE_ADDRESS="600") as service:
        service.engine, service.member = engine, m
        yield service
    engine.dispose()


def phone(browser, where, csp=False):
    """A phone in Chinese, at ``where`` (lon, lat), 12 m accuracy, geolocation allowed.
    Playwright's wait_for_function uses eval(), which the page's policy forbids: tests bypass
    it, except the one that checks the page under it (waits through locators only)."""
    return browser.new_context(viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai",
                               is_mobile=True, has_touch=True, bypass_csp=not csp,
                               geolocation={"longitude": where[0], "latitude": where[1],
                                            "accuracy": 12}, permissions=["geolocation"])


def watch(page):
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    return requests, errors


def screenshot(page, name):
    folder = os.environ.get("GRIDGOV_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def sign_in(page, username):
    page.locator("#signin").wait_for()
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#signin button[type=submit]")


def test_member_checks_in_and_out_on_a_phone(browser, live):
    m = live.member
    ctx = phone(browser, (m["lon"], m["lat"]))
    page = ctx.new_page()
    requests, errors = watch(page)
    page.goto(f"{live.url}/checkin")
    assert page.locator("meta[name=viewport]").count() == 1
    screenshot(page, "checkin-phone-signin")
    sign_in(page, "dangyuan")
    page.locator("#where", has_text="精度约 12 米").wait_for()
    assert "dangyuan" in page.inner_text("#who")
    # the compound it stands in comes first, chosen, and is said to be in range
    page.locator("#fence", has_text="在小区范围内").wait_for()
    assert page.input_value("#compound") == m["compound"]
    assert page.locator("#compound option").first.get_attribute("value") == m["compound"]
    big = page.locator("#big")
    assert big.inner_text() == "签到" and big.is_enabled()
    box = big.bounding_box()
    assert box["width"] >= 150 and box["height"] >= 150  # the one big button
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "checkin-phone-ready")

    big.click()
    page.locator("#current", has_text="已签到").wait_for()
    result = page.inner_text("#result")
    assert "签到成功" in result and "有效" in result
    assert page.locator("#big").inner_text() == "签退"
    assert page.is_hidden("#choose")  # the compound is chosen until the check-out
    assert "有效" in page.inner_text("#today")
    screenshot(page, "checkin-phone-in")
    with live.engine.begin() as conn:  # forty minutes later
        [(checkin_id, lon)] = conn.execute(text(
            "UPDATE checkins SET checked_in_at = checked_in_at - interval '40 minutes' "
            "WHERE member_code = :m AND checked_out_at IS NULL RETURNING id, ST_X(geom)"),
            {"m": m["member"]}).all()
    assert lon == pytest.approx(m["lon"], abs=1e-6)  # WGS84, as the browser gave it

    page.locator("#big").click()
    page.locator("#result", has_text="已签退").wait_for()
    result = page.inner_text("#result")
    assert "有效" in result and "本次 0.67 小时" in result
    page.locator("#big", has_text="签到").wait_for()
    assert page.is_hidden("#current")
    assert "0.67 小时" in page.inner_text("#today")
    assert re.search(r"本月签到 \d+ 次，有效时长 [\d.]+ 小时", page.inner_text("#month"))
    screenshot(page, "checkin-phone-out")
    with live.engine.connect() as conn:
        row = conn.execute(text("SELECT status, hours, kind FROM checkins WHERE id = :i"),
                           {"i": checkin_id}).one()
    assert tuple(row) == ("valid", 0.67, "service")
    assert errors == [] and only_local(requests)
    ctx.close()


def test_from_600_m_away_the_flags_are_said_in_chinese(browser, live):
    m = live.member
    ctx = phone(browser, (m["out_lon"], m["out_lat"]))
    page = ctx.new_page()
    _, errors = watch(page)
    page.goto(f"{live.url}/checkin")
    sign_in(page, "dangyuan")
    page.locator("#fence", has_text="超出签到范围").wait_for()
    page.click("label.kind:has-text('报到')")
    page.click("#big")
    page.locator("#current", has_text="已签到").wait_for()
    result = page.inner_text("#result")
    assert "待审核" in result and "不在小区范围内" in result and "已转人工审核" in result
    assert "报到" in page.inner_text("#current")
    screenshot(page, "checkin-phone-flagged")
    page.click("#big")  # at once: too short as well
    page.locator("#result", has_text="已签退").wait_for()
    assert "停留不足" in page.inner_text("#result")
    assert errors == []
    ctx.close()


def test_other_roles_and_bad_passwords_are_told_in_chinese(browser, live):
    m = live.member
    ctx = phone(browser, (m["lon"], m["lat"]))
    page = ctx.new_page()
    page.goto(f"{live.url}/checkin")
    page.locator("#signin").wait_for()
    page.fill("#username", "dangyuan")
    page.fill("#password", "wrong")
    page.click("#signin button[type=submit]")
    page.locator("#signin-error", has_text="用户名或密码错误").wait_for()
    sign_in(page, "guihua")
    page.locator("#signin-error", has_text="此页面供党员账号使用").wait_for()
    assert "规划人员" in page.inner_text("#signin-error") and page.is_hidden("#desk")
    # a member's API key works as well as a password
    key = auth.add_user(live.engine, "dangyuan-key", "member", member_code=m["member"])
    page.click("#toggle-key")
    page.fill("#key", key)
    page.click("#signin button[type=submit]")
    page.locator("#who", has_text="dangyuan-key").wait_for()
    # the session stays for the tab: a reload keeps it signed in
    page.reload()
    page.locator("#where", has_text="已定位").wait_for()
    assert page.is_visible("#desk")
    page.click("#signout")
    assert page.is_visible("#signin") and page.is_hidden("#desk")
    ctx.close()


def test_the_page_runs_under_its_content_security_policy(browser, live):
    m = live.member
    ctx = phone(browser, (m["lon"], m["lat"]), csp=True)
    page = ctx.new_page()
    refused, errors = [], []
    page.on("console", lambda msg: refused.append(msg.text)
            if "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live.url}/checkin")
    sign_in(page, "dangyuan")
    page.locator("#where", has_text="已定位").wait_for()
    page.locator("#fence", has_text="在小区范围内").wait_for()
    page.locator("#today li").first.wait_for()
    assert refused == [] and errors == []
    ctx.close()


def test_the_page_is_small_and_served_from_here(live):
    with httpx.Client(base_url=live.url) as client:
        page = client.get("/checkin")
        script = client.get("/static/checkin/checkin.js")
        style = client.get("/static/checkin/checkin.css")
    assert page.status_code == script.status_code == style.status_code == 200
    assert len(page.content) + len(script.content) + len(style.content) < 32_000
    assert not re.search(r"https?://", page.text + script.text + style.text)  # no CDN
