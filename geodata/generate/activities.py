"""Practice-site activities (新时代文明实践活动): a labelled synthetic year, 2025-12-01 to
2026-11-27, about 350 activities at the county's 96 practice sites.

Nothing in an activity is real: every event, date, unit and count is invented. Real are only the
kinds of activity such sites hold (理论宣讲, 志愿服务, 移风易俗, 义诊, 法治宣传, ...), the themes of
the demonstration sites (five from the article, see practice_sites.py), and the dates of the
2026 festivals the seasonal activities cluster around.

How they are drawn (one stream, rng_for("activities")):
* how many: the centre about two a month, each township institute about eight a year, each of the
  10 demonstration stations about sixteen, the other community stations two or three, the other
  village stations one or two;
* what: a demonstration station holds its own theme two times in three; seasonal activities
  fall in their window (写春联送福 before the Spring Festival, 学雷锋 in early March, 清明祭英烈,
  端午, 七一, 中秋, 重阳敬老), the rest from a list of common themes;
* when: weekends and holidays twice as likely as working days, fewer in January and February;
* who organised it: the centre with a propaganda, culture or youth unit; a community station
  often with an organisation assigned to one of its compounds; 义诊 with a health unit, 法治宣传
  with the justice bureau, court or procuratorate, 科普 with the science association or the
  agricultural extension centre; about a third of village activities by the village alone (no
  organisation);
* how big: participants by tier (median about 120 at the centre, 60 at a demonstration station,
  35 elsewhere), 6 to 30 volunteers serving 1.5 to 4 hours each (volunteer_hours is their sum).
"""
from __future__ import annotations

import datetime as dt
import math

import numpy as np

from .cases import FIRST_DAY, LAST_DAY, WorkClock
from .common import COUNTY, rng_for

NOTE_ACTIVITY = "synthetic: invented activity; the site is real only as a bundle site"
COMMON = ["理论宣讲", "志愿服务", "移风易俗", "文明新风", "法治宣传", "健康义诊", "科普宣传",
          "文艺演出", "环境整治", "关爱老人", "关爱未成年人", "垃圾分类"]
SEASONAL = [("写春联送福字", "2026-01-26", "2026-02-13"), ("学雷锋志愿服务", "2026-03-01", "2026-03-10"),
            ("清明祭英烈", "2026-03-30", "2026-04-05"), ("端午包粽子", "2026-06-13", "2026-06-19"),
            ("七一主题党课", "2026-06-26", "2026-07-03"), ("中秋邻里节", "2026-09-19", "2026-09-25"),
            ("重阳敬老", "2026-10-12", "2026-10-18")]
WHAT = {
    "理论宣讲": "组织宣讲员走进{s}，用群众听得懂的语言宣讲政策",
    "志愿服务": "志愿者在{s}开展便民服务，义务理发、维修小家电",
    "移风易俗": "在{s}宣传红白事简办、反对高价彩礼，签订移风易俗承诺书",
    "文明新风": "在{s}开展文明家庭、好邻居评选和道德讲堂",
    "法治宣传": "在{s}开展法律咨询和反诈宣传，发放宣传资料",
    "健康义诊": "组织医护人员在{s}义诊，测量血压血糖、讲解慢病防治",
    "科普宣传": "在{s}开展科普讲座和农技培训",
    "文艺演出": "在{s}举办群众文艺演出，表演秧歌、晋剧选段",
    "环境整治": "志愿者在{s}清理卫生死角、捡拾垃圾",
    "关爱老人": "走访{s}独居和高龄老人，送去米面油",
    "关爱未成年人": "在{s}开展课后托管、亲子阅读和安全教育",
    "垃圾分类": "在{s}讲解垃圾分类知识，开展分类投放积分兑换",
    "写春联送福字": "书法志愿者在{s}现场写春联、送福字",
    "学雷锋志愿服务": "在{s}开展学雷锋志愿服务活动",
    "清明祭英烈": "组织群众和学生在{s}开展清明祭英烈、文明祭扫宣传",
    "端午包粽子": "在{s}组织邻里包粽子、讲端午习俗",
    "七一主题党课": "在{s}举办七一主题党课和党员志愿服务",
    "中秋邻里节": "在{s}举办中秋邻里节，共话团圆",
    "重阳敬老": "在{s}开展重阳敬老活动，为老人义诊、包饺子",
}
OWN = "围绕“{t}”特色主题在{s}开展示范活动"
# which bodies organise which themes (the first organisation of each body in party_orgs)
BY_THEME = {
    "健康义诊": ["中阳县卫生健康和体育局", "中阳县人民医院", "中阳县中医医院", "中阳县宁乡社区卫生服务中心"],
    "法治宣传": ["中阳县司法局", "中阳县人民法院", "中阳县人民检察院"],
    "科普宣传": ["中阳县科学技术协会", "中阳县农业技术推广中心"],
    "文艺演出": ["中阳县文化馆", "中阳县文化和旅游局", "中阳县文学艺术界联合会"],
    "关爱老人": ["中阳县民政局", "中阳县红十字会", "中阳县总工会"],
    "关爱未成年人": ["共青团中阳县委员会", "中阳县妇女联合会", "中阳县教育科技局", "中阳县图书馆"],
    "写春联送福字": ["中阳县文学艺术界联合会", "中阳县文化馆"],
    "重阳敬老": ["中阳县民政局", "中阳县卫生健康和体育局"],
}
CENTRE_BODIES = ["中共中阳县委宣传部", "中阳县文化馆", "共青团中阳县委员会", "中阳县融媒体中心"]
PER_YEAR = {"center": 24, "institute": 8, "demonstration": 16, "community": 2.5, "village": 1.5}
MONTH = {12: 0.9, 1: 0.7, 2: 0.6, 3: 1.1, 4: 1.1, 5: 1.15, 6: 1.1, 7: 1.0, 8: 0.9, 9: 1.1, 10: 1.1,
         11: 0.9}


def build_activities(sites: list[dict], orgs: list[dict], assignments: list[dict],
                     compounds: list[dict]) -> list[dict]:
    rng = rng_for("activities")
    n_days = (LAST_DAY - FIRST_DAY).days + 1
    days = [FIRST_DAY + dt.timedelta(days=i) for i in range(n_days)]
    workday = WorkClock().workday[:n_days]
    w_day = np.array([MONTH[d.month] for d in days]) * np.where(workday, 1.0, 2.0)
    first = {}
    for o in orgs:
        first.setdefault(o["body"], o["code"])
    wg6 = [o["code"] for o in orgs if o["wg"].endswith("WG6") or o["wg"].endswith("WG2")]
    community_of = {c["code"]: c["community"] for c in compounds}
    in_community = {}
    for a in assignments:
        if not a["valid_to"] and a["kind"] == "unit":
            in_community.setdefault(community_of[a["compound_code"]], set()).add(a["org_code"])

    out = []
    for s in sites:
        tier = "demonstration" if s["demonstration"] else s["tier"]
        if tier == "station":
            tier = "community" if s["division_code"] in in_community else "village"
        n = int(rng.poisson(PER_YEAR[tier] * n_days / 365))
        place = site_place(s)
        for _ in range(n):
            r = rng.random()
            window = None
            if s["theme"] and r < 2 / 3:
                theme = s["theme"]
            elif r < 0.82:
                theme = COMMON[int(rng.integers(len(COMMON)))]
            else:
                theme, a, b = SEASONAL[int(rng.integers(len(SEASONAL)))]
                window = (dt.date.fromisoformat(a), dt.date.fromisoformat(b))
            w = w_day if window is None else np.array(
                [float(window[0] <= d <= window[1]) for d in days]) * w_day
            held = days[int(rng.choice(n_days, p=w / w.sum()))]
            org = organiser(s, tier, theme, first, wg6, in_community, rng)
            median = {"center": 120, "demonstration": 60}.get(tier, 35)
            people = int(np.clip(round(math.exp(rng.normal(math.log(median), 0.5))), 8, 400))
            volunteers = int(rng.integers(6, 31))
            hours = float(rng.choice([1.5, 2, 2.5, 3, 3.5, 4]))
            text = (OWN.format(t=theme, s=place) if theme == s["theme"]
                    else WHAT[theme].format(s=place))
            out.append({"site_code": s["code"], "theme": theme, "held_on": held, "org_code": org,
                        "participants": people, "volunteers": volunteers,
                        "volunteer_hours": volunteers * hours,
                        "description": f"{text}，{volunteers}名志愿者参与，服务群众{people}人次。"})
    out.sort(key=lambda a: (a["held_on"], a["site_code"], a["theme"]))
    for i, a in enumerate(out, start=1):
        a["code"] = f"{COUNTY}-A{i:04d}"
    return out


def site_place(s: dict) -> str:
    """How a description names the site: 中心, 宁乡镇实践所, 弓阳村, 段家庄社区."""
    if s["tier"] == "center":
        return "县新时代文明实践中心"
    return s["name"].replace("新时代文明实践所", "实践所").replace("新时代文明实践站", "")


def organiser(s, tier, theme, first, wg6, in_community, rng) -> str:
    """The organising unit's code, or "" when the village or community organised it alone."""
    if tier == "center":
        return first[CENTRE_BODIES[int(rng.integers(len(CENTRE_BODIES)))]]
    if theme in BY_THEME and rng.random() < 0.7:
        bodies = BY_THEME[theme]
        return first[bodies[int(rng.integers(len(bodies)))]]
    if s["division_code"] in in_community and rng.random() < 0.7:
        units = sorted(in_community[s["division_code"]])
        return units[int(rng.integers(len(units)))]
    if tier in ("village", "institute", "demonstration") and rng.random() < 0.35:
        return ""
    return wg6[int(rng.integers(len(wg6)))]


def activity_rows(activities: list[dict]) -> list[dict]:
    """activities.csv."""
    return [{
        "code": a["code"], "county_code": COUNTY, "site_code": a["site_code"], "theme": a["theme"],
        "held_on": a["held_on"].isoformat(), "org_code": a["org_code"],
        "participants": a["participants"], "volunteer_hours": f"{a['volunteer_hours']:g}",
        "description": a["description"], "source": "synthetic", "source_note": NOTE_ACTIVITY}
        for a in activities]
