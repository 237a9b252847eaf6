"""Two-way supervision: 报账 prefilled from check-ins, hours, activities, cases and key tasks and
due after the National Day holiday; 要账 deadlines in working days and who may answer; the key
tasks' board (the lead unit first, milestones late and done late, evidence checked); flags for
the command center; the scorecard's ranking rule and renormalised weights; Chinese CSV/XLSX
headers; and the API's status codes by role. No member's name, phone or position anywhere."""

from __future__ import annotations

import datetime as dt
import io
import json

import httpx
import openpyxl
import pytest
from sqlalchemy import text

from gridgov import auth
from gridgov.activity import accounts, checkins, demands, scorecard, supervision, tasks
from gridgov.auth import Forbidden, Principal
from gridgov.calendar import SHANGHAI
from gridgov.cases.kpis import case_kpis
from gridgov.db import make_engine
from gridgov.errors import InputError, StateConflict
from gridgov.settings import ActivitySettings

A, B, C, D = "141129-P051", "141129-P054", "141129-P001", "141129-P130"  # D: WG7
CENTER = Principal("center", "dispatcher")
ADMIN = Principal("boss", "admin")
HANDLER_A = Principal("a", "handler", A)
HANDLER_B = Principal("b", "handler", B)
HANDLER_C = Principal("c", "handler", C)
SEPT = dt.datetime(2025, 9, 3, 9, 0, tzinfo=SHANGHAI)
DUE_SEPT = dt.datetime(2025, 10, 14, 18, 0, tzinfo=SHANGHAI)  # 5th working day after 国庆


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture
def member(seeded_copy):
    """A member of A, the compound A is assigned to, a point inside it; and the member's name
    and phone (which must appear nowhere)."""
    with seeded_copy.connect() as conn:
        row = conn.execute(text(
            "SELECT m.code AS member, m.name, m.phone, a.compound_code AS compound, "
            "ST_X(ST_PointOnSurface(k.geom)) AS lon, ST_Y(ST_PointOnSurface(k.geom)) AS lat "
            "FROM members m JOIN assignments a ON a.org_code = m.org_code AND a.valid_to IS NULL "
            "JOIN compounds k ON k.code = a.compound_code WHERE m.org_code = :o "
            "ORDER BY m.code, a.compound_code LIMIT 1"), {"o": A}).mappings().one()
    return dict(row)


def visit(engine, member, start, minutes):
    with engine.begin() as conn:
        c = checkins.check_in(conn, member["member"], member["compound"], lon=member["lon"],
                              lat=member["lat"], accuracy_m=10, at=start)
        return checkins.check_out(conn, c["id"], start + dt.timedelta(minutes=minutes))


def activity(engine, code, org, day, participants=30):
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO activities (code, county_code, site_code, theme, held_on, org_code, "
            "participants, volunteer_hours) VALUES (:c, '141129', '141129-S001', '垃圾分类宣传', "
            ":d, :o, :p, 12)"), {"c": code, "d": day, "o": org, "p": participants})


# --------------------------------------------------------------------------- 报账

def test_due_date_is_the_fifth_working_day_after_the_holiday():
    assert accounts.due_at("2025-09") == DUE_SEPT  # Oct 9, 10, 11 (调休), 13, 14
    assert accounts.due_at("2025-11") == at(2025, 12, 5, 18, 0)  # no holiday: Mon 1 – Fri 5
    assert accounts.due_at("2025-09", ActivitySettings(account_due_working_days=3)) == \
        at(2025, 10, 11, 18, 0)


def test_account_prefilled_with_the_right_figures(seeded_copy, member):
    visit(seeded_copy, member, SEPT, 45)  # 0.75 h
    visit(seeded_copy, member, SEPT + dt.timedelta(days=7), 60)  # 1 h, another day
    short = visit(seeded_copy, member, SEPT + dt.timedelta(days=9), 3)  # flagged: short
    waiting = visit(seeded_copy, member, SEPT + dt.timedelta(days=12), 2)  # flagged, undecided
    visit(seeded_copy, member, at(2025, 10, 2, 9, 0), 60)  # October: not September's
    with seeded_copy.begin() as conn:
        assert checkins.decide(conn, short["id"], True, "planner", hours=0.5)["status"] == \
            "approved"
        checkins.add_hours(conn, member["member"], dt.date(2025, 9, 20), 2, "入户走访补录",
                           "planner")
    assert waiting["status"] == "flagged"
    activity(seeded_copy, "141129-A2025-0901", A, dt.date(2025, 9, 18), participants=30)
    activity(seeded_copy, "141129-A2025-1001", A, dt.date(2025, 10, 8))  # not September
    with seeded_copy.begin() as conn:
        tasks.report(conn, "141129-KT01", 40, HANDLER_A, note="完成摸底",
                     on=dt.date(2025, 9, 20), evidence={"activities": ["141129-A2025-0901"]})
        account = accounts.prefill(conn, A, "2025-09")
    p = account["prefilled"]
    assert account["status"] == "draft" and account["due_at"] == DUE_SEPT
    assert p["visits"] == {"verified": 3, "at_assigned_compounds": 3, "compounds": 1, "days": 3,
                           "members": 1, "hours": 2.25, "awaiting_decision": 1}
    assert p["hours_added"] == {"entries": 1, "hours": 2.0}
    assert p["activities"] == {"count": 1, "participants": 30, "volunteer_hours": 12.0,
                               "codes": ["141129-A2025-0901"]}
    assert p["cases"]["due"] == 0  # the synthetic cases begin in December 2025
    kt = {t["code"]: t for t in p["key_tasks"]}
    assert set(kt) == {"141129-KT01", "141129-KT04", "141129-KT07", "141129-KT11"}
    assert kt["141129-KT01"]["lead"] and kt["141129-KT01"]["percent"] == 40
    assert kt["141129-KT01"]["reports_in_month"] == 1 and not kt["141129-KT04"]["lead"]
    assert "核实走访3次" in p["summary_zh"] and "手工补录2小时" in p["summary_zh"]
    # counts and totals only: nobody's name, phone or position
    blob = json.dumps(p, ensure_ascii=False)
    assert member["name"] not in blob and member["phone"] not in blob
    assert member["member"] not in blob and "lon" not in blob and "lat" not in blob

    # prefilling again refreshes the draft (a fourth verified visit)
    visit(seeded_copy, member, SEPT + dt.timedelta(days=20), 30)
    with seeded_copy.begin() as conn:
        again = accounts.prefill(conn, A, "2025-09")
    assert again["prefilled"]["visits"]["verified"] == 4 and again["version"] > account["version"]


def test_account_cases_are_counted_as_the_case_kpis_count_them(seeded_engine):
    with seeded_engine.connect() as conn:
        org = conn.execute(text(
            "SELECT unit_code FROM cases WHERE unit_kind = 'org' AND handle_due >= "
            "'2025-12-01 00:00+08' AND handle_due < '2026-01-01 00:00+08' GROUP BY 1 "
            "ORDER BY count(*) DESC, 1 LIMIT 1")).scalar_one()
        cases = accounts.figures(conn, org, "2025-12")["cases"]  # figures only: no write
    k = case_kpis(seeded_engine, level="unit", start=dt.date(2025, 12, 1),
                  end=dt.date(2026, 1, 1)).set_index("key").loc[org]
    assert cases["due"] == k["due"] > 0
    assert cases["closed_on_time"] == k["closed_on_time"]
    assert cases["on_time_rate"] == pytest.approx(k["on_time_rate"], abs=1e-4)


def test_late_is_after_the_due_date_across_the_holiday(seeded_copy):
    with seeded_copy.begin() as conn:
        draft = accounts.prefill(conn, B, "2025-09")
    assert not accounts.is_late(draft, at(2025, 10, 8, 12, 0))  # during the holiday: not yet
    assert not accounts.is_late(draft, at(2025, 10, 14, 17, 59))
    assert accounts.is_late(draft, at(2025, 10, 14, 18, 1))  # not submitted by the due time
    with seeded_copy.begin() as conn, pytest.raises(Forbidden):
        accounts.submit(conn, B, "2025-09", "本月工作", HANDLER_A, at=at(2025, 10, 10, 9, 0))
    with seeded_copy.begin() as conn, pytest.raises(InputError, match="narrative"):
        accounts.submit(conn, B, "2025-09", "  ", HANDLER_B, at=at(2025, 10, 10, 9, 0))
    with seeded_copy.begin() as conn:
        late = accounts.submit(conn, B, "2025-09", "完成背街小巷排查", HANDLER_B,
                               at=at(2025, 10, 15, 9, 0))
        on_time = accounts.submit(conn, A, "2025-09", "完成入户走访", HANDLER_A,
                                  at=at(2025, 10, 14, 17, 30))
    assert late["status"] == "submitted" and late["late"] and late["timeliness_zh"] == "逾期报送"
    assert not on_time["late"] and on_time["timeliness_zh"] == "按期报送"
    with seeded_copy.begin() as conn, pytest.raises(StateConflict):
        accounts.submit(conn, B, "2025-09", "再报一次", ADMIN, at=at(2025, 10, 16, 9, 0))
    # a submitted account keeps the figures it was submitted with
    with seeded_copy.begin() as conn:
        kept = accounts.prefill(conn, B, "2025-09")
    assert kept["version"] == late["version"] and kept["narrative"] == "完成背街小巷排查"
    assert [a["org_code"] for a in accounts.find(seeded_copy, "2025-09", late=True,
                                                 as_of=at(2025, 11, 1, 0, 0))] == [B]


def test_prefill_all_and_flags_for_the_command_center(seeded_copy):
    assert accounts.monthly(seeded_copy, today=dt.date(2025, 10, 3)) == 131  # September's
    with seeded_copy.begin() as conn:
        accounts.submit(conn, A, "2025-09", "按期报账", HANDLER_A, at=at(2025, 10, 13, 10, 0))
        d = demands.issue(conn, org_code=B, title="报送门前三包整改台账", by=CENTER,
                          due_working_days=2, at=at(2025, 10, 9, 10, 0))
    assert d["due_at"] == at(2025, 10, 11, 10, 0)  # Thu 9 → Sat 11 (调休)
    assert supervision.flags(seeded_copy, at(2025, 10, 10, 12, 0)) == []
    rows = supervision.flags(seeded_copy, at(2025, 10, 20, 9, 0))
    late = [r for r in rows if r["kind"] == "account"]
    assert len(late) == 130 and A not in {r["org_code"] for r in late}
    assert rows[0]["kind"] == "demand" and rows[0]["org_code"] == B  # overdue the longest
    assert rows[0]["since"] == d["due_at"] and rows[0]["days_late"] == 8
    assert rows[0]["text_zh"].startswith("中阳县城市管理综合行政执法局机关党总支：要账“报送门前三包整改台账”逾期未回复")
    assert late[0]["what_zh"] == "2025年9月报账逾期未报" and late[0]["since"] == DUE_SEPT
    assert "应于2025-10-14 18:00前报送" in late[0]["text_zh"] and "已逾期5天" in late[0]["text_zh"]
    s = supervision.summary(seeded_copy, at(2025, 10, 20, 9, 0))
    assert (s["late_accounts"], s["overdue_demands"], s["open_demands"], s["flags"]) == \
        (130, 1, 1, 131)  # the bundle's demands come later (from December 2025)
    # an organization without any account for a month in use is late too
    with seeded_copy.begin() as conn:
        conn.execute(text("DELETE FROM accounts WHERE org_code = :o"), {"o": C})
    missing = [r for r in supervision.flags(seeded_copy, at(2025, 10, 20, 9, 0))
               if r["org_code"] == C]
    assert len(missing) == 1 and "未生成报账" in missing[0]["text_zh"]


def test_flags_per_organization_for_the_overview(seeded_copy):
    """The overview's 督办 layer: the rows of flags() gathered per organization, at its office
    (invented in the bundle, and said so), ranked by how many items are overdue; A accounted on
    time and has nothing open, so it is not flagged; B's account is missing and its demand
    unanswered past the deadline, so it is flagged for both and comes first; a demand to a work
    group is listed without a place. No person is named."""
    from gridgov.maps.pages import supervision_flags

    with seeded_copy.begin() as conn:
        accounts.submit(conn, A, "2025-09", "按期报账", HANDLER_A, at=at(2025, 10, 13, 10, 0))
        accounts.prefill(conn, C, "2025-09")  # a draft, never submitted
        d = demands.issue(conn, org_code=B, title="报送门前三包整改台账", by=CENTER,
                          due_working_days=2, at=at(2025, 10, 9, 10, 0))
        g = demands.issue(conn, work_group_code="141129-WG7", title="报送督查考核台账",
                          by=CENTER, due_working_days=1, at=at(2025, 10, 13, 9, 0))
        demands.issue(conn, org_code=A, title="报送下月计划", by=CENTER, due_working_days=10,
                      at=at(2025, 10, 17, 9, 0))  # open, but not yet due
    now = at(2025, 10, 20, 9, 0)
    f = supervision.by_unit(seeded_copy, now)
    rows = supervision.flags(seeded_copy, now)
    assert (f["late_accounts"], f["overdue_demands"]) == (130, 2)
    assert sorted((u["code"], i["ref"]) for u in f["units"] for i in u["items"]) == sorted(
        (r["org_code"] or r["work_group_code"], r["ref"]) for r in rows)  # one rule: flags()
    units = {u["code"]: u for u in f["units"]}
    assert A not in units and len(units) == 131  # 129 late orgs besides B, B, the work group
    first = f["units"][0]
    assert (first["code"], first["accounts"], first["demands"]) == (B, 1, 1)
    assert [i["kind"] for i in first["items"]] == ["demand", "account"]  # longest overdue first
    assert first["items"][0]["since"] == d["due_at"] and first["items"][0]["days_late"] == 8
    assert first["items"][1]["what_zh"] == "2025年9月报账逾期未报"
    assert first["items"][1]["late_zh"] == "已逾期5天" and first["days_late"] == 8
    with seeded_copy.connect() as conn:
        lon, lat, source = conn.execute(text(
            "SELECT ST_X(geom), ST_Y(geom), source FROM party_orgs WHERE code = :o"),
            {"o": B}).one()
    assert (first["lon"], first["lat"]) == (lon, lat) and first["synthetic"] == (source ==
                                                                                "synthetic")
    assert units[C]["items"][0]["what_zh"] == "2025年9月报账逾期未报"
    group = units["141129-WG7"]
    assert group["kind"] == "work_group" and group["lat"] is None and group["demands"] == 1
    assert group["items"][0]["ref"] == g["code"] and group["name"] == "督查考核组"
    # the page's payload: JSON-ready, Beijing times, the same units in the same order
    page = supervision_flags(seeded_copy, as_of=now)
    assert [u["code"] for u in page["units"]] == [u["code"] for u in f["units"]]
    assert page["units"][0]["items"][1]["since"] == "2025-10-14 18:00"
    body = json.dumps(page, ensure_ascii=False, allow_nan=False)
    with seeded_copy.connect() as conn:
        people = conn.execute(text("SELECT name, phone FROM members")).all()
    assert not [p for person in people for p in person if p and p in body]


# --------------------------------------------------------------------------- 要账

def test_demands_deadlines_answers_and_who_may_answer(seeded_copy):
    with seeded_copy.begin() as conn:
        with pytest.raises(Forbidden):
            demands.issue(conn, org_code=A, title="报送台账", by=HANDLER_A, due_working_days=3)
        with pytest.raises(InputError, match="one organization or one work group"):
            demands.issue(conn, org_code=A, work_group_code="141129-WG3", title="x", by=CENTER,
                          due_working_days=3)
        with pytest.raises(InputError, match="no organization"):
            demands.issue(conn, org_code="141129-P999", title="x", by=CENTER, due_working_days=1)
        # three working days from the Tuesday before the holiday: Thu 9, Fri 10, Sat 11 (调休)
        to_a = demands.issue(conn, org_code=A, title="报送背街小巷整治台账", body="附照片",
                             by=CENTER, due_working_days=3, at=at(2025, 9, 30, 16, 0))
        to_group = demands.issue(conn, work_group_code="141129-WG3", title="环境整治周报",
                                 by=CENTER, due_at=at(2025, 10, 17, 18, 0),
                                 at=at(2025, 10, 9, 9, 0))
        ignored = demands.issue(conn, org_code=B, title="说明农贸市场整改进度", by=ADMIN,
                                due_working_days=1, at=at(2025, 10, 9, 9, 0))
    # numbered after the bundle's demands, as they are: 141129-D041, ...
    numbers = [int(d["code"].removeprefix("141129-D")) for d in (to_a, to_group, ignored)]
    assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2] and numbers[0] > 1
    assert to_a["due_at"] == at(2025, 10, 11, 16, 0)
    assert ignored["due_at"] == at(2025, 10, 10, 9, 0)
    with seeded_copy.begin() as conn:
        with pytest.raises(Forbidden):  # a handler of another organization
            demands.answer(conn, to_a["code"], "已报送", HANDLER_B)
        with pytest.raises(Forbidden):  # not in the work group (WG1)
            demands.answer(conn, to_group["code"], "已报送", HANDLER_C)
        answered = demands.answer(conn, to_a["code"], "台账已报送", HANDLER_A,
                                  at=at(2025, 10, 10, 11, 0))
        by_member = demands.answer(conn, to_group["code"], "周报已报", HANDLER_B,
                                   at=at(2025, 10, 20, 9, 0))  # B is in WG3; after the due time
        with pytest.raises(StateConflict):
            demands.answer(conn, to_a["code"], "再答", HANDLER_A)
        with pytest.raises(Forbidden):
            demands.close(conn, to_a["code"], HANDLER_A)
        closed = demands.close(conn, to_a["code"], CENTER)
        with pytest.raises(StateConflict):
            demands.close(conn, to_a["code"], CENTER)
    assert answered["status"] == "answered" and answered["answered_on_time"]
    assert by_member["answered_on_time"] is False and closed["status_zh"] == "已办结"
    overdue = demands.find(seeded_copy, overdue=True, as_of=at(2025, 10, 12, 0, 0))
    assert [d["code"] for d in overdue] == [ignored["code"]]
    assert overdue[0]["overdue"] and overdue[0]["status_zh"] == "待回复"
    # an organization's list includes the demands to its work group, and no others
    mine = demands.find(seeded_copy, org_code=A)
    assert {to_a["code"], to_group["code"]} <= {d["code"] for d in mine}
    assert ignored["code"] not in {d["code"] for d in mine}
    assert all(d["org_code"] == A or d["work_group_code"] == "141129-WG3" for d in mine)


# --------------------------------------------------------------------------- key tasks

def test_key_task_progress_lead_first_and_milestone_lateness(seeded_copy):
    with seeded_copy.begin() as conn:  # KT01 from a clean slate (the bundle has its year)
        conn.execute(text("DELETE FROM key_task_milestones WHERE task_code = '141129-KT01'"))
        conn.execute(text("DELETE FROM key_task_progress WHERE task_code = '141129-KT01'"))
        for seq, name, due in ((1, "摸底建账", dt.date(2025, 9, 15)),
                               (2, "集中整治", dt.date(2025, 10, 31)),
                               (3, "验收销号", dt.date(2025, 12, 31))):
            tasks.set_milestone(conn, "141129-KT01", seq, name, due, CENTER)
        with pytest.raises(Forbidden):
            tasks.mark_done(conn, "141129-KT01", 1, HANDLER_A)
        done = tasks.mark_done(conn, "141129-KT01", 1, CENTER, dt.date(2025, 9, 20))
        with pytest.raises(StateConflict):
            tasks.mark_done(conn, "141129-KT01", 1, CENTER)
        accounts.prefill(conn, A, "2025-09")
        case = conn.execute(text("SELECT code FROM cases ORDER BY code LIMIT 1")).scalar_one()
    assert done["state"] == "done_late" and done["days_late"] == 5
    activity(seeded_copy, "141129-A2025-0902", B, dt.date(2025, 9, 10))
    with seeded_copy.begin() as conn:  # the second unit reports first, the lead later
        tasks.report(conn, "141129-KT01", 30, HANDLER_B, note="巷道清理",
                     on=dt.date(2025, 9, 25), evidence={"activities": ["141129-A2025-0902"]})
        tasks.report(conn, "141129-KT01", 20, HANDLER_A, on=dt.date(2025, 9, 10))
        lead = tasks.report(conn, "141129-KT01", 55, HANDLER_A, on=dt.date(2025, 10, 20),
                            evidence={"cases": [case], "accounts": ["2025-09"]})  # its own
        with pytest.raises(Forbidden):  # not a responsible unit of KT01
            tasks.report(conn, "141129-KT01", 10, HANDLER_C)
        with pytest.raises(InputError, match="no activity 141129-A-NONE") as refused:
            tasks.report(conn, "141129-KT01", 60, HANDLER_A,
                         evidence={"activities": ["141129-A-NONE"], "accounts": [f"{B}/2025-09"],
                                   "photos": ["x"]})
        with pytest.raises(InputError, match="not a responsible unit"):
            tasks.report(conn, "141129-KT01", 10, ADMIN, org_code=C)
    assert lead["lead"] and lead["evidence"]["accounts"] == ["2025-09"]
    fields = {p.field for p in refused.value.problems}
    assert fields == {"evidence.activities", "evidence.accounts", "evidence.photos"}

    (kt,) = tasks.board(seeded_copy, dt.date(2025, 11, 5), task="141129-KT01")
    assert kt["lead"] == {"code": A, "name": "中阳县住房和城乡建设管理局机关党总支"}
    assert kt["work_group_name"] == "环境整治组"
    assert [(u["org_code"], u["lead"], u["percent"]) for u in kt["units"]] == \
        [(A, True, 55), (B, False, 30)]
    assert kt["units"][0]["evidence_count"] == 2
    assert kt["milestone_counts"] == {"total": 3, "done": 1, "due": 2, "late": 1, "done_late": 1}
    assert [m["state"] for m in kt["milestones"]] == ["done_late", "late", "pending"]
    assert kt["milestones"][1]["days_late"] == 5 and kt["status_zh"] == "逾期"
    assert kt["percent"] == 42.5
    # as of an earlier day: the reports and completions made since do not show
    (before,) = tasks.board(seeded_copy, dt.date(2025, 9, 16), task="141129-KT01")
    assert [u["percent"] for u in before["units"]] == [20, None]
    assert [m["state"] for m in before["milestones"]] == ["late", "pending", "pending"]
    groups = tasks.by_work_group(seeded_copy, dt.date(2025, 11, 5))
    assert [g["code"] for g in groups] == [f"141129-WG{i}" for i in range(1, 8)]
    wg3 = groups[2]
    assert [t["code"] for t in wg3["tasks"]] == ["141129-KT01", "141129-KT04", "141129-KT07",
                                                 "141129-KT11"]
    assert wg3["late_milestones"] == 1 and groups[0]["tasks"] == []
    assert sum(len(g["tasks"]) for g in groups) == 12
    s = supervision.summary(seeded_copy, dt.date(2025, 11, 5))
    assert s["late_milestones"] == 1


# --------------------------------------------------------------------------- 考核

@pytest.fixture
def september(seeded_copy, member):
    """A: visited its compound on two days, account on time, demand answered on time.
    B: account late, no visits. C: visits only (no account, no demand). D: no compound."""
    for day in (0, 7):
        visit(seeded_copy, member, SEPT + dt.timedelta(days=day), 60)
    with seeded_copy.begin() as conn:
        conn.execute(text("UPDATE assignments SET valid_to = '2025-01-01' WHERE org_code = :o"),
                     {"o": D})
        d = demands.issue(conn, org_code=A, title="报送走访台账", by=CENTER,
                          due_working_days=3, at=at(2025, 9, 1, 9, 0))
        demands.answer(conn, d["code"], "已报送", HANDLER_A, at=at(2025, 9, 2, 9, 0))
        accounts.submit(conn, A, "2025-09", "按期", HANDLER_A, at=at(2025, 10, 10, 9, 0))
        accounts.submit(conn, B, "2025-09", "逾期", HANDLER_B, at=at(2025, 10, 15, 9, 0))
        accounts.submit(conn, D, "2025-09", "按期", ADMIN, at=at(2025, 10, 13, 9, 0))
    return seeded_copy


def test_scorecard_ranking_rule_and_renormalised_weights(september):
    card = scorecard.scorecard(september, "2025-09", as_of=at(2025, 11, 1, 0, 0))
    assert len(card) == 131 and card["org_code"].is_unique
    rows = card.set_index("org_code")
    a, b, c, d = (rows.loc[o] for o in (A, B, C, D))
    assert a["compounds_covered"] == 1 and a["compounds_assigned"] >= 1
    visits = 1 / a["compounds_assigned"]
    assert a["visits_score"] == pytest.approx(visits)
    # cases have no data in September 2025: 0.4, 0.2, 0.2 renormalised over 0.8
    assert a["score"] == pytest.approx(round(100 * (0.4 * visits + 0.2 + 0.2) / 0.8, 1))
    assert a["weights_zh"] == "走访50%、报账25%、要账25%"
    assert a["reasons_zh"] == (f"走访覆盖1/{a['compounds_assigned']}个小区；报账按期1/1；"
                               "要账按期回复1/1")
    assert b["score"] == 0 and b["weights_zh"] == "走访67%、报账33%"
    assert b["reasons_zh"] == f"走访覆盖0/{b['compounds_assigned']}个小区；报账逾期1次；无到期要账"
    assert (a["rank"], b["rank"]) == (1, 2) and a["ranked"] and b["ranked"]
    # too little data: listed, not ranked
    assert not c["ranked"] and pd_na(c["rank"]) and c["components"] == 1
    assert c["note_zh"] == "有数据的考核项少于2项，列出不排名"
    assert not d["ranked"] and d["compounds_assigned"] == 0 and d["note_zh"] == "无包联小区，列出不排名"
    assert d["accounts_score"] == 1 and d["reasons_zh"].startswith("无包联小区；报账按期1/1")
    assert card["ranked"].sum() == 2 and list(card["org_code"][:2]) == [A, B]
    # weights from the settings: without visits, A ranks on accounts and demands alone
    no_visits = scorecard.scorecard(september, "2025-09", as_of=at(2025, 11, 1, 0, 0),
                                    settings=ActivitySettings(weight_visits=0)).set_index(
        "org_code")
    assert no_visits.loc[A, "score"] == 100 and no_visits.loc[A, "weights_zh"] == "报账50%、要账50%"
    assert not no_visits.loc[B, "ranked"]  # one component left
    # nothing personal in any output
    blob = card.to_json(force_ascii=False)
    with september.connect() as conn:
        names = conn.execute(text("SELECT name FROM members WHERE org_code = :o"),
                             {"o": A}).scalars().all()
    assert not any(n in blob for n in names)


def pd_na(value) -> bool:
    import pandas as pd

    return pd.isna(value)


def test_scorecard_counts_cases_when_there_are_cases(seeded_engine):
    card = scorecard.scorecard(seeded_engine, "2025-12").set_index("org_code")
    k = case_kpis(seeded_engine, level="unit", start=dt.date(2025, 12, 1),
                  end=dt.date(2026, 1, 1)).set_index("key")
    with_cases = card[card["cases_due"] >= 5]
    assert len(with_cases) > 0
    for org, row in with_cases.iterrows():
        assert row["cases_due"] == k.loc[org, "due"]
        assert row["cases_score"] == pytest.approx(k.loc[org, "on_time_rate"])
        assert row["ranked"] == (row["compounds_assigned"] > 0)
        assert "工单按期结案" in row["reasons_zh"]
    few = card[(card["cases_due"] > 0) & (card["cases_due"] < 5)]
    assert few["cases_score"].isna().all()


def test_scorecard_csv_and_xlsx_have_chinese_headers(september):
    card = scorecard.scorecard(september, "2025-09", as_of=at(2025, 11, 1, 0, 0))
    csv = scorecard.to_csv(card)
    assert csv.startswith("\ufeff".encode())
    header = csv.decode("utf-8-sig").splitlines()[0].split(",")
    assert header[:6] == ["考核期", "党组织编码", "党组织名称", "工作组", "排名", "综合得分"]
    assert "得分依据" in header and "是否排名" in header
    assert all(not h.isascii() for h in header)
    sheet = openpyxl.load_workbook(io.BytesIO(scorecard.to_xlsx(card))).active
    assert sheet.title == "考核"
    assert [c.value for c in sheet[1]] == header
    assert sheet.max_row == 132 and sheet.cell(2, 2).value == A


# --------------------------------------------------------------------------- the API

@pytest.fixture(scope="module")
def live(databases, seeded_template):
    from service import LiveService

    url = databases.create(seeded_template, "supervision_api")
    engine = make_engine(url)
    keys = {name: auth.add_user(engine, name, role, org_code=org) for name, role, org in (
        ("center", "dispatcher", None), ("plan", "planner", None), ("boss", "admin", None),
        ("a", "handler", A), ("b", "handler", B), ("c", "handler", C))}
    with engine.begin() as conn:
        tasks.set_milestone(conn, "141129-KT01", 6, "复查巩固", dt.date(2026, 9, 15), CENTER)
        conn.execute(text("UPDATE key_tasks SET name = '<script>alert(1)</script>背街小巷' "
                          "WHERE code = '141129-KT03'"))
    with LiveService(url) as service:
        with httpx.Client(base_url=service.url, timeout=60) as client:
            yield client, keys, engine
    engine.dispose()


def as_(keys, name):
    return {"X-API-Key": keys[name]}


def test_api_demands_and_accounts_by_role(live):
    api, keys, engine = live
    new = {"org_code": A, "title": "报送背街小巷整治台账", "due_working_days": 3}
    assert api.post("/supervision/demands", json=new).status_code == 403  # anonymous
    assert api.post("/supervision/demands", json=new, headers=as_(keys, "a")).status_code == 403
    assert api.post("/supervision/demands", json={**new, "work_group_code": "141129-WG3"},
                    headers=as_(keys, "center")).status_code == 422
    assert api.post("/supervision/demands", json={**new, "org_code": "141129-P999"},
                    headers=as_(keys, "center")).status_code == 422
    r = api.post("/supervision/demands", json=new, headers=as_(keys, "center"))
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert r.headers["location"] == f"/supervision/demands/{code}"
    assert r.json()["status"] == "open" and r.json()["org_name"] == "中阳县住房和城乡建设管理局机关党总支"

    def act(what, who, **body):
        return api.post(f"/supervision/demands/{code}/{what}", json=body or None,
                        headers=as_(keys, who))

    assert act("answer", "b", answer="不是我们的").status_code == 403  # another organization
    assert act("answer", "c", answer="x").status_code == 403
    assert act("answer", "a", answer="").status_code == 400  # empty: the request is refused
    ok = act("answer", "a", answer="台账已报送")
    assert ok.status_code == 200 and ok.json()["answered_on_time"] is True
    assert act("answer", "a", answer="again").status_code == 409
    assert act("close", "a").status_code == 403
    assert act("close", "center").status_code == 200
    assert act("close", "center").status_code == 409
    assert api.get("/supervision/demands/141129-YZ000000-999").status_code == 404
    listed = api.get("/supervision/demands", params={"org_code": A}).json()
    assert listed[0]["code"] == code  # the newest first

    month = dt.datetime.now(SHANGHAI).strftime("%Y-%m")  # the bundle's accounts end before
    path = f"/supervision/accounts/{A}/{month}"
    assert api.get(path).status_code == 404  # not prefilled yet
    assert api.post(f"{path}/prefill", headers=as_(keys, "b")).status_code == 403
    pre = api.post(f"{path}/prefill", headers=as_(keys, "center"))
    assert pre.status_code == 200 and pre.json()["status"] == "draft"
    assert api.post(f"{path}/submit", json={"narrative": "本月完成入户走访"},
                    headers=as_(keys, "b")).status_code == 403
    assert api.post(f"{path}/submit", json={"narrative": "x"}).status_code == 403
    assert api.post(f"{path}/submit", json={"narrative": ""},
                    headers=as_(keys, "a")).status_code == 400
    assert api.post(f"{path}/submit", json={"narrative": "   "},
                    headers=as_(keys, "a")).status_code == 422
    sub = api.post(f"{path}/submit", json={"narrative": "本月完成入户走访"},
                   headers=as_(keys, "a"))
    assert sub.status_code == 200 and sub.json()["status"] == "submitted"
    assert "submitted_by" not in sub.json()  # who pressed the button: admins only
    assert api.get(path, headers=as_(keys, "boss")).json()["submitted_by"] == "a"
    assert api.post(f"{path}/submit", json={"narrative": "again"},
                    headers=as_(keys, "a")).status_code == 409
    assert api.get(f"/supervision/accounts/{A}/2025-13").status_code == 400
    assert api.get("/supervision/accounts", params={"month": month}).json()[0]["org_code"] == A

    flags = api.get("/supervision/flags")
    assert flags.status_code == 200 and isinstance(flags.json(), list)
    summary = api.get("/supervision/summary").json()
    assert {"late_accounts", "overdue_demands", "open_demands", "late_milestones",
            "flags"} <= set(summary) and summary["labels_zh"]["late_accounts"] == "报账逾期"
    csv = api.get("/supervision/flags", params={"format": "csv"})
    assert csv.status_code == 200 and csv.content.decode("utf-8-sig").startswith("类别,党组织编码")
    assert api.get("/supervision/flags", params={"as_of": "1800-01-01"}).status_code == 400


def test_api_key_tasks_board_and_page(live):
    api, keys, engine = live
    board = api.get("/tasks")
    assert board.status_code == 200 and len(board.json()) == 12
    progress = {"percent": 35, "note": "完成摸底", "evidence": {"accounts": [f"{A}/2020-01"]}}
    url = "/tasks/141129-KT01/progress"
    assert api.post(url, json=progress, headers=as_(keys, "a")).status_code == 422  # no account
    assert api.post(url, json={"percent": 35}, headers=as_(keys, "c")).status_code == 403
    assert api.post(url, json={"percent": 35}, headers=as_(keys, "center")).status_code == 403
    assert api.post(url, json={"percent": 135}, headers=as_(keys, "a")).status_code == 400
    assert api.post(url, json={"percent": 20}, headers=as_(keys, "b")).status_code == 201
    r = api.post(url, json={"percent": 35, "note": "完成摸底"}, headers=as_(keys, "a"))
    assert r.status_code == 201 and r.json()["lead"] is True
    assert api.post(url, json={"percent": 10, "org_code": C},
                    headers=as_(keys, "boss")).status_code == 422
    assert api.post("/tasks/141129-KT99/progress", json={"percent": 1},
                    headers=as_(keys, "a")).status_code == 404
    done = "/tasks/141129-KT01/milestones/6/done"
    assert api.post(done, headers=as_(keys, "a")).status_code == 403
    assert api.post(done, json={"done_on": "2026-09-20"},
                    headers=as_(keys, "center")).status_code == 200
    assert api.post(done, headers=as_(keys, "center")).status_code == 409
    assert api.post("/tasks/141129-KT01/milestones/9/done",
                    headers=as_(keys, "center")).status_code == 404
    kt = api.get("/tasks/141129-KT01").json()
    assert [u["org_code"] for u in kt["units"]] == [A, B] and kt["units"][0]["percent"] == 35
    assert [m["state"] for m in kt["milestones"] if m["seq"] == 6] == ["done_late"]
    assert api.get("/tasks/141129-KT99").status_code == 404

    page = api.get("/tasks", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "创城重点任务看板" in html and "牵头" in html and "环境整治组" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "http://" not in html and "https://" not in html  # nothing from a CDN
    assert "script-src 'none'" in page.headers["content-security-policy"]
    one = api.get("/tasks", params={"work_group": "141129-WG3", "f": "html"}).text
    assert "背街小巷整治" in one and "农贸市场规范提升" not in one  # WG4's task
    assert api.get("/tasks", params={"work_group": "141129-WG0", "f": "html"}).status_code == 404
    only = api.get("/tasks", params={"work_group": "141129-WG3"}).json()
    assert {t["work_group_code"] for t in only} == {"141129-WG3"} and len(only) == 4


def test_api_scorecard_formats(live):
    api, keys, engine = live
    r = api.get("/scorecard", params={"period": "2025-09"})
    assert r.status_code == 200 and len(r.json()) == 131
    assert {"rank", "score", "reasons_zh", "ranked", "note_zh"} <= set(r.json()[0])
    csv = api.get("/scorecard", params={"period": "2025-09", "format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.content.decode("utf-8-sig").split(",")[:3] == ["考核期", "党组织编码", "党组织名称"]
    xlsx = api.get("/scorecard", params={"period": "2025-09", "format": "xlsx"})
    assert xlsx.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet.cell(1, 6).value == "综合得分"
    assert api.get("/scorecard", params={"period": "2025-9"}).status_code == 400
    assert api.get("/scorecard").status_code == 400
