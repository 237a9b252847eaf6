"""Cases (事件工单): a labelled synthetic year of about 20,000 reports, 2025-12-01 to 2026-11-27.

Nothing in a case is real: every report, place, person, phone and time is invented. Real are
only the shape of such data (the channels 随手拍 / 12345 / 网格员 / 党员 / 吹哨; the stages 受理 →
立案 → 派遣 → 签收 → 处置反馈 → 核查 → 结案 with 退回, 返工, 挂起, 不予立案 and 重复 beside them) and
China's official 2026 working calendar (holidays and 调休 days), on which the times are drawn.

How they are drawn (one stream, rng_for("cases")):
* when: a day per channel (season, working day or day off, fewer over the Spring Festival of
  2026, Feb 15-23), an hour from the channel's profile (grid workers and whistles in working
  hours);
* what: a category given channel, month, hour and festival (more garbage in summer, noise on
  summer evenings and at the Spring Festival, road collapses and burst pipes in the spring thaw,
  fallen trees in the summer storms, 部件 rarer), a description from templates per category;
* where: mostly inside the compounds of the town (by households, more than 20 m inside the
  outline), some in other parcels (markets, schools, offices) or on the streets between them,
  some around the village sites, a few at the gates of compounds (within 18 m of the edge);
* who: invented names in the roster's style (张某华; on the hotline 张女士), phones 101 + 8
  digits, a form no carrier issues; about 30 % anonymous 随手拍 reports; members report as
  themselves (from members.csv);
* how it went: each case's whole history is drawn on the working-time calendar (filing,
  dispatch, 退回 and re-dispatch, signing, handling as a fraction of the category's limit, 返工,
  the check) and cut at NOW, the end of 2026-11-27, so the last days hold open cases in every
  stage. About 85 % are handled within the limit; ten organisations (nine that lead compounds
  and the housing and construction bureau) are late far more often. Duplicates are later
  reports of the same category within 50 m and 7 days of an open case.

The importer routes the cases and sets their deadlines itself, so no unit, routing or deadline
column is written; the same rules are applied here only to draw who is on time.
"""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import shapely

from .calendar import WORK_PERIODS, is_workday
from .case_categories import CATEGORIES
from .common import COUNTY, rng_for, to_ll, to_m
from .divisions import Geo
from .organizations import GIVEN, SURNAMES
from .roads import NOTE_ROAD_BANK, NOTE_ROAD_STREET
from .rural import SEAT_VILLAGE
from .sources import short_name

TZ = dt.timezone(dt.timedelta(hours=8))
FIRST_DAY, LAST_DAY = dt.date(2025, 12, 1), dt.date(2026, 11, 27)
T0 = dt.datetime(2025, 12, 1, tzinfo=TZ)            # times are seconds after T0
NOW = int((dt.datetime(2026, 11, 28, tzinfo=TZ) - T0).total_seconds())   # the snapshot
N_CASES, N_DUPLICATES = 20_000, 300
NOTE_CASE = "synthetic: invented case for demonstration; not a real report"
NEAR_M = 20.0        # the router flags points this close to a boundary (CaseSettings.boundary_m)
EDGE_SHARE = 0.045   # of the cases in a compound: at a gate, within 18 m of its edge
# The importer checks a reference against the rows already stored, so it refuses a duplicate_of
# that names a case of the same file ("unknown cases code"). Until it accepts references within
# the file, the duplicates are drawn as such (status duplicate, same category, within 50 m and
# 7 days of an open case) but the column is left empty; True writes the original's code.
WRITE_DUPLICATE_OF = False

SPRING_FESTIVAL = (dt.date(2026, 2, 15), dt.date(2026, 2, 23))

CHANNELS = ["resident", "hotline", "grid_worker", "member", "whistle"]
CHANNEL_SHARE = [0.55, 0.25, 0.12, 0.05, 0.03]
# weight of a day off (weekend or holiday) against a working day, per channel
DAY_OFF = {"resident": 1.1, "hotline": 0.85, "grid_worker": 0.12, "member": 1.5, "whistle": 0.03}
MONTH = {12: 0.85, 1: 0.8, 2: 0.85, 3: 0.95, 4: 1.0, 5: 1.05, 6: 1.15, 7: 1.2, 8: 1.2, 9: 1.05,
         10: 1.0, 11: 0.92}
HOURS = {   # reports per hour of the day (grid workers and whistles: working hours only)
    "resident": [.2, .1, .05, .05, .05, .2, .6, 1.5, 3, 3.5, 3.5, 3, 2, 1.8, 2.2, 2.8, 3, 3, 2.6,
                 2.6, 2.4, 1.8, 1, .5],
    "hotline": [.3, .2, .1, .1, .1, .2, .5, 1.5, 3.5, 4, 3.8, 3.2, 2, 1.8, 2.6, 3.2, 3.4, 3, 2.2,
                1.8, 1.6, 1.2, .8, .5],
    "member": [0, 0, 0, 0, 0, 0, .3, 1, 2.5, 3, 3, 2, 1, 1, 2, 2.5, 2.5, 2, 1.5, 1.5, 1, .3, 0, 0],
}

# code: base weight (about % of cases), where (compound, other parcel, street, village),
# typical fraction of the time limit used when on time, templates ({p}: the place)
CASE_KINDS = {
    "0101": (14, (.66, .10, .06, .18), .45, ["{p}垃圾堆放多日无人清运", "{p}有人乱扔垃圾，地面脏乱",
                                             "{p}有一堆生活垃圾，气味很大", "{p}散落塑料袋、纸屑等垃圾"]),
    "0102": (8, (.73, .10, .05, .12), .40, ["{p}垃圾桶已满，垃圾溢出到地面", "{p}垃圾箱满溢，周边苍蝇多",
                                            "{p}垃圾收集点满溢未及时清运"]),
    "0103": (5, (1, 0, 0, 0), .55, ["{p}楼道杂物堆积，卫生差", "{p}绿化带内垃圾多，长期无人打扫",
                                    "{p}环境脏乱，物业不管"]),
    "0104": (6, (.62, .08, .05, .25), .55, ["{p}有人堆放建筑垃圾和沙石", "{p}乱堆杂物占用消防通道",
                                            "{p}堆放废旧家具多日未清理"]),
    "0105": (4, (.20, .40, .25, .15), .45, ["{p}路面有油污和泥土，影响通行", "{p}路面脏，清扫不及时",
                                            "{p}路面有积水和淤泥"]),
    "0201": (9, (.78, .16, .06, 0), .45, ["{p}墙面、电线杆上贴满小广告", "{p}有人喷涂办证小广告",
                                          "{p}单元门上乱贴小广告"]),
    "0202": (1.5, (.10, .65, .25, 0), .60, ["{p}商铺招牌破损有脱落危险", "{p}未经审批设置大型广告牌",
                                            "{p}广告横幅随意悬挂"]),
    "0301": (2, (.60, .35, .05, 0), .50, ["{p}工地夜间施工噪音大，影响休息", "{p}工地清晨六点就开始施工",
                                          "{p}施工粉尘大，未覆盖防尘网"]),
    "0302": (1.5, (0, .30, .35, .35), .50, ["{p}渣土车沿路遗撒泥土", "{p}运输车辆遗撒砂石，路面湿滑",
                                          "{p}路面有大量遗撒物"]),
    "0401": (9, (.20, .65, .10, .05), .50, ["{p}流动商贩占道摆摊", "{p}早市占用人行道经营",
                                            "{p}有商贩占道卖水果，影响通行"]),
    "0402": (11, (.75, .17, .08, 0), .50, ["{p}车辆乱停堵住出入口", "{p}机动车占用人行道停放",
                                           "{p}车辆长期停放占用消防通道"]),
    "0403": (4, (.78, .17, .05, 0), .50, ["{p}电动车、共享单车乱停放", "{p}非机动车堵塞人行道",
                                          "{p}电动车在楼道内停放充电"]),
    "0404": (3.5, (.78, .17, .05, 0), .45, ["{p}晚上广场舞音响声音太大", "{p}商铺用高音喇叭招揽顾客",
                                            "{p}夜间烧烤店喧哗扰民"]),
    "0405": (3, (.05, .80, .15, 0), .50, ["{p}商铺店外摆放货物经营", "{p}饭店在店外占道就餐",
                                          "{p}门前三包责任区卫生差"]),
    "0406": (1.5, (.60, .05, 0, .35), .65, ["{p}有人私自搭建彩钢房", "{p}楼顶违规加盖",
                                            "{p}占用绿地私搭乱建"]),
    "0501": (.4, (.20, .20, .30, .30), .55, ["{p}路面塌陷出现大坑，存在安全隐患", "{p}路面下沉开裂",
                                           "{p}路面塌陷，车辆无法通行"]),
    "0502": (.6, (.60, .15, .15, .10), .55, ["{p}自来水管道破裂，路面大量积水", "{p}供水管漏水",
                                             "{p}地下水管爆裂冒水"]),
    "0503": (1.5, (.62, .13, .05, .20), .50, ["{p}电线私拉乱接存在安全隐患", "{p}广告牌松动随时可能掉落",
                                              "{p}护坡有落石危险"]),
    "0601": (2.5, (.62, .30, .08, 0), .45, ["{p}有人遛狗不拴绳", "{p}有人随地吐痰、乱扔烟头",
                                            "{p}有人在绿地内踩踏、摘花"]),
    "0602": (3, (.62, .13, .05, .20), .60, ["{p}有问题需要有关部门查看处理", "{p}反映的情况需要核实处理",
                                            "{p}存在问题，希望尽快解决"]),
    "5101": (2, (.60, .15, .15, .10), .55, ["{p}路灯不亮已有多日", "{p}路灯白天常亮", "{p}路灯灯杆倾斜"]),
    "5102": (1, (.55, .20, .25, 0), .50, ["{p}井盖缺失，存在安全隐患", "{p}井盖破损下陷",
                                          "{p}井盖松动，车辆经过有响声"]),
    "5103": (1.5, (.50, .40, .05, .05), .60, ["{p}健身器材损坏", "{p}公共座椅损坏", "{p}公交站亭玻璃破碎"]),
    "5104": (.6, (.80, .20, 0, 0), .55, ["{p}消火栓损坏漏水", "{p}消火栓被圈占无法使用", "{p}楼道灭火器过期"]),
    "5201": (.6, (0, 0, 1, 0), .60, ["{p}交通标志牌倾斜", "{p}斑马线磨损不清", "{p}红绿灯不亮"]),
    "5202": (.5, (0, 0, 1, 0), .60, ["{p}道路护栏被撞坏", "{p}隔离护栏倒伏", "{p}护栏缺失"]),
    "5301": (1.5, (.65, .25, .10, 0), .50, ["{p}垃圾桶破损", "{p}垃圾箱盖子丢失", "{p}果皮箱损坏"]),
    "5302": (.6, (0, .90, .10, 0), .55, ["{p}公厕冲水设施损坏", "{p}公厕灯不亮、水龙头损坏", "{p}公厕门锁坏了"]),
    "5401": (.8, (.45, .50, .05, 0), .60, ["{p}绿地被踩踏破坏", "{p}绿化带苗木被毁", "{p}草坪被车辆碾压"]),
    "5402": (.3, (.20, .40, .40, 0), .50, ["{p}大风刮倒行道树，阻碍通行", "{p}行道树倾斜随时可能倒伏",
                                           "{p}暴雨后树枝折断挡路"]),
}
FESTIVAL_NOISE = "{p}深夜燃放烟花爆竹扰民"
WINTER_HAZARD = "{p}路面结冰湿滑，存在安全隐患"
# category weight by month (default 1)
SEASON = {
    "0101": {6: 1.35, 7: 1.4, 8: 1.35, 12: .8, 1: .8, 2: .85},
    "0102": {6: 1.3, 7: 1.4, 8: 1.35, 12: .8, 1: .8},
    "0105": {6: 1.2, 7: 1.3, 8: 1.2, 3: 1.2},
    "0301": {4: 1.5, 5: 1.6, 6: 1.6, 7: 1.5, 8: 1.5, 9: 1.5, 10: 1.3, 12: .3, 1: .2, 2: .2},
    "0302": {4: 1.5, 5: 1.6, 6: 1.5, 7: 1.4, 8: 1.4, 9: 1.5, 10: 1.3, 12: .4, 1: .3, 2: .3},
    "0401": {5: 1.2, 6: 1.3, 7: 1.35, 8: 1.3, 12: .75, 1: .7, 2: .8},
    "0403": {5: 1.2, 6: 1.3, 7: 1.3, 8: 1.3, 12: .7, 1: .7, 2: .7},
    "0404": {6: 1.9, 7: 2.2, 8: 2.0, 5: 1.3, 9: 1.2, 12: .6, 1: .6},
    "0501": {3: 4.5, 4: 3.5, 2: 1.5, 7: 1.5, 8: 1.5},
    "0502": {3: 4, 4: 3, 12: 2, 1: 2.5, 2: 2},
    "0503": {12: 1.3, 1: 1.4, 2: 1.2},
    "5401": {4: 1.4, 5: 1.5, 6: 1.3, 7: 1.2, 12: .5, 1: .4, 2: .5},
    "5402": {6: 3, 7: 6, 8: 5, 9: 1.5, 12: .2, 1: .2, 2: .2, 11: .5},
}
# category weight by channel (default 1; 部件 have their own default)
AFFINITY = {
    "resident": {"component": .6, "0202": .5, "0406": .7},
    "hotline": {"component": .7, "0404": 2, "0301": 3, "0502": 2.5, "0501": 2, "0402": 1.3,
                "0406": 1.5, "0602": 2, "0201": .4, "0105": .6, "5101": 1.2},
    "grid_worker": {"component": 2.5, "0201": 2, "0104": 1.6, "0401": 1.6, "0405": 1.8,
                    "0404": .2, "0301": .5, "0602": .5, "0103": .6},
    "member": {"component": 1, "0103": 2, "0101": 1.5, "0104": 1.5, "0403": 2, "0601": 2,
               "0404": .5},
    "whistle": {"component": .5, "0406": 10, "0301": 5, "0503": 5, "0202": 4, "0401": 3,
                "0501": 4, "0502": 4, "0104": 1.5, "0101": .3, "0201": .2, "0601": .2, "0402": .5},
}
# how readily several people report the same thing (duplicates)
DUPLICATE_PULL = {"0404": 4, "0101": 1.5, "0102": 2, "0501": 6, "0502": 6, "5402": 5, "0301": 3,
                  "0402": 1.5, "5101": 2}
SUSPENDABLE = ("0406", "0501", "0502", "0503", "0202", "5103", "0301", "0602")

COMPOUND_SPOTS = ["{n}号楼前", "{n}号楼{m}单元", "中心广场", "地下车库入口", "停车场", "健身广场",
                  "垃圾收集点", "小区内"]
PARCEL_KINDS = ["农贸市场", "商业街", "学校门口", "街心公园", "广场", "医院门口", "超市门前", "汽车站",
                "菜市场", "步行街"]
VILLAGE_SPOTS = ["村口", "村委会附近", "主街", "文化广场", "小学旁", "河边", "{n}组"]


class WorkClock:
    """The working-time calendar, by the minute from T0: working days (the official calendar,
    generate.calendar), 08:30-12:00 and 14:30-18:00. Same rules as gridgov.calendar, so the
    importer's deadlines and the ones computed here agree."""

    def __init__(self, days: int = 600):
        self.workday = np.array([is_workday(FIRST_DAY + dt.timedelta(days=i))
                                 for i in range(days)])
        minute = np.arange(1440)
        day_mask = np.zeros(1440, dtype=bool)
        for a, b in WORK_PERIODS:
            day_mask[(minute >= a) & (minute < b)] = True
        self.work = (self.workday[:, None] & day_mask[None, :]).ravel()
        self.cum = np.cumsum(self.work).astype(np.int64) * 60     # working seconds to each minute's end

    def worked(self, t: np.ndarray) -> np.ndarray:
        """Working seconds from T0 to t (seconds)."""
        m = t // 60
        return self.cum[m] - self.work[m] * 60 + self.work[m] * (t - m * 60)

    def add(self, t: np.ndarray, hours) -> np.ndarray:
        """The earliest instant when `hours` of working time have run from t."""
        t = np.asarray(t, dtype=np.int64)
        target = self.worked(t) + np.round(np.asarray(hours) * 3600).astype(np.int64)
        m = np.searchsorted(self.cum, target, side="left")
        return np.maximum(t, m * 60 + 60 - (self.cum[m] - target))

    def clock(self, t, amount, limit_type) -> np.ndarray:
        """t plus `amount` of each case's limit clock (vectorised over cases)."""
        t = np.asarray(t, dtype=np.int64)
        amount = np.asarray(amount, dtype=float)
        out = np.empty_like(t)
        lt = np.asarray(limit_type)
        for kind, hours_per_unit, working in (("urgent_hours", 1, False), ("natural_days", 24, False),
                                              ("working_hours", 1, True), ("working_days", 7, True)):
            sel = lt == kind
            if working:
                out[sel] = self.add(t[sel], amount[sel] * hours_per_unit)
            else:
                out[sel] = t[sel] + np.round(amount[sel] * hours_per_unit * 3600).astype(np.int64)
        return out

    def in_work(self, t: np.ndarray) -> np.ndarray:
        return self.work[np.asarray(t) // 60]


def iso(t: int) -> str:
    return (T0 + dt.timedelta(seconds=int(t))).isoformat()


def build_cases(geo: Geo, divisions: list[dict], compounds: list[dict], others: list[dict],
                orgs: list[dict], assignments: list[dict], members: list[dict],
                roads: list[dict]) -> list[dict]:
    rng = rng_for("cases")
    clock = WorkClock()
    cats = {c[0]: c for c in CATEGORIES}
    codes = list(CASE_KINDS)
    n = N_CASES - N_DUPLICATES

    # --- when and through which channel -------------------------------------------------------
    channel = rng.choice(len(CHANNELS), size=n, p=CHANNEL_SHARE)
    n_days = (LAST_DAY - FIRST_DAY).days + 1
    days = [FIRST_DAY + dt.timedelta(days=i) for i in range(n_days)]
    festival = np.array([SPRING_FESTIVAL[0] <= d <= SPRING_FESTIVAL[1] for d in days])
    month = np.array([d.month for d in days])
    day = np.empty(n, dtype=np.int64)
    second = np.empty(n, dtype=np.int64)
    for k, ch in enumerate(CHANNELS):
        sel = np.flatnonzero(channel == k)
        w = np.array([MONTH[m] for m in month]) * np.where(clock.workday[:n_days], 1.0, DAY_OFF[ch])
        w = w * np.where(festival, 0.45, 1.0)
        day[sel] = rng.choice(n_days, size=len(sel), p=w / w.sum())
        if ch in HOURS:
            h = np.array(HOURS[ch])
            second[sel] = rng.choice(24, size=len(sel), p=h / h.sum()) * 3600 + \
                rng.integers(0, 3600, size=len(sel))
        else:   # within working hours: 7 h a day
            x = rng.integers(0, 7 * 3600, size=len(sel))
            second[sel] = np.where(x < 3.5 * 3600, 8.5 * 3600 + x, 14.5 * 3600 + x - 3.5 * 3600)
    reported = day * 86400 + second
    hour = second // 3600
    case_month, case_fest = month[day], festival[day]

    # --- what ---------------------------------------------------------------------------------
    w = np.empty((n, len(codes)))
    for j, c in enumerate(codes):
        kind = cats[c][1]
        base = CASE_KINDS[c][0]
        aff = np.array([AFFINITY[ch].get(c, AFFINITY[ch]["component"] if kind == "component" else 1)
                        for ch in CHANNELS])
        season = np.array([SEASON.get(c, {}).get(m, 1.0) for m in range(13)])
        col = base * aff[channel] * season[case_month]
        if c == "0404":     # evenings and nights, and the fireworks of the Spring Festival
            col = col * np.where((hour >= 19) | (hour <= 1), 2.5, 1.0) * np.where(case_fest, 4.0, 1.0)
        w[:, j] = col
    cum = np.cumsum(w, axis=1)
    pick = (cum < rng.random(n)[:, None] * cum[:, -1:]).sum(axis=1)
    category = np.array(codes)[pick]

    # --- where --------------------------------------------------------------------------------
    places = Places(geo, divisions, compounds, others, roads, rng)
    where_w = np.array([CASE_KINDS[c][1] for c in codes])[pick]
    where = (np.cumsum(where_w, axis=1) < rng.random(n)[:, None] * where_w.sum(axis=1)[:, None]).sum(axis=1)
    loc = places.draw(where, rng)

    # --- who is responsible (as the importer will route), and who is slow ---------------------
    lead = {}
    for a in assignments:
        if a["kind"] == "unit" and not a["valid_to"]:
            lead[a["compound_code"]] = min(lead.get(a["compound_code"], a["org_code"]), a["org_code"])
    leads = sorted(set(lead.values()))
    slow = {leads[int(i)] for i in rng.choice(len(leads), size=9, replace=False)} | {f"{COUNTY}-P051"}
    route = {c[0]: (f"{COUNTY}-P{c[8]}" if c[8] else None) for c in CATEGORIES}
    unit = np.array([route[c] or (lead.get(p["compound"]) if p["compound"] else p["division"])
                     for c, p in zip(category, loc)], dtype=object)

    # --- how it went: the whole history, cut at NOW --------------------------------------------
    limit = np.array([float(cats[c][4]) for c in category])
    ltype = np.array([cats[c][5] for c in category])
    urgent = ltype == "urgent_hours"
    f_typ = np.array([CASE_KINDS[c][2] for c in category])
    rejected = rng.random(n) < np.where(category == "0602", 0.12, np.where(category == "0601", 0.04, 0.018))
    filed = np.where(urgent, reported + rng.integers(120, 900, n), clock.add(reported, rng.uniform(0.03, 0.25, n)))
    r = rng.random(n)
    wait = np.where(r < 0.88, rng.uniform(0.02, 0.2, n), np.where(r < 0.97, rng.uniform(0.3, 2, n),
                                                                  rng.uniform(2, 16, n)))
    dispatched1 = np.where(urgent, filed + rng.integers(60, 600, n), clock.add(filed, wait))
    near = np.array([p["near"] for p in loc])
    returned = rng.random(n) < np.where(near, 0.08, 0.022)
    ret_at = np.where(urgent, dispatched1 + rng.integers(600, 3600, n), clock.add(dispatched1, rng.uniform(0.2, 3, n)))
    redispatch = np.where(rng.random(n) < 0.8, rng.uniform(0.1, 2, n), rng.uniform(4, 24, n))
    dispatched2 = np.where(urgent, ret_at + rng.integers(300, 1800, n), clock.add(ret_at, redispatch))
    start = np.where(returned, dispatched2, dispatched1)

    is_slow = np.array([u in slow for u in unit])
    village = np.array([p["kind"] == "village" for p in loc])
    p_on = np.where(is_slow, 0.45, np.where(village, 0.87, 0.94))
    p_on = p_on - np.where(ltype == "working_hours", 0.04, 0.0)
    on_time = rng.random(n) < p_on
    f = np.where(on_time, np.clip(0.06 + 1.8 * f_typ * rng.beta(2.2, 2.2, n), 0.06, 0.95),
                 1.04 + rng.exponential(np.where(is_slow, 1.3, 0.55), n))
    f = np.minimum(f, 8.0)
    handled1 = clock.clock(start, f * limit, ltype)
    # A natural-days limit runs day and night, but the work is reported in working hours: on
    # time, at the last working instant before; late, at the next opening.
    off = (ltype == "natural_days") & ~clock.in_work(handled1)
    handled1 = np.where(off & on_time, previous_work(clock, handled1, start + 3600), handled1)
    handled1 = np.where(off & ~on_time, clock.add(handled1, 1 / 3600), handled1)
    fast = (urgent | (channel == CHANNELS.index("whistle")))
    sign_draw = np.where(fast, start + rng.integers(180, 1500, n),
                         clock.add(start, np.where(rng.random(n) < 0.95, rng.lognormal(math.log(0.4), 0.7, n),
                                                   rng.uniform(2, 6, n))))
    signed = np.minimum(sign_draw, start + ((handled1 - start) * 0.45).astype(np.int64))
    signed = np.maximum(signed, start + 60)
    rework = rng.random(n) < np.where(is_slow, 0.08, 0.037)
    check1 = clock.add(handled1, rng.uniform(0.3, 6, n))
    handled2 = clock.clock(check1, rng.uniform(0.1, 0.6, n) * limit, ltype)
    handled2 = np.where((ltype == "natural_days") & ~clock.in_work(handled2),
                        clock.add(handled2, 1 / 3600), handled2)
    final_handled = np.where(rework, handled2, handled1)
    closed = clock.add(final_handled, np.where(rng.random(n) < 0.93, rng.uniform(0.2, 6.5, n),
                                               rng.uniform(7, 20, n)))
    due = clock.clock(start, limit, ltype)

    # Currently suspended (挂起): a few cases waiting for funds, a ruling or another department.
    cand = np.flatnonzero(np.isin(category, SUSPENDABLE) & ~rejected & ~returned & ~rework
                          & (reported > NOW - 100 * 86400) & (signed < NOW - 86400))
    suspended = np.zeros(n, dtype=bool)
    suspended[rng.choice(cand, size=min(24, len(cand)), replace=False)] = True
    paused = np.minimum(signed + ((handled1 - signed) * rng.uniform(0.1, 0.6, n)).astype(np.int64), NOW - 3600)
    paused = np.maximum(paused, signed + 600)
    # A few cases of the last two weeks wait: at the center, still to be dispatched or returned by
    # a unit and not yet dispatched again; or at a unit that has not signed.
    recent = np.flatnonzero(~rejected & ~suspended & (reported > NOW - 14 * 86400) & (reported < NOW - 2 * 86400))
    held = rng.choice(recent, size=22, replace=False)
    hold_filed, hold_returned, hold_unsigned = held[:7], held[7:14], held[14:]
    dispatched1[hold_filed] = NOW + 86400
    returned[hold_returned] = True
    ret_at[hold_returned] = np.minimum(ret_at[hold_returned], NOW - 3600)
    ret_at[hold_returned] = np.maximum(ret_at[hold_returned], dispatched1[hold_returned] + 600)
    dispatched2[hold_returned] = NOW + 86400
    signed[hold_unsigned] = NOW + 86400     # units that have not signed yet (签收超时)
    returned[hold_unsigned] = False
    suspended[hold_unsigned] = False
    start = np.where(returned, dispatched2, dispatched1)

    drawn = {"category": category, "channel": channel, "loc": loc, "reported": reported,
             "case_month": case_month, "case_fest": case_fest, "rejected": rejected,
             "filed": filed, "dispatched1": dispatched1, "returned": returned, "ret_at": ret_at,
             "dispatched2": dispatched2, "start": start, "signed": signed,
             "suspended": suspended, "paused": paused, "handled1": handled1, "rework": rework,
             "check1": check1, "handled2": handled2, "final_handled": final_handled,
             "closed": closed, "due": due, "on_time": on_time}
    rows = [case_row(i, drawn, rng) for i in range(n)]
    rows += duplicates(rows, places, clock, rng)

    # satisfaction, reporters, codes
    people = People(members, rng)
    for row in rows:
        people.assign(row, rng)
        if row["status"] == "closed" and row["channel"] in ("resident", "hotline") and rng.random() < 0.88:
            good = row["_on_time"] and not row["rework_count"]
            p = [.01, .03, .08, .26, .62] if good else [.08, .12, .2, .3, .3]
            row["satisfaction"] = int(rng.choice(5, p=p)) + 1
    order = sorted(range(len(rows)), key=lambda k: (rows[k]["_reported"], k))
    code_of = {}
    for seq, k in enumerate(order, start=1):
        row = rows[k]
        local = T0 + dt.timedelta(seconds=int(row["_reported"]))
        code_of[k] = f"{COUNTY}-{local:%Y%m%d}-{seq:06d}"
    out = []
    for k in order:
        row = rows[k]
        row["code"] = code_of[k]
        if row["_dup_of"] is not None and WRITE_DUPLICATE_OF:
            row["duplicate_of"] = code_of[row["_dup_of"]]
        out.append(row)
    return out


def previous_work(clock: WorkClock, t: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """The last working instant at or before t (t itself when in working time), not before floor."""
    w = clock.worked(t)
    m = np.searchsorted(clock.cum, w, side="left")
    back = m * 60 + 60 - (clock.cum[m] - w)
    return np.maximum(np.minimum(back, t), floor)


def case_row(i: int, v: dict, rng) -> dict:
    """One case's row from the drawn arrays, its status as of NOW."""
    cat, ch = str(v["category"][i]), CHANNELS[int(v["channel"][i])]
    p = v["loc"][i]
    times = {"dispatched_at": None, "signed_at": None, "handled_at": None, "closed_at": None,
             "paused_at": None}
    rework_count = return_count = 0
    on_time = bool(v["on_time"][i])
    if v["rejected"][i]:
        status = "rejected" if v["filed"][i] <= NOW else "received"
    elif v["filed"][i] > NOW:
        status = "received"
    elif v["dispatched1"][i] > NOW:
        status = "filed"
    else:
        status = "dispatched"
        times["dispatched_at"] = v["dispatched1"][i]
        if v["returned"][i] and v["ret_at"][i] <= NOW:
            return_count = 1
            if v["dispatched2"][i] > NOW:
                status = "returned"
            else:
                times["dispatched_at"] = v["dispatched2"][i]
        if status == "dispatched" and v["start"][i] <= NOW and v["signed"][i] <= NOW:
            status, times["signed_at"] = "signed", v["signed"][i]
            if v["suspended"][i] and v["paused"][i] <= NOW:
                status, times["paused_at"] = "suspended", v["paused"][i]
            elif v["handled1"][i] <= NOW:
                status, times["handled_at"] = "handled", v["handled1"][i]
                if v["rework"][i] and v["check1"][i] <= NOW:
                    rework_count = 1
                    status, times["handled_at"] = "signed", None
                    if v["handled2"][i] <= NOW:
                        status, times["handled_at"] = "handled", v["handled2"][i]
                if status == "handled" and times["handled_at"] == v["final_handled"][i] and \
                        v["closed"][i] <= NOW:
                    status, times["closed_at"] = "closed", v["closed"][i]
    if times["handled_at"] is not None:
        on_time = times["handled_at"] <= v["due"][i]
    tmpl = CASE_KINDS[cat][3]
    text = tmpl[int(rng.integers(len(tmpl)))]
    m = int(v["case_month"][i])
    if cat == "0404" and v["case_fest"][i] and rng.random() < 0.6:
        text = FESTIVAL_NOISE
    if cat == "0503" and m in (12, 1, 2) and rng.random() < 0.5:
        text = WINTER_HAZARD
    return {
        "code": None, "county_code": COUNTY, "channel": ch, "category_code": cat,
        "description": text.format(p=p["place"]), "address": p["address"],
        "reported_at": iso(v["reported"][i]), "lon": p["lon"], "lat": p["lat"],
        "reporter_name": "", "reporter_phone": "", "anonymous": "false", "status": status,
        **{k: (iso(t) if t is not None else "") for k, t in times.items()},
        "rework_count": rework_count, "return_count": return_count, "satisfaction": "",
        "duplicate_of": "", "source": "synthetic", "source_note": NOTE_CASE,
        "_reported": int(v["reported"][i]), "_closed": int(v["closed"][i]) if status == "closed" else None,
        "_loc": p, "_on_time": bool(on_time), "_dup_of": None,
    }


def duplicates(rows: list[dict], places, clock: WorkClock, rng) -> list[dict]:
    """Later reports of an open case: same category, within 50 m and 7 days, merged (重复) by
    the center soon after they come in."""
    live = np.array([r["status"] not in ("rejected", "received") and r["_reported"] < NOW - 3600
                     for r in rows])
    pull = np.array([DUPLICATE_PULL.get(r["category_code"], 0.5) for r in rows]) * live
    picks = rng.choice(len(rows), size=N_DUPLICATES, replace=False, p=pull / pull.sum())
    out = []
    for k in sorted(int(x) for x in picks):
        o = rows[k]
        end = min(o["_closed"] or NOW, o["_reported"] + 7 * 86400, NOW) - 600
        t = int(o["_reported"] + rng.uniform(0.02, 0.9) * max(end - o["_reported"], 1200))
        merged = int(clock.add(np.array([t]), rng.uniform(0.05, 0.5))[0])
        p = places.near(o["_loc"], rng)
        ch = CHANNELS[int(rng.choice(5, p=[.5, .4, .05, .05, 0]))]
        text = CASE_KINDS[o["category_code"]][3][int(rng.integers(len(CASE_KINDS[o["category_code"]][3])))]
        status = "duplicate" if merged <= NOW else "received"
        out.append({
            **{key: o[key] for key in ("code", "county_code", "category_code", "source", "source_note")},
            "channel": ch, "description": text.format(p=p["place"]), "address": p["address"],
            "reported_at": iso(t), "lon": p["lon"], "lat": p["lat"], "reporter_name": "",
            "reporter_phone": "", "anonymous": "false", "status": status, "dispatched_at": "",
            "signed_at": "", "handled_at": "", "closed_at": "", "paused_at": "", "rework_count": 0,
            "return_count": 0, "satisfaction": "", "duplicate_of": "",
            "_reported": t, "_closed": None, "_loc": p, "_on_time": True,
            "_dup_of": k if status == "duplicate" else None})
    return out


class Places:
    """Where cases are: points inside compounds (more than 20 m in, or at the gates within 18 m
    of the edge), inside other parcels, on the town's streets, around village sites."""

    def __init__(self, geo: Geo, divisions, compounds, others, roads, rng):
        names = {d["code"]: d["name"] for d in divisions}
        self.geo = geo
        self.comps = compounds
        self.comp_inner = [c["xy"].buffer(-21) if not c["xy"].buffer(-21).is_empty else c["xy"].buffer(-8)
                           for c in compounds]
        self.comp_edge = [c["xy"].buffer(-1.5).difference(c["xy"].buffer(-18)) for c in compounds]
        self.comp_w = np.array([c["households"] for c in compounds], dtype=float)
        town_roads = [r for r in roads if r["note"] in (NOTE_ROAD_STREET, NOTE_ROAD_BANK) and r["name"]]
        self.roads = [(r["name"], to_m(r["ll"])) for r in town_roads]
        self.road_len = np.array([g.length for _, g in self.roads])
        self.road_tree = shapely.STRtree([g for _, g in self.roads])
        self.parcels = others
        self.parcel_inner = [p["xy"].buffer(-21) if not p["xy"].buffer(-21).is_empty else p["xy"].buffer(-8)
                             for p in others]
        self.parcel_w = np.array([p["xy"].area for p in others])
        self.parcel_label = []
        for p in others:
            if p["role"] == "government":
                self.parcel_label.append("县政府广场")
            elif p["role"] == "culture":
                self.parcel_label.append("文化中心广场")
            else:
                self.parcel_label.append(self.road_at(p["xy"].centroid) + PARCEL_KINDS[int(rng.integers(len(PARCEL_KINDS)))])
        self.villages = sorted(c for c in geo.sites_m)
        self.village_name = {c: (names[c[:9]], short_name(names[c])) for c in self.villages}
        seats = set(SEAT_VILLAGE.values())     # township seats: larger, more reports
        self.village_w = np.array([2.0 if c in seats else 1.0 for c in self.villages])
        self.village_inner = {c: to_m(geo.divisions[c]).buffer(-25) for c in self.villages}
        # every boundary the router flags points near: compounds, grid cells, divisions, townships
        areas = [c["xy"] for c in compounds] + [to_m(g) for cs in geo.cells.values() for g in cs] + \
            [to_m(g) for g in geo.divisions.values()] + [to_m(g) for g in geo.townships.values()]
        self.edges = shapely.STRtree(shapely.boundary(areas))

    def road_at(self, pt, exclude: str | None = None, within: float | None = None) -> str | None:
        """Name of the nearest town road (other than exclude), within `within` metres if given."""
        ids = range(len(self.roads)) if within is None else \
            self.road_tree.query(pt, predicate="dwithin", distance=within)
        found = sorted((self.roads[int(i)][1].distance(pt), self.roads[int(i)][0]) for i in ids
                       if self.roads[int(i)][0] != exclude)
        return found[0][1] if found else None

    def draw(self, where: np.ndarray, rng) -> list[dict]:
        """A place for each case: where[i] is 0 compound, 1 other parcel, 2 street, 3 village."""
        n = len(where)
        xy = np.zeros((n, 2))
        info: list = [None] * n

        idx = np.flatnonzero(where == 0)
        comp = rng.choice(len(self.comps), size=len(idx), p=self.comp_w / self.comp_w.sum())
        edge = rng.random(len(idx)) < EDGE_SHARE
        for i in range(len(self.comps)):
            for e, polys in ((False, self.comp_inner), (True, self.comp_edge)):
                sel = idx[(comp == i) & (edge == e)]
                xy[sel] = sample_many(polys[i], len(sel), rng)
        for k, i, e in zip(idx, comp, edge):
            info[k] = self.compound_place(int(i), bool(e), xy[k], rng)

        idx = np.flatnonzero(where == 1)
        parcel = rng.choice(len(self.parcels), size=len(idx), p=self.parcel_w / self.parcel_w.sum())
        for i in range(len(self.parcels)):
            sel = idx[parcel == i]
            xy[sel] = sample_many(self.parcel_inner[i], len(sel), rng)
        for k, i in zip(idx, parcel):
            label = self.parcel_label[int(i)]
            info[k] = {"kind": "parcel", "place": label, "address": label, "compound": None,
                       "division": self.parcels[int(i)]["community"]}

        idx = np.flatnonzero(where == 2)
        road = rng.choice(len(self.roads), size=len(idx), p=self.road_len / self.road_len.sum())
        at = rng.uniform(0.03, 0.97, len(idx))
        for k, i, a in zip(idx, road, at):
            name, g = self.roads[int(i)]
            pt = g.interpolate(a, normalized=True)
            xy[k] = (pt.x, pt.y)
            cross = self.road_at(pt, exclude=name, within=40)
            place = f"{name}与{cross}交叉口" if cross else f"{name}{int(rng.integers(1, 240))}号门前"
            info[k] = {"kind": "street", "place": place, "address": place, "compound": None,
                       "division": None}

        idx = np.flatnonzero(where == 3)
        vil = rng.choice(len(self.villages), size=len(idx), p=self.village_w / self.village_w.sum())
        for i, c in enumerate(self.villages):
            sel = idx[vil == i]
            xy[sel] = sample_many(self.village_inner[c], len(sel), rng, self.geo.sites_m[c], 250.0)
        for k, i in zip(idx, vil):
            c = self.villages[int(i)]
            town, village = self.village_name[c]
            spot = VILLAGE_SPOTS[int(rng.integers(len(VILLAGE_SPOTS)))].format(n=int(rng.integers(1, 9)))
            info[k] = {"kind": "village", "place": village + spot, "address": town + village + spot,
                       "compound": None, "division": c}
        return self.finish(xy, info)

    def finish(self, xy: np.ndarray, info: list[dict]) -> list[dict]:
        """Add the metric point, the written lon/lat and whether it is near a boundary."""
        pts = shapely.points(xy)
        ll = shapely.get_coordinates(to_ll(pts))
        near = np.zeros(len(xy), dtype=bool)
        near[self.edges.query(pts, predicate="dwithin", distance=NEAR_M)[0]] = True
        return [{**d, "m": pt, "lon": f"{x:.7f}", "lat": f"{y:.7f}", "near": bool(nb)}
                for d, pt, (x, y), nb in zip(info, pts, ll, near)]

    def compound_place(self, i: int, edge: bool, xy, rng) -> dict:
        """At a gate (a point near the edge: the gate on that side), else somewhere inside."""
        c = self.comps[i]
        if edge:
            d = np.asarray(xy) - shapely.get_coordinates(c["xy"].centroid)[0]
            spot = (("东门" if d[0] > 0 else "西门") if abs(d[0]) > abs(d[1])
                    else ("北门" if d[1] > 0 else "南门"))
        else:
            spot = COMPOUND_SPOTS[int(rng.integers(len(COMPOUND_SPOTS)))]
            top = max(3, c["households"] // 60)
            spot = spot.format(n=int(rng.integers(1, top + 1)), m=int(rng.integers(1, 5)))
        return {"kind": "compound", "place": c["name"] + ("" if spot == "小区内" else spot),
                "address": c["name"], "compound": c["code"], "division": c["community"]}

    def near(self, loc: dict, rng) -> dict:
        """A point 3 to 40 m from loc (in the same compound if loc is in one), same place."""
        base = loc["m"]
        poly = None
        if loc["compound"]:
            poly = next(c["xy"] for c in self.comps if c["code"] == loc["compound"]).buffer(-1.5)
        xy = (base.x, base.y)
        for _ in range(40):
            r, a = rng.uniform(3, 40), rng.uniform(0, 2 * math.pi)
            cand = (base.x + r * math.cos(a), base.y + r * math.sin(a))
            if poly is None or poly.contains(shapely.Point(cand)):
                xy = cand
                break
        keep = {k: loc[k] for k in ("kind", "place", "address", "compound", "division")}
        return self.finish(np.array([xy]), [keep])[0]


def sample_many(poly, k: int, rng, centre=None, spread: float = 0.0) -> np.ndarray:
    """k points inside poly (metres): uniform, or normal around centre with sd spread."""
    out = np.zeros((0, 2))
    if k == 0:
        return out
    minx, miny, maxx, maxy = poly.bounds
    for _ in range(200):
        m = max(2 * k, 16)
        if centre is None:
            x, y = rng.uniform(minx, maxx, m), rng.uniform(miny, maxy, m)
        else:
            x, y = rng.normal(centre[0], spread, m), rng.normal(centre[1], spread, m)
        hit = shapely.contains_xy(poly, x, y)
        out = np.vstack([out, np.column_stack([x[hit], y[hit]])])
        if len(out) >= k:
            return out[:k]
    fill = shapely.get_coordinates(poly.representative_point())
    return np.vstack([out, np.repeat(fill, k - len(out), axis=0)])


class People:
    """Reporters: invented residents (张某华; on the hotline 张女士), grid workers and community
    callers per division, members as themselves; phones 101 + 8 digits, unique per person."""

    def __init__(self, members: list[dict], rng):
        self.members = members
        self.by_compound = {}
        for k, m in enumerate(members):
            self.by_compound.setdefault(m["compound_code"], []).append(k)
        self.phones = iter(int(x) for x in rng.choice(10**8, size=20_000, replace=False))
        self.residents = [self.person(rng) for _ in range(6000)]
        self.staff = {}

    def person(self, rng, style: str = "") -> tuple[str, str]:
        surname = SURNAMES[int(rng.integers(len(SURNAMES)))]
        name = surname + (style if style else "某" + GIVEN[int(rng.integers(len(GIVEN)))])
        return name, f"101{next(self.phones):08d}"

    def assign(self, row: dict, rng) -> None:
        ch, loc = row["channel"], row["_loc"]
        if ch == "resident":
            if rng.random() < 0.545:
                row["anonymous"] = "true"
                return
            pool = 150 if rng.random() < 0.2 else len(self.residents)   # a few report often
            name, phone = self.residents[int(rng.integers(pool))]
        elif ch == "hotline":
            name, phone = self.person(rng, "女士" if rng.random() < 0.5 else "先生")
        elif ch == "member":
            ks = self.by_compound.get(loc["compound"]) or range(len(self.members))
            m = self.members[ks[int(rng.integers(len(ks)))]]
            name, phone = m["name"], m["phone"]
        else:   # a grid worker or the caller of a whistle: one per division, met again
            key = (ch, loc["division"] or "")
            if key not in self.staff:
                self.staff[key] = self.person(rng)
            name, phone = self.staff[key]
        row["reporter_name"], row["reporter_phone"] = name, phone


FIELDS = ["code", "county_code", "channel", "category_code", "description", "address",
          "reported_at", "lon", "lat", "reporter_name", "reporter_phone", "anonymous", "status",
          "dispatched_at", "signed_at", "handled_at", "closed_at", "paused_at", "rework_count",
          "return_count", "satisfaction", "duplicate_of", "source", "source_note"]


def case_rows(cases: list[dict]) -> list[dict]:
    """cases.csv: the layer's fields, without the generator's working ones."""
    return [{k: r[k] for k in FIELDS} for r in cases]
