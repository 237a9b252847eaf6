"""Party organisations of county bodies (机关党组织), their in-service members (在职党员) and their
assignments (包联) to compounds. Real: the counts (131 organisations, 2,207 members, all 107
compounds covered by all of them), the start of the campaign (May 2021) and the kinds 领导包联 /
单位包创. Invented: the organisations' names (plausible county bodies), member counts and offices
(in non-residential parcels of the town, a few on the outskirts); every member (fictitious names
in the style 张某华, phones 100 + 8 digits, which no carrier issues); and the pairing and dates of
the assignments, made to look like a campaign office's work rather than an optimiser's, so that
the analyses have real findings to make.
"""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import shapely
from shapely.geometry import Point

from .common import (CAMPAIGN_START, COUNTY, GRID, N_MEMBERS, N_ORGS, random_point_in, rng_for,
                     to_ll)
from .divisions import Geo
from .town import V_NORTH, V_SOUTH

SURNAMES = list("王李张刘郭杨赵高武任薛马白贺冯田霍曹秦温韩孙乔梁宋康成吴郝闫陈胡孟")
GIVEN = list("华军平芳英伟强丽明文斌燕霞红刚勇杰敏静涛鹏磊慧婷亮峰辉娟琴云宇龙晶兵")

# The 131 Party organisations: body | unit | level (委 = 党委, 总 = 党总支, 支 = 党支部) |
# work group | office (G = county government compound, X = outskirts of town, blank = any block).
ORGS_TABLE = """
中共中阳县委办公室|机关|支|1|G
中阳县人民政府办公室|机关|支|1|G
中共中阳县委组织部|机关|支|1|G
中共中阳县委统战部|机关|支|1|G
中共中阳县直属机关工作委员会|机关|支|1|G
中共中阳县委机构编制委员会办公室|机关|支|1|G
中共中阳县委老干部局|机关|支|1|
中阳县机关事务服务中心||支|1|G
中阳县发展和改革局|机关|支|1|
中阳县财政局|机关|支|1|
中阳县人力资源和社会保障局|机关|总|1|
中阳县就业服务中心||支|1|
中阳县社会保险中心||支|1|
中阳县劳动保障监察综合行政执法队||支|1|
中阳县民政局|机关|支|1|
中阳县社会救助服务中心||支|1|
中阳县退役军人事务局|机关|支|1|
中阳县应急管理局|机关|支|1|
中阳县人民武装部||支|1|
中阳县档案馆||支|1|
中阳县信访局|机关|支|1|G
中阳县行政审批服务管理局|机关|支|1|
中阳县12345政务服务便民热线中心||支|1|
中阳县能源局|机关|支|1|
中阳县工业和信息化局|机关|支|1|
中阳县乡村振兴局|机关|支|1|
中共中阳县委宣传部|机关|支|2|G
中共中阳县委网络安全和信息化委员会办公室|机关|支|2|G
中阳县融媒体中心||总|2|
中阳县教育科技局|机关|总|2|
中阳县教育科技局|教学研究室|支|2|
中阳县第一中学校||委|2|
中阳县第一中学校|第一|支|2|
中阳县第一中学校|第二|支|2|
中阳县第二中学校||总|2|
中阳县第三中学校||总|2|
中阳县职业中学校||总|2|X
中阳县宁乡第一小学校||支|2|
中阳县宁乡第二小学校||支|2|
中阳县宁乡第三小学校||支|2|
中阳县宁乡第四小学校||支|2|
中阳县实验小学校||支|2|
中阳县第一幼儿园||支|2|
中阳县第二幼儿园||支|2|
中阳县特殊教育学校||支|2|
中阳县教师进修学校||支|2|
中共中阳县委党校||支|2|
中阳县科学技术协会|机关|支|2|
中阳县文学艺术界联合会|机关|支|2|
中阳县图书馆||支|2|
中阳县住房和城乡建设管理局|机关|总|3|
中阳县住房和城乡建设管理局|建设工程质量安全监督站|支|3|
中阳县住房保障和房产服务中心||支|3|
中阳县城市管理综合行政执法局|机关|总|3|
中阳县城市管理综合行政执法局|执法大队|支|3|
中阳县城市管理综合行政执法局|环境卫生服务中心|支|3|
中阳县城市管理综合行政执法局|园林绿化服务中心|支|3|
中阳县自然资源局|机关|总|3|
中阳县不动产登记中心||支|3|
吕梁市生态环境局中阳分局|机关|支|3|
中阳县水利局|机关|支|3|
中阳县水务服务中心||支|3|
中阳县林业局|机关|支|3|
中阳县农业农村局|机关|总|3|
中阳县农业农村局|农业综合行政执法队|支|3|
中阳县农业技术推广中心||支|3|
中阳县畜牧兽医服务中心||支|3|X
中阳县气象局||支|3|X
中阳县城市建设投资有限公司||支|3|
中阳县供水有限公司||支|3|
中阳县城市供热有限公司||支|3|
国网中阳县供电公司||委|3|
中阳县市场监督管理局|机关|总|4|
中阳县市场监督管理局|宁乡市场监督管理所|支|4|
中阳县市场监督管理局|城北市场监督管理所|支|4|
中阳县检验检测中心||支|4|
中阳县商务局|机关|支|4|
中阳县供销合作社联合社|机关|支|4|
国家税务总局中阳县税务局||委|4|
中阳县医疗保障局|机关|支|4|
中阳县工商业联合会|机关|支|4|
中国农业银行中阳县支行||总|4|
中国工商银行中阳支行||支|4|
中国建设银行中阳支行||支|4|
中国银行中阳支行||支|4|
山西中阳农村商业银行||总|4|
中国邮政集团有限公司中阳县分公司||支|4|
中国移动通信集团山西有限公司中阳分公司||支|4|
中国联合网络通信有限公司中阳县分公司||支|4|
中国电信股份有限公司中阳分公司||支|4|
中国人民财产保险股份有限公司中阳支公司||支|4|
中阳县粮食和物资储备中心||支|4|
中阳县公安局||委|5|
中阳县公安局|交通警察大队|支|5|
中阳县公安局|宁乡派出所|支|5|
中阳县公安局|城北派出所|支|5|
中阳县公安局|城南派出所|支|5|
中阳县公安局|巡特警大队|支|5|
中阳县公安局|刑事侦查大队|支|5|
中阳县交通运输局|机关|支|5|
中阳县公路管理段||支|5|X
中阳县交通运输综合行政执法大队||支|5|
中阳县公共交通有限公司||支|5|
中阳县消防救援大队||支|5|X
中阳县司法局|机关|支|5|
中阳县文化和旅游局|机关|支|6|
中阳县文化馆||支|6|
中阳县卫生健康和体育局|机关|总|6|
中阳县卫生健康综合监督执法队||支|6|
中阳县人民医院||委|6|
中阳县人民医院|内科|支|6|
中阳县人民医院|外科|支|6|
中阳县人民医院|医技|支|6|
中阳县中医医院||总|6|
中阳县妇幼保健计划生育服务中心||支|6|
中阳县疾病预防控制中心||支|6|
中阳县宁乡社区卫生服务中心||支|6|
中阳县总工会|机关|支|6|
共青团中阳县委员会|机关|支|6|G
中阳县妇女联合会|机关|支|6|
中阳县残疾人联合会|机关|支|6|
中阳县红十字会|机关|支|6|
中阳县纪委监委|机关|总|7|G
中共中阳县委巡察办|机关|支|7|G
中阳县审计局|机关|支|7|
中阳县统计局|机关|支|7|
中阳县人大常委会|机关|总|7|G
政协中阳县委员会|机关|支|7|G
中阳县人民法院|机关|总|7|
中阳县人民检察院|机关|支|7|
中共中阳县委政法委员会|机关|支|7|G
"""
LEVEL_WORD = {"委": "党委", "总": "党总支", "支": "党支部"}
LEVEL_MEMBERS = {"委": (45, 95), "总": (18, 40), "支": (4, 18)}

NOTE_ORG = "the count 131 and member total 2,207 are from the article; names, member counts and office location invented"
NOTE_MEMBER = "fictitious person, name and phone; total 2,207 from the article"
NOTE_ASSIGN = "full coverage of the 107 compounds by all 131 orgs is from the article; pairing and dates invented"


def build_orgs(others: list[dict], geo: Geo) -> list[dict]:
    rng = rng_for("orgs")
    rows = [line.split("|") for line in ORGS_TABLE.strip().splitlines()]
    assert len(rows) == N_ORGS, len(rows)
    orgs = []
    for i, (body, unit, level, wg, place) in enumerate(rows, start=1):
        orgs.append({"code": f"{COUNTY}-P{i:03d}", "body": body, "level": level,
                     "name": f"{body}{unit}{LEVEL_WORD[level]}", "wg": f"{COUNTY}-WG{wg}",
                     "place": place})
    assert len({o["name"] for o in orgs}) == N_ORGS
    counts = member_counts([o["level"] for o in orgs], rng)
    for o, n in zip(orgs, counts):
        o["members"] = n
    place_offices(orgs, others, geo, rng)
    return orgs


def member_counts(levels: list[str], rng) -> list[int]:
    """Draw a size per organisation by level, then scale so that they sum to exactly 2,207
    (largest-remainder rounding, never below 3)."""
    raw = np.array([rng.uniform(*LEVEL_MEMBERS[lv]) for lv in levels])
    scaled = raw * N_MEMBERS / raw.sum()
    counts = np.maximum(3, np.floor(scaled)).astype(int)
    order = np.argsort(-(scaled - np.floor(scaled)), kind="stable")
    i = 0
    while counts.sum() < N_MEMBERS:
        counts[order[i % len(order)]] += 1
        i += 1
    while counts.sum() > N_MEMBERS:
        j = int(np.argmax(counts))
        counts[j] -= 1
    return [int(c) for c in counts]


def place_offices(orgs: list[dict], others: list[dict], geo: Geo, rng) -> None:
    """Offices sit in non-residential parcels (never inside a compound): county Party and
    government organs in the government compound, the rest in parcels nearer the centre more
    often, a few on the outskirts up and down the valley."""
    gov = next(p for p in others if p["role"] == "government")
    free = [p for p in others if p["role"] == "other"]
    weights = np.array([math.exp(-abs(p["geom"].centroid.y) / 1200) for p in free])
    body_parcel = {}
    outskirts = iter([(-150, V_SOUTH - 900), (120, V_NORTH + 700), (-200, V_NORTH + 1500),
                      (250, V_SOUTH - 1800), (80, V_NORTH + 350)])
    for o in orgs:
        if o["place"] == "X":
            pt_uv = Point(next(outskirts))
        else:
            if o["place"] == "G":
                parcel = gov
            elif o["body"] in body_parcel and rng.random() < 0.5:
                parcel = body_parcel[o["body"]]   # a sub-unit often shares its body's building
            else:
                parcel = free[int(rng.choice(len(free), p=weights / weights.sum()))]
            body_parcel.setdefault(o["body"], parcel)
            pt_uv = random_point_in(parcel["geom"].buffer(-8), rng)
        o["office_m"] = geo.valley.to_xy(pt_uv)
        o["office_ll"] = shapely.set_precision(to_ll(o["office_m"]), GRID)


def build_assignments(orgs: list[dict], compounds: list[dict]) -> list[dict]:
    """Pair organisations with compounds the way a campaign office would, not an optimiser:

    1. compounds, in random order, each take a still-free organisation, preferring near ones
       (the last compounds take whatever is left, often far away);
    2. the organisations still free join a compound near their office (some get 2-3 orgs);
    3. large organisations (40+ members) take a second compound;
    4. six county leaders' offices pair with large compounds (领导包联, kind "leader");
    5. five organisations were moved once: their first compound ended and the current one
       started the next day.
    """
    rng = rng_for("assignments")
    n_o, n_c = len(orgs), len(compounds)
    om = np.array([shapely.get_coordinates(o["office_m"])[0] for o in orgs])
    cm = np.array([shapely.get_coordinates(c["xy"].centroid)[0] for c in compounds])
    dist = np.hypot(om[:, None, 0] - cm[None, :, 0], om[:, None, 1] - cm[None, :, 1])
    pairs = []                       # (org index, compound index)
    used = np.zeros(n_o, dtype=bool)
    for c in rng.permutation(n_c):
        cand = np.flatnonzero(~used)
        w = np.exp(-dist[cand, c] / 700.0)
        o = int(rng.choice(cand, p=w / w.sum()))
        used[o] = True
        pairs.append((o, int(c)))
    load = np.bincount([c for _, c in pairs], minlength=n_c)
    for o in np.flatnonzero(~used):
        cand = np.flatnonzero(load < 3)
        w = np.exp(-dist[o, cand] / 600.0)
        c = int(rng.choice(cand, p=w / w.sum()))
        pairs.append((int(o), c))
        load[c] += 1
    for o in range(n_o):
        if orgs[o]["members"] >= 40:
            mine = {c for oo, c in pairs if oo == o}
            cand = np.array([c for c in range(n_c) if load[c] < 3 and c not in mine])
            w = np.exp(-dist[o, cand] / 900.0)
            c = int(rng.choice(cand, p=w / w.sum()))
            pairs.append((o, c))
            load[c] += 1

    rows = [assignment_row(orgs[o], compounds[c], "unit", CAMPAIGN_START, None, "单位包创")
            for o, c in pairs]

    leader_bodies = ["中共中阳县委办公室", "中阳县人民政府办公室", "中阳县人大常委会",
                     "政协中阳县委员会", "中阳县纪委监委", "中共中阳县委组织部"]
    big = [i for i in np.argsort([-c["households"] for c in compounds], kind="stable")[:20]]
    for body, c in zip(leader_bodies, rng.choice(big, size=len(leader_bodies), replace=False)):
        o = next(i for i, org in enumerate(orgs) if org["body"] == body)
        rows.append(assignment_row(orgs[o], compounds[int(c)], "leader", CAMPAIGN_START, None,
                                   "县级领导包联"))

    # Reassignments: the org's earlier compound is still covered by someone else.
    single = [o for o in range(n_o) if sum(1 for oo, _ in pairs if oo == o) == 1]
    ends = [dt.date(2021, 12, 31), dt.date(2022, 3, 31), dt.date(2022, 6, 30),
            dt.date(2022, 9, 30), dt.date(2023, 2, 28)]
    for o, end in zip(sorted(int(x) for x in rng.choice(single, size=len(ends), replace=False)), ends):
        current = next(r for r in rows if r["org_code"] == orgs[o]["code"] and r["kind"] == "unit")
        linked = {r["compound_code"] for r in rows if r["org_code"] == orgs[o]["code"]}
        order = np.argsort(dist[o], kind="stable")   # the earlier one: the 4th nearest free one
        earlier = next(int(c) for c in order[3:] if compounds[int(c)]["code"] not in linked)
        start = end + dt.timedelta(days=1)
        current["valid_from"] = start.isoformat()
        current["note"] = f"单位包创；{start.year}年{start.month}月调整包联小区"
        rows.append(assignment_row(orgs[o], compounds[earlier], "unit", CAMPAIGN_START, end,
                                   f"单位包创；{end.year}年{end.month}月调出"))
    rows.sort(key=lambda r: (r["org_code"], r["valid_from"], r["compound_code"], r["kind"]))
    return rows


def assignment_row(org, compound, kind, start, end, note) -> dict:
    return {"org_code": org["code"], "compound_code": compound["code"], "county_code": COUNTY,
            "kind": kind, "valid_from": start.isoformat(), "valid_to": end.isoformat() if end else "",
            "note": note, "source": "synthetic", "source_note": NOTE_ASSIGN}


def build_members(orgs: list[dict], assignments: list[dict], compounds: list[dict]) -> list[dict]:
    """Each org's members go to its active unit compounds, split in proportion to households."""
    rng = rng_for("members")
    hh = {c["code"]: c["households"] for c in compounds}
    phones = rng.choice(10**8, size=N_MEMBERS, replace=False)
    rows, k = [], 0
    for o in orgs:
        active = sorted(a["compound_code"] for a in assignments if a["org_code"] == o["code"]
                        and a["kind"] == "unit" and not a["valid_to"])
        shares = split_by_weight(o["members"], [hh[c] for c in active])
        for comp, n in zip(active, shares):
            for _ in range(n):
                k += 1
                name = f"{SURNAMES[rng.integers(len(SURNAMES))]}某{GIVEN[rng.integers(len(GIVEN))]}"
                rows.append({"code": f"{COUNTY}-M{k:04d}", "org_code": o["code"],
                             "compound_code": comp, "county_code": COUNTY, "name": name,
                             "phone": f"100{int(phones[k - 1]):08d}", "source": "synthetic",
                             "source_note": NOTE_MEMBER})
    return rows


def split_by_weight(total: int, weights: list[float]) -> list[int]:
    """Integers summing to total, proportional to weights, at least 1 each when possible."""
    w = np.array(weights, dtype=float)
    raw = w / w.sum() * total
    out = np.maximum(1, np.floor(raw)).astype(int)
    order = np.argsort(-(raw - np.floor(raw)), kind="stable")
    i = 0
    while out.sum() < total:
        out[order[i % len(out)]] += 1
        i += 1
    while out.sum() > total:
        out[int(np.argmax(out))] -= 1
    return [int(x) for x in out]


def org_features(orgs: list[dict]) -> list[tuple[dict, object]]:
    """party_orgs.geojson: one point per organisation, its office."""
    return [(
        {"code": o["code"], "county_code": COUNTY, "name": o["name"], "parent_body": o["body"],
         "member_count": o["members"], "work_group_code": o["wg"], "source": "synthetic",
         "source_note": NOTE_ORG}, o["office_ll"]) for o in orgs]
