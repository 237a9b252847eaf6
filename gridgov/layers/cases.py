"""What residents and communities raise: case categories and cases (随手拍 reports, community
whistles, 12345 orders), routed to the responsible unit and tracked to closure.

Categories follow city grid systems: a 2-digit class and a 2-digit subclass, 事件 (events) and
部件 (components), each with its time limit and limit type. Cases are partitioned by county (a
province in one PostGIS); their lifecycle is in gridgov.cases, their history in case_events.
"""

from __future__ import annotations

from sqlalchemy import Index

from gridgov.layers.base import COUNTY, PROVENANCE, Field, Layer, TileSpec

LIMIT_TYPES = ("urgent_hours", "working_hours", "working_days", "natural_days")
CHANNELS = ("resident", "grid_worker", "member", "whistle", "hotline", "import")
# 受理 → 立案 → 派遣 → 签收(处置) → 反馈 → 核查 → 结案; 退回, 挂起, 不予立案, 重复 beside them
STATUSES = ("received", "filed", "dispatched", "signed", "handled", "closed", "returned",
            "suspended", "rejected", "duplicate")
UNIT_KINDS = ("org", "division", "township")
ROUTING_RULES = ("override", "compound", "grid_cell", "division", "township", "manual")



class CaseCategories(Layer):
    def derive(self, rec):
        if not rec.get("service_code") and rec.get("code"):
            rec["service_code"] = rec["code"]  # Open311 clients see the category code

    def row_problems(self, rec):
        if rec.get("time_limit") is not None and rec["time_limit"] <= 0:
            yield "time_limit", f"{rec['time_limit']} is not a positive time limit"


class Cases(Layer):
    def schema_extras(self, table):
        # what is due when: the KPIs of a period, the deadline watch
        yield Index("ix_cases_handle_due", table.c.handle_due)

    def row_problems(self, rec):
        if rec.get("satisfaction") is not None and not 1 <= rec["satisfaction"] <= 5:
            yield "satisfaction", f"{rec['satisfaction']} is not a rating from 1 to 5"
        if rec.get("closed_at") and rec.get("reported_at") and \
                rec["closed_at"] < rec["reported_at"]:
            yield "closed_at", f"closed ({rec['closed_at']}) before it was reported " \
                               f"({rec['reported_at']})"

    def after_write(self, conn, records):
        """Imported cases are routed and their deadlines set, in bulk (gridgov.cases)."""
        from gridgov.cases import intake

        intake.settle_imported(conn, [r["code"] for r in records],
                               sorted({r["county_code"] for r in records}))
        # imported codes in the intake's own shape (COUNTY-YYYYMMDD-N) must never be drawn
        # again: the sequence moves past the largest N imported
        numbers = [int(c.rsplit("-", 1)[1]) for c in (r["code"] for r in records)
                   if c.count("-") == 2 and c.rsplit("-", 1)[1].isdigit()]
        if numbers:
            from sqlalchemy import text

            conn.execute(text("SELECT setval('case_numbers', greatest(:n, (SELECT last_value "
                              "FROM case_numbers)))"), {"n": max(numbers)})


CASE_CATEGORIES = CaseCategories(
    "case_categories", "问题类别", ("code",), None, False,
    (
        Field("code", required=True, pattern=r"\d{4}", aliases=("编码", "类别编码", "小类编码")),
        Field("kind", required=True, choices=("event", "component"), aliases=("类型",)),
        Field("class_name", required=True, aliases=("大类", "大类名称"), shp="class"),
        Field("name", required=True, aliases=("名称", "小类", "小类名称")),
        Field("time_limit", type="float", required=True, aliases=("处置时限",), shp="limit"),
        Field("limit_type", required=True, choices=LIMIT_TYPES, aliases=("时限类型",),
              shp="limit_type"),
        Field("filing_condition", aliases=("立案条件",), shp="filing"),
        Field("closing_condition", aliases=("结案条件",), shp="closing"),
        # a county department that takes every case of this category (部件 such as street lights)
        Field("route_org_code", references="party_orgs", aliases=("指定责任单位",),
              shp="route_org"),
        Field("service_code", not_null=True, aliases=("服务编码",), shp="svc_code"),
        Field("active", type="bool", default="true", aliases=("启用",)),
        *PROVENANCE,
    ),
    description="Case categories: 2-digit class + 2-digit subclass, time limit and limit type",
    checks=(("code_format", r"code ~ '^\d{4}$'"), ("time_limit", "time_limit > 0")),
    unique=(("service_code", ("service_code",)),),
    derived=("service_code",),
    audited=True, row_versions=True,
    editable=("name", "time_limit", "limit_type", "filing_condition", "closing_condition",
              "route_org_code", "active"),
)

CASES = Cases(
    "cases", "事件工单", ("code",), "Point", True,
    (
        Field("code", required=True, aliases=("编号", "工单编号", "工单号")),
        COUNTY,
        Field("channel", default="import", choices=CHANNELS, aliases=("渠道", "来源渠道")),
        Field("category_code", required=True, references="case_categories",
              aliases=("类别编码", "问题类别编码"), shp="category"),
        Field("description", required=True, aliases=("问题描述", "诉求内容", "描述"), shp="descr"),
        Field("address", aliases=("地址", "事发地址")),
        Field("reported_at", type="datetime", required=True,
              aliases=("上报时间", "受理时间", "来电时间"), shp="reported"),
        Field("reporter_name", aliases=("联系人", "反映人", "来电人"), personal="name",
              shp="rep_name"),
        Field("reporter_phone", pattern=r"\+?\d{7,15}", aliases=("联系电话", "来电号码"),
              personal="phone", shp="rep_phone"),
        Field("reporter_account", aliases=("账号",), personal="account", shp="rep_acct"),
        Field("anonymous", type="bool", default="false", aliases=("匿名",)),
        Field("status", default="received", choices=STATUSES, aliases=("状态",)),
        # the responsible unit: an organization, else the community/village or township
        Field("unit_kind", choices=UNIT_KINDS, aliases=("责任主体类型",)),
        Field("unit_code", aliases=("责任单位编码",)),
        Field("co_units", type="json"),  # the other organizations assigned to the compound
        Field("routing_rule", choices=ROUTING_RULES, aliases=("派遣依据",), shp="rule"),
        Field("routing_note", aliases=("派遣说明",), shp="rule_note"),
        Field("near_boundary", type="bool", default="false", shp="boundary"),
        # where it lies (kept for per-compound, per-community and per-township figures)
        Field("compound_code", references="compounds", aliases=("小区编码",), shp="cmpd_code"),
        Field("grid_cell_code", references="grid_cells", aliases=("网格编码",), shp="grid_code"),
        Field("division_code", references="divisions", aliases=("村社区编码",), shp="div_code"),
        Field("township_code", references="townships", aliases=("乡镇编码",), shp="town_code"),
        # the deadline of each stage (one working-time calendar: gridgov.calendar)
        Field("dispatch_due", type="datetime", shp="disp_due"),
        Field("sign_due", type="datetime"),
        Field("handle_due", type="datetime", aliases=("办理时限",), shp="hdl_due"),
        Field("warn_at", type="datetime"),  # 80 % of the handling limit: the warning
        Field("check_due", type="datetime", shp="chk_due"),
        Field("dispatched_at", type="datetime", aliases=("派遣时间",), shp="disp_at"),
        Field("signed_at", type="datetime", aliases=("签收时间",)),
        Field("handled_at", type="datetime", aliases=("办结时间", "反馈时间"), shp="hdl_at"),
        Field("closed_at", type="datetime", aliases=("结案时间",)),
        # the clock stops while a case is suspended (挂起)
        Field("paused_at", type="datetime"),
        Field("paused_hours", type="float", default="0", shp="paused_h"),
        Field("rework_count", type="smallint", default="0", aliases=("返工次数",), shp="reworks"),
        Field("return_count", type="smallint", default="0", aliases=("退回次数",), shp="returns"),
        Field("reopen_count", type="smallint", default="0", shp="reopens"),
        Field("duplicate_of", references="cases", aliases=("重复工单",), shp="dup_of"),
        Field("satisfaction", type="smallint", aliases=("满意度",), shp="satisfied"),
        *PROVENANCE,
    ),
    description="Cases: 随手拍 reports, community whistles, 12345 orders; reporters' contacts "
                "are personal data and never published",
    checks=(("satisfaction", "satisfaction IS NULL OR satisfaction BETWEEN 1 AND 5"),),
    partitioned=True, audited=False, row_versions=True,
    changes_by="handle_due",  # the KPIs kept per past period (gridgov.cases.kpis)
    tiles=(TileSpec(
        "cases", "事件工单",
        "code, category_code, status, channel, unit_code, reported_at::text AS reported_at, "
        "(closed_at IS NULL AND handle_due < now()) AS overdue",
        where="status NOT IN ('closed', 'rejected', 'duplicate')", minzoom=10),),
)

LAYERS = (CASE_CATEGORIES, CASES)
