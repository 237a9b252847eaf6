"""Accounts and demands (报账 / 要账: the two-way supervision of the campaign) and the key tasks'
milestones and progress, for the synthetic year 2025-12-01 to 2026-11-27.

Nothing here is real: every account, demand, date, percentage and sentence is invented. Real is
only the shape of such supervision: organisations account for their month from the bottom up
(自下而上报账) by a deadline, the supervision group demands answers from the top down (自上而下
要账) with a time limit, key tasks have milestones and each responsible unit reports progress.

Working days are China's official ones (holidays and 调休 days, generate.calendar), as for the
cases: an account is due at the end (18:00) of the 5th working day of the next month, the rule
of gridgov.activity.accounts.due_at; a demand is due at the end (18:00) of the 5th, 7th or 10th
working day after the day it is issued.

How they are drawn (streams rng_for("accounts"), ("demands"), ("milestones"), ("progress")):
* accounts: one per organisation and month, 2025-12 to 2026-10 (1,441), prefilled with the
  organisation's verified visits, hours and visiting members (from checkins) and its activities;
  12 organisations are often late (over half their months; 9 of them among the 30 with the
  fewest verified visits per member), the others rarely; a few months are never submitted
  (status draft), more of them among the often-late;
* demands (40): to the lead organisation of a compound with fewer than 2 visit days in a month
  (one for each month, 16 in all),
  to organisations late with their account, about problems at a compound, and to work groups
  about key tasks; most answered on time, some late, a few still open on 2026-11-27;
* milestones: 3 to 5 for each of the 12 key tasks, due from December 2025 to December 2026, most
  done on time, some late, a few overdue and not done;
* progress: each responsible unit's percentage at the last working day of each month,
  December 2025 to November 2026, rising at the unit's pace (lead units faster, the often-late
  organisations slower), with the month's activities and account as evidence.
"""
from __future__ import annotations

import datetime as dt
import json

import numpy as np

from .calendar import CLOSING, add_workdays, last_workday_on_or_before, workday_on_or_after
from .cases import FIRST_DAY, LAST_DAY, TZ
from .checkins import verified
from .common import COUNTY, rng_for

NOTE_ACCOUNT = "synthetic: invented monthly account"
NOTE_DEMAND = "synthetic: invented supervision demand"
NOTE_MILESTONE = "synthetic: invented milestone and dates"
NOTE_PROGRESS = "synthetic: invented progress report"
ACCOUNT_MONTHS = [dt.date(2025, 12, 1)] + [dt.date(2026, m, 1) for m in range(1, 11)]
DUE_DAY = 5        # accounts: the 5th working day of the next month (ActivitySettings' default)
N_LATE_UNITS = 12
NOW = dt.datetime(2026, 11, 28, tzinfo=TZ)
EXTRA = ["协助社区开展环境卫生整治。", "走访慰问困难群众和独居老人。", "收集群众意见建议并转办。",
         "参与小区停车秩序劝导。", "开展垃圾分类入户宣传。", "协助排查安全隐患。", "参与文明实践志愿服务。"]
PHASES = {3: ["摸底排查，建立问题台账", "集中整治攻坚", "考核验收"],
          4: ["摸底排查，建立问题台账", "制定实施方案，明确责任分工", "集中整治攻坚", "考核验收"],
          5: ["摸底排查，建立问题台账", "制定实施方案，明确责任分工", "集中整治攻坚", "建立长效管理机制",
              "考核验收"]}


def next_month(d: dt.date) -> dt.date:
    return (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def at(d: dt.date, minutes: int, seconds: int = 0) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day, tzinfo=TZ) + dt.timedelta(minutes=minutes, seconds=seconds)


def office_time(rng, d: dt.date) -> dt.datetime:
    """A moment of office hours (09:00-11:50, 14:30-17:50) on d."""
    m = int(rng.integers(9 * 60, 11 * 60 + 50)) if rng.random() < 0.5 else \
        int(rng.integers(14 * 60 + 30, 17 * 60 + 50))
    return at(d, m, int(rng.integers(60)))


def account_due(month: dt.date) -> dt.datetime:
    """The end (18:00) of the 5th working day of the next month: gridgov's due time, so that an
    account late in the file is late in the service too."""
    return at(workday_on_or_after(next_month(month), DUE_DAY), CLOSING)


def month_of(r: dict) -> dt.date:
    """The (local) month of a check-in."""
    return dt.date.fromisoformat(r["in_at"][:7] + "-01")


def build_accounts(orgs: list[dict], members: list[dict], checkins: list[dict],
                   activities: list[dict]) -> list[dict]:
    rng = rng_for("accounts")
    stats = {}
    for r in checkins:
        if verified(r):
            s = stats.setdefault((r["org"], month_of(r)), [0, 0.0, set()])
            s[0] += 1
            s[1] += r["hours"]
            s[2].add(r["member"])
    acts = {}
    for a in activities:
        if a["org_code"]:
            key = (a["org_code"], a["held_on"].replace(day=1))
            acts[key] = acts.get(key, 0) + 1
    late = late_units(orgs, checkins, rng)
    first_member = {}
    for m in members:
        first_member.setdefault(m["org_code"], m["code"])
    rows = []
    for o in orgs:
        prone = o["code"] in late
        for month in ACCOUNT_MONTHS:
            visits, hours, who = stats.get((o["code"], month), [0, 0.0, set()])
            n_acts = acts.get((o["code"], month), 0)
            prefilled = {"visits": visits, "verified_hours": round(hours, 2),
                         "visiting_members": len(who), "activities": n_acts}
            due = account_due(month)
            first = next_month(month)
            r = rng.random()
            draft = r < (0.08 if prone else 0.005)
            if rng.random() < (0.55 if prone else 0.05):
                day = add_workdays(workday_on_or_after(first, DUE_DAY), int(rng.integers(1, 16)))
            else:
                day = workday_on_or_after(first, int(rng.choice(5, p=[.1, .2, .25, .25, .2])) + 1)
            submitted = office_time(rng, day)
            extra = EXTRA[int(rng.integers(len(EXTRA)))]
            if draft or submitted >= NOW:
                status, submitted_at, by, narrative = "draft", "", "", ""
            else:
                status, submitted_at, by = "submitted", submitted.isoformat(), first_member[o["code"]]
                narrative = ((f"{month.month}月，组织党员进社区报到服务{visits}人次、"
                              f"{round(hours, 1):g}小时，{len(who)}名党员参与" if visits else
                              f"{month.month}月，无党员进社区报到服务记录，下月加强组织")
                             + (f"，开展文明实践活动{n_acts}次" if n_acts else "") + "。" + extra)
            rows.append({"org_code": o["code"], "month": month, "prefilled": prefilled,
                         "narrative": narrative, "status": status, "due_at": due,
                         "submitted_at": submitted_at, "submitted_by": by,
                         "_late": status == "submitted" and submitted > due, "_prone": prone})
    return rows


def late_units(orgs: list[dict], checkins: list[dict], rng) -> set[str]:
    """The organisations often late: 9 among the 30 with the fewest verified visits per member
    over the year, 3 among the others."""
    visits = {}
    for r in checkins:
        if verified(r):
            visits[r["org"]] = visits.get(r["org"], 0) + 1
    rate = sorted((visits.get(o["code"], 0) / o["members"], o["code"]) for o in orgs)
    low, rest = [c for _, c in rate[:30]], [c for _, c in rate[30:]]
    return {low[int(i)] for i in rng.choice(len(low), size=9, replace=False)} | \
        {rest[int(i)] for i in rng.choice(len(rest), size=N_LATE_UNITS - 9, replace=False)}


def account_rows(accounts: list[dict]) -> list[dict]:
    """accounts.csv."""
    return [{
        "org_code": a["org_code"], "county_code": COUNTY, "month": a["month"].isoformat(),
        "prefilled": json.dumps(a["prefilled"]), "narrative": a["narrative"], "status": a["status"],
        "due_at": a["due_at"].isoformat(), "submitted_at": a["submitted_at"],
        "submitted_by": a["submitted_by"], "source": "synthetic", "source_note": NOTE_ACCOUNT}
        for a in accounts]


def inactive_months(checkins: list[dict], compounds: list[dict]) -> dict:
    """(month, compound code) -> verified visit days, for compounds with fewer than 2."""
    days = {}
    for r in checkins:
        if verified(r):
            days.setdefault((month_of(r), r["compound"]), set()).add(r["in_at"][:10])
    out = {}
    for month in ACCOUNT_MONTHS:
        for c in compounds:
            n = len(days.get((month, c["code"]), ()))
            if n < 2:
                out[(month, c["code"])] = n
    return out


def build_demands(orgs, compounds, assignments, checkins, accounts, key_tasks,
                  milestones) -> list[dict]:
    """40 demands: 16 on compounds without visits, 8 on late accounts, 6 on problems at a
    compound, 10 to work groups (on milestones behind their dates, up to 6, and notices)."""
    rng = rng_for("demands")
    name = {c["code"]: c["name"] for c in compounds}
    lead = {}
    for a in assignments:
        if a["kind"] == "unit" and not a["valid_to"]:
            lead[a["compound_code"]] = min(lead.get(a["compound_code"], a["org_code"]), a["org_code"])
    prone = {a["org_code"] for a in accounts if a["_prone"]}
    out = []
    idle = sorted(inactive_months(checkins, compounds).items(), key=lambda kv: (kv[0][0], kv[0][1]))
    chosen = set()                 # one for each month, then 5 more
    for month in ACCOUNT_MONTHS:
        of_month = [i for i, ((m, _), _) in enumerate(idle) if m == month]
        chosen.add(of_month[int(rng.integers(len(of_month)))])
    rest = [i for i in range(len(idle)) if i not in chosen]
    chosen |= {rest[int(i)] for i in rng.choice(len(rest), size=16 - len(chosen), replace=False)}
    for i in sorted(chosen):
        (month, code), n = idle[i]
        issued = office_time(rng, add_workdays(workday_on_or_after(next_month(month)),
                                               int(rng.integers(2, 8))))
        out.append({"org_code": lead[code], "work_group_code": "", "issued": issued,
                    "title": f"关于{name[code]}党员进社区服务不到位的督办",
                    "body": f"经核验，{month.year}年{month.month}月你单位包联的{name[code]}仅有{n}天有党员"
                            f"有效报到服务记录（不足2天）。请说明情况，报送整改措施和本月走访安排。",
                    "answer": f"已召开支部会议专题研究，制定{name[code]}每周走访排班表，"
                              f"党员按排班进社区报到服务。"})
    # late accounts still missing a few days after the deadline: demanded, answered by the
    # account itself
    late = sorted((a for a in accounts if a["_late"] and dt.datetime.fromisoformat(
        a["submitted_at"]) > at(add_workdays(a["due_at"].date(), 3), 0)),
        key=lambda a: (a["month"], a["org_code"]))
    for i in sorted(int(x) for x in rng.choice(len(late), size=8, replace=False)):
        a = late[i]
        issued = office_time(rng, add_workdays(a["due_at"].date(), int(rng.integers(1, 3))))
        out.append({"org_code": a["org_code"], "work_group_code": "", "issued": issued,
                    "title": f"关于{a['month'].month}月报账逾期的督办",
                    "body": f"你单位{a['month'].year}年{a['month'].month}月工作账目逾期未报，"
                            f"请尽快报账并说明逾期原因。",
                    "answer": "已完成报账。逾期原因：经办人员外出，今后指定专人按期报账。",
                    "answered": dt.datetime.fromisoformat(a["submitted_at"])
                    + dt.timedelta(minutes=int(rng.integers(10, 90)))})
    problems = [("小区内车辆乱停放、堵塞消防通道", "已联合物业和交警清理，施划停车位"),
                ("楼道杂物堆放、卫生死角较多", "已组织党员志愿者和物业集中清理"),
                ("小区周边流动摊贩占道经营", "已会同城管劝导规范，设置便民摊点"),
                ("小广告乱贴乱画反复出现", "已组织清理并在单元门安装公示栏"),
                ("垃圾收集点满溢、清运不及时", "已协调环卫中心增加清运频次")]
    comps = sorted(c["code"] for c in compounds)
    for i in range(6):
        code = comps[int(rng.integers(len(comps)))]
        what, reply = problems[int(rng.integers(len(problems)))]
        day = (FIRST_DAY + dt.timedelta(days=int(rng.integers(0, (LAST_DAY - FIRST_DAY).days - 10)))
               if i < 4 else LAST_DAY - dt.timedelta(days=int(rng.integers(3, 19))))   # 2 recent
        out.append({"org_code": lead[code], "work_group_code": "",
                    "issued": office_time(rng, workday_on_or_after(day)),
                    "title": f"关于{name[code]}{what}问题的督办",
                    "body": f"督查发现{name[code]}{what}，请牵头单位组织整改，按时限回复。",
                    "answer": reply + "，整改前后照片已上传。"})
    tasks = {t["code"]: t for t in key_tasks}
    behind = sorted((m for m in milestones if m["due_on"] <= LAST_DAY
                     and (not m["done_on"] or m["done_on"] > m["due_on"])),
                    key=lambda m: (m["due_on"], m["task_code"]))
    picked = [behind[int(i)] for i in sorted(rng.choice(len(behind), size=min(6, len(behind)),
                                                       replace=False))]
    for k in range(10):
        m = picked[k] if k < len(picked) else None
        if m is not None:
            t = tasks[m["task_code"]]
            day = min(add_workdays(m["due_on"], int(rng.integers(1, 6))),
                      LAST_DAY - dt.timedelta(days=1))
            title = f"关于{t['name']}“{m['name']}”节点滞后的督办"
            body = f"{t['name']}“{m['name']}”节点应于{m['due_on']:%Y年%m月%d日}完成，请牵头推进并报送进展。"
        else:
            t = key_tasks[int(rng.integers(len(key_tasks)))]
            day = FIRST_DAY + dt.timedelta(days=int(rng.integers(0, (LAST_DAY - FIRST_DAY).days - 5)))
            title = f"关于报送{t['name']}推进情况的通知"
            body = f"请于时限内报送{t['name']}本阶段推进情况、存在问题和下步打算。"
        out.append({"org_code": "", "work_group_code": t["work_group_code"],
                    "issued": office_time(rng, workday_on_or_after(day)), "title": title,
                    "body": body, "answer": "已召集责任单位调度，明确时间节点，专人盯办。"})
    out.sort(key=lambda d: d["issued"])
    for i, d in enumerate(out, start=1):
        d["code"] = f"{COUNTY}-D{i:03d}"
        limit = int(rng.choice([5, 7, 10]))
        d["due"] = at(add_workdays(d["issued"].date(), limit), CLOSING)
        d["limit"] = limit
        r = rng.random()
        p_late = 0.45 if d["org_code"] in prone else 0.12
        p_open = 0.7 if d["due"] > NOW - dt.timedelta(days=7) else 0.04    # recent: often open
        if "answered" in d:                                       # a late account, now in
            answered = d["answered"]
        elif r < p_open:
            answered = None                                       # not answered
        elif r < p_open + p_late:
            answered = office_time(rng, add_workdays(d["due"].date(), int(rng.integers(1, 9))))
        else:
            answered = office_time(rng, add_workdays(d["issued"].date(),
                                                     int(rng.integers(1, limit + 1))))
            if answered > d["due"]:
                answered = office_time(rng, d["due"].date()) - dt.timedelta(hours=3)
        if answered is not None and answered >= NOW:
            answered = None
        d["answered"] = answered
        if answered is None:
            d["status"] = "open"
        else:
            d["status"] = "closed" if NOW - answered > dt.timedelta(days=10) and rng.random() < 0.9 \
                else "answered"
    return out


def demand_rows(demands: list[dict]) -> list[dict]:
    """demands.csv."""
    return [{
        "code": d["code"], "county_code": COUNTY, "org_code": d["org_code"],
        "work_group_code": d["work_group_code"], "title": d["title"], "body": d["body"],
        "issued_at": d["issued"].isoformat(), "due_at": d["due"].isoformat(),
        "answered_at": d["answered"].isoformat() if d["answered"] else "",
        "answer": d["answer"] if d["answered"] else "", "status": d["status"],
        "source": "synthetic", "source_note": NOTE_DEMAND} for d in demands]


def build_milestones(key_tasks: list[dict]) -> list[dict]:
    rng = rng_for("milestones")
    out = []
    for t in key_tasks:
        k = int(rng.integers(3, 6))
        pace = rng.uniform(0.5, 1.0)          # how well the task keeps its dates
        offsets = np.linspace(0, 12, k) + rng.integers(-1, 2, k) * (np.arange(k) > 0)
        offsets = np.clip(np.maximum.accumulate(offsets), 0, 12)
        for seq, (off, name) in enumerate(zip(offsets, PHASES[k]), start=1):
            month = dt.date(2025, 12, 1)
            for _ in range(int(off)):
                month = next_month(month)
            due = next_month(month) - dt.timedelta(days=1)          # the month's last day
            r = rng.random()
            done = None
            if due <= LAST_DAY:
                if r < 0.55 + 0.3 * pace:
                    done = due - dt.timedelta(days=int(rng.integers(0, 21)))
                elif r < 0.93:
                    done = due + dt.timedelta(days=int(rng.integers(3, 46)))
                    done = done if done <= LAST_DAY else None
            elif r < 0.2:
                done = due - dt.timedelta(days=int(rng.integers(40, 80)))
                done = done if done <= LAST_DAY else None
            out.append({"task_code": t["code"], "seq": seq, "name": name, "due_on": due,
                        "done_on": done})
    return out


def milestone_rows(milestones: list[dict]) -> list[dict]:
    """key_task_milestones.csv."""
    return [{
        "task_code": m["task_code"], "county_code": COUNTY, "seq": m["seq"], "name": m["name"],
        "due_on": m["due_on"].isoformat(), "done_on": m["done_on"].isoformat() if m["done_on"] else "",
        "source": "synthetic", "source_note": NOTE_MILESTONE} for m in milestones]


def build_progress(key_tasks: list[dict], accounts: list[dict], activities: list[dict]) -> list[dict]:
    rng = rng_for("progress")
    prone = {a["org_code"] for a in accounts if a["_prone"]}
    submitted = {(a["org_code"], a["month"]) for a in accounts if a["status"] == "submitted"}
    acts = {}
    for a in activities:
        if a["org_code"]:
            acts.setdefault((a["org_code"], a["held_on"].replace(day=1)), []).append(a["code"])
    months = [dt.date(2025, 12, 1)]
    while len(months) < 12:
        months.append(next_month(months[-1]))
    out = []
    for t in key_tasks:
        for j, org in enumerate(t["responsible_orgs"].split(";")):
            pace = rng.uniform(0.85, 1.05) if j == 0 else rng.uniform(0.6, 1.05)
            if org in prone:
                pace *= 0.7
            level = 0.0
            for k, month in enumerate(months, start=1):
                plan = 100 * k / 13                       # done by the end of 2026
                level = max(level, min(100.0, plan * pace + rng.normal(0, 3)))
                day = last_workday_on_or_before(next_month(month) - dt.timedelta(days=1))
                percent = int(round(level))
                note = ("已完成" if percent >= 100 else "进度滞后于计划，正在加快推进"
                        if percent < plan - 15 else "按计划推进")
                evidence = {}
                if acts.get((org, month)):
                    evidence["activities"] = acts[(org, month)]
                if (org, month) in submitted:
                    evidence["accounts"] = [month.strftime("%Y-%m")]
                out.append({"task_code": t["code"], "org_code": org, "reported_on": min(day, LAST_DAY),
                            "percent": percent, "note": note, "evidence": evidence, "plan": plan})
    return out


def progress_rows(progress: list[dict]) -> list[dict]:
    """key_task_progress.csv."""
    return [{
        "task_code": p["task_code"], "county_code": COUNTY, "org_code": p["org_code"],
        "reported_on": p["reported_on"].isoformat(), "percent": p["percent"], "note": p["note"],
        "evidence": json.dumps(p["evidence"], ensure_ascii=False) if p["evidence"] else "",
        "source": "synthetic", "source_note": NOTE_PROGRESS} for p in progress]
