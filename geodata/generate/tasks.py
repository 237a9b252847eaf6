"""Work groups (专门工作组) and key tasks (创城重点任务). Real: the counts (7 groups, 12 tasks) and
that each task has responsible units. Invented: names, duties, each task's work group and its
responsible organisations (the first is the lead unit: the first organisation of that body in
party_orgs).
"""
from __future__ import annotations

from .common import COUNTY

WORK_GROUPS = [
    ("综合协调组", "统筹调度、会议组织、信息汇总与对上联络"),
    ("宣传教育组", "创城宣传、公益广告、市民文明手册与学校教育"),
    ("环境整治组", "市容环境、背街小巷、垃圾分类与园林绿化"),
    ("市场秩序组", "农贸市场、门前三包、窗口服务与诚信经营"),
    ("交通秩序组", "交通秩序、文明出行、公交与停车管理"),
    ("文明实践组", "新时代文明实践、志愿服务与群众文化活动"),
    ("督查考核组", "双向督查调度、问题交办、考核与通报"),
]

# name, work group, responsible bodies (the first is the lead unit)
KEY_TASKS = [
    ("背街小巷整治", 3, ["中阳县住房和城乡建设管理局", "中阳县城市管理综合行政执法局"]),
    ("农贸市场规范提升", 4, ["中阳县市场监督管理局", "中阳县商务局", "中阳县城市管理综合行政执法局"]),
    ("公益广告设置", 2, ["中共中阳县委宣传部", "中阳县融媒体中心"]),
    ("垃圾分类", 3, ["中阳县城市管理综合行政执法局", "中阳县住房和城乡建设管理局", "吕梁市生态环境局中阳分局"]),
    ("交通秩序整治", 5, ["中阳县公安局", "中阳县交通运输局", "中阳县公共交通有限公司"]),
    ("门前三包", 4, ["中阳县城市管理综合行政执法局", "中阳县市场监督管理局"]),
    ("六乱整治", 3, ["中阳县城市管理综合行政执法局", "中阳县公安局", "中阳县住房和城乡建设管理局", "中阳县市场监督管理局"]),
    ("未成年人思想道德建设", 2, ["中阳县教育科技局", "共青团中阳县委员会", "中阳县妇女联合会"]),
    ("志愿服务", 6, ["中共中阳县委宣传部", "共青团中阳县委员会", "中阳县文化馆"]),
    ("公共文明引导", 6, ["中共中阳县委宣传部", "中阳县文化和旅游局", "中阳县融媒体中心"]),
    ("社区环境提升", 3, ["中阳县住房和城乡建设管理局", "中阳县民政局", "中阳县住房保障和房产服务中心"]),
    ("窗口单位服务提升", 4, ["中阳县行政审批服务管理局", "中阳县12345政务服务便民热线中心", "国家税务总局中阳县税务局", "中国农业银行中阳县支行"]),
]

NOTE_WG = "the article states 7 work groups; names invented"
NOTE_KT = "the article states 12 key tasks with responsible units; names and units invented"


def work_group_rows() -> list[dict]:
    """work_groups.csv."""
    return [
        {"code": f"{COUNTY}-WG{i}", "county_code": COUNTY, "name": n, "duty": d,
         "source": "synthetic", "source_note": NOTE_WG}
        for i, (n, d) in enumerate(WORK_GROUPS, start=1)]


def key_task_rows(orgs: list[dict]) -> list[dict]:
    """key_tasks.csv: each task's responsible bodies as organisation codes."""
    first_org = {}
    for o in orgs:
        first_org.setdefault(o["body"], o["code"])
    return [
        {"code": f"{COUNTY}-KT{i:02d}", "county_code": COUNTY, "name": n,
         "work_group_code": f"{COUNTY}-WG{wg}", "responsible_orgs": ";".join(first_org[b] for b in bodies),
         "source": "synthetic", "source_note": NOTE_KT}
        for i, (n, wg, bodies) in enumerate(KEY_TASKS, start=1)]
