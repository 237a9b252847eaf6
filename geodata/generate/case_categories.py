"""Case categories (问题类别): a fixed table, not drawn. Real: the style of the taxonomy, which
follows the city grid-management systems (数字化城市管理): a 2-digit class and a 2-digit
subclass, 事件 (events) and 部件 (components), each with a time limit, a limit type, a filing
and a closing condition. Invented: this selection of 30 subclasses, their limits (examples the
county can change) and the county departments that take some of them (部件 such as street lights
go to the housing and construction bureau, whatever compound they stand in).

Project convention: events use the classes 01-06, components the classes 51-56.
"""
from __future__ import annotations

from .common import COUNTY

LIMIT_TYPES = ("urgent_hours", "working_hours", "working_days", "natural_days")
NOTE_CATEGORY = ("synthetic: the taxonomy follows city grid systems' 事件/部件 classes "
                 "(2-digit class + 2-digit subclass); this selection and its time limits are "
                 "examples the county can change")
NOTE_FIRST = NOTE_CATEGORY + "; convention: events use classes 01-06, components 51-56"

# code, kind, class, name, time limit, limit type, filing condition, closing condition,
# route org (the last 3 digits of a party_orgs code, or None: routed by where it lies)
CATEGORIES = [
    ("0101", "event", "市容环境", "暴露垃圾（乱扔垃圾）", 1, "working_days",
     "公共区域可见垃圾、杂物", "垃圾清运干净，现场无残留", None),
    ("0102", "event", "市容环境", "垃圾满溢", 1, "working_days",
     "垃圾桶（箱）满溢，垃圾散落在外", "垃圾清运完毕，桶（箱）周边干净", None),
    ("0103", "event", "市容环境", "小区环境脏乱", 2, "working_days",
     "小区公共区域卫生差、杂物堆积", "公共区域清扫干净，杂物清除", None),
    ("0104", "event", "市容环境", "乱堆物堆料", 2, "working_days",
     "公共区域堆放物料、杂物或建筑垃圾", "堆放物清除或规整，现场恢复原状", None),
    ("0105", "event", "市容环境", "道路不洁", 1, "working_days",
     "路面有污渍、泥土、积水或漏扫", "路面清扫冲洗干净", None),
    ("0201", "event", "宣传广告", "非法小广告", 1, "working_days",
     "张贴、喷涂、刻画小广告", "小广告清除，墙面恢复整洁", None),
    ("0202", "event", "宣传广告", "违规户外广告", 5, "working_days",
     "未经审批或破损、存在安全隐患的户外广告", "广告拆除或整改到位", "054"),
    ("0301", "event", "施工管理", "施工扰民", 1, "working_days",
     "施工噪声、粉尘影响居民，或超时施工", "施工按规定时段进行，防尘措施到位", "054"),
    ("0302", "event", "施工管理", "道路遗撒", 4, "working_hours",
     "运输车辆沿路遗撒泥土、砂石、渣土", "遗撒物清理干净，责任车辆查处", "054"),
    ("0401", "event", "街面秩序", "占道经营", 4, "working_hours",
     "占用道路、人行道摆摊经营", "摊点撤离或规范到指定区域", None),
    ("0402", "event", "街面秩序", "乱停乱放（机动车）", 2, "working_hours",
     "机动车占用人行道、消防通道或出入口停放", "车辆驶离或依法处理", "094"),
    ("0403", "event", "街面秩序", "非机动车乱停放", 4, "working_hours",
     "非机动车无序停放、堵塞通道", "车辆规整摆放，通道畅通", None),
    ("0404", "event", "街面秩序", "噪声扰民", 1, "working_days",
     "社会生活噪声影响居民休息", "噪声源停止或降至规定限值", None),
    ("0405", "event", "街面秩序", "店外经营（门前三包）", 1, "working_days",
     "商户超出门窗店外经营、摆放", "物品收回店内，门前整洁", None),
    ("0406", "event", "街面秩序", "乱搭乱建", 15, "natural_days",
     "未经批准搭建建筑物、构筑物", "违建拆除或依法处理完毕", "054"),
    ("0501", "event", "突发事件", "道路塌陷", 2, "urgent_hours",
     "路面塌陷、下沉，危及通行安全", "现场围挡警示并修复或移交抢修", "051"),
    ("0502", "event", "突发事件", "供水管道破裂", 2, "urgent_hours",
     "供水管道破裂、漏水或冒水", "关阀止水，管道抢修完毕", "070"),
    ("0503", "event", "突发事件", "安全隐患", 4, "urgent_hours",
     "存在危及人身、财产安全的隐患", "隐患排除或有效管控", None),
    ("0601", "event", "其他事件", "不文明行为", 1, "working_days",
     "公共场所不文明行为", "劝导制止，现场秩序恢复", None),
    ("0602", "event", "其他事件", "其他问题", 3, "working_days",
     "不属于以上类别的城市管理问题", "问题解决或答复反映人", None),
    ("5101", "component", "公用设施", "路灯损坏", 3, "working_days",
     "路灯不亮、常亮或灯杆损坏", "路灯恢复正常照明", "051"),
    ("5102", "component", "公用设施", "井盖缺失破损", 4, "urgent_hours",
     "井盖缺失、破损、移位或松动", "井盖补齐或更换，平稳牢固", "051"),
    ("5103", "component", "公用设施", "公共设施损坏", 5, "working_days",
     "健身器材、座椅、站亭等公共设施损坏", "设施修复或更换，可正常使用", None),
    ("5104", "component", "公用设施", "消防设施损坏", 3, "working_days",
     "消火栓、灭火器等消防设施损坏或被占", "消防设施恢复完好可用", "018"),
    ("5201", "component", "道路交通", "交通标志标线损坏", 5, "working_days",
     "交通标志、标线、信号灯损坏或不清", "标志标线修复，信号灯正常", "094"),
    ("5202", "component", "道路交通", "道路护栏损坏", 5, "working_days",
     "道路护栏、隔离栏损坏、倒伏或缺失", "护栏修复或补齐", "051"),
    ("5301", "component", "市容环境", "垃圾桶（箱）损坏", 3, "working_days",
     "垃圾桶（箱）破损、缺盖或缺失", "垃圾桶（箱）修复或更换", "056"),
    ("5302", "component", "市容环境", "公厕设施损坏", 2, "working_days",
     "公厕冲水、照明、门锁等设施损坏", "设施修复，公厕正常开放", "056"),
    ("5401", "component", "园林绿化", "绿地损坏", 5, "working_days",
     "绿地、绿化带被踩踏、碾压或毁坏", "绿地补植修复", "057"),
    ("5402", "component", "园林绿化", "行道树倒伏", 4, "urgent_hours",
     "行道树倒伏、倾斜或断枝阻碍通行", "倒伏树木清理扶正，道路畅通", "057"),
]


def category_rows() -> list[dict]:
    """case_categories.csv."""
    rows = []
    for i, (code, kind, cls, name, limit, ltype, filing, closing, org) in enumerate(CATEGORIES):
        rows.append({
            "code": code, "kind": kind, "class_name": cls, "name": name, "time_limit": limit,
            "limit_type": ltype, "filing_condition": filing, "closing_condition": closing,
            "route_org_code": f"{COUNTY}-P{org}" if org else "", "service_code": code,
            "active": "true", "source": "synthetic",
            "source_note": NOTE_FIRST if i == 0 else NOTE_CATEGORY})
    return rows
