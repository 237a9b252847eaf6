"""What members and units actually do: check-ins at compounds (党员进社区报到), hours added by
hand, practice-site activities, monthly accounts (报账), supervision demands (要账), and the key
tasks' milestones and progress.

Check-ins are a member's movements: their positions are personal data, never published, shown
only to admins, and reduced to the compound and the day after the retention period. They are
partitioned by county, and each county's partition by month, so old months can be detached.
"""

from __future__ import annotations

from sqlalchemy import (Column, Date, DateTime, Float, Integer, MetaData, Table, Text,
                        func)
from sqlalchemy.dialects.postgresql import ARRAY

from gridgov.layers.base import COUNTY, PROVENANCE, Field, Layer

CHECKIN_KINDS = ("report", "service")  # 报到, 服务
CHECKIN_STATUSES = ("valid", "flagged", "approved", "rejected")
CHECKIN_FLAGS = ("accuracy", "mocked", "speed", "fence", "short", "auto_checkout")


class Checkins(Layer):
    def define(self, metadata: MetaData) -> Table:
        """The check-ins' table, and the verified visits kept per month beside it."""
        table = super().define(metadata)
        # Verified visits (valid or approved, checked out) per county, Beijing-time month,
        # compound and the organization the member checked in for: the days visited (bit d-1
        # for day d), the visits, hours and last check-in, and who visited. Kept so that a
        # month of a province (about a million check-ins) is read as some 16,000 rows: kept per
        # (county, month) listed in checkin_visits_state, forgotten when a write marks one of
        # its days in changed_days (changes_by below), recomputed when next read
        # (gridgov.activity.checkins.keep_visits). Assignments are not applied here: coverage
        # applies them when it reads, so a scenario's assignments count.
        Table(
            "checkin_visits", metadata,
            Column("month", Date, primary_key=True),  # its first day; months are read whole
            Column("county_code", Text, primary_key=True),
            Column("compound_code", Text, primary_key=True),
            Column("org_code", Text, primary_key=True),
            Column("days", Integer, nullable=False),
            Column("visits", Integer, nullable=False),
            Column("hours", Float(53), nullable=False),
            Column("last_at", DateTime(timezone=True), nullable=False),
            Column("members", ARRAY(Text), nullable=False),  # member codes, sorted
            # the compound's month, whatever the organization: rows (organizations) and members,
            # so that the members of a compound all of whose visits count need no counting
            Column("compound_orgs", Integer, nullable=False),
            Column("compound_members", Integer, nullable=False),
        )
        Table(
            "checkin_visits_state", metadata,
            Column("county_code", Text, primary_key=True),
            Column("month", Date, primary_key=True),
            Column("computed_at", DateTime(timezone=True), nullable=False,
                   server_default=func.now()),
        )
        return table


CHECKINS = Checkins(
    "checkins", "党员报到打卡", ("member_code", "checked_in_at"), "Point", False,
    (
        Field("member_code", required=True, references="members", aliases=("党员编码",),
              shp="member"),
        COUNTY,
        Field("org_code", references="party_orgs", aliases=("党组织编码",)),
        Field("compound_code", required=True, references="compounds", aliases=("小区编码",),
              shp="cmpd_code"),
        Field("kind", default="service", choices=CHECKIN_KINDS, aliases=("类型",)),
        Field("checked_in_at", type="datetime", required=True, aliases=("签到时间",),
              shp="in_at"),
        Field("checked_out_at", type="datetime", aliases=("签退时间",), shp="out_at"),
        Field("auto_checkout", type="bool", default="false", shp="auto_out"),
        Field("accuracy_m", type="float", aliases=("定位精度",), shp="accuracy"),
        Field("client_crs", default="wgs84", choices=("wgs84", "gcj02", "bd09"), shp="crs"),
        Field("mocked", type="bool", default="false"),
        Field("distance_m", type="float", shp="dist_m"),  # from the compound's outline
        Field("speed_kmh", type="float", shp="speed"),  # implied from the previous check-in
        Field("flags", type="json"),
        Field("status", default="valid", choices=CHECKIN_STATUSES, aliases=("状态",)),
        Field("hours", type="float", default="0"),
        Field("photo_sha256", shp="photo"),
        Field("decided_by", shp="decider"),
        Field("decided_at", type="datetime", shp="decided"),
        Field("decision_note", shp="dec_note"),
        # after the retention period the position is gone: compound and day are what remain
        Field("reduced", type="bool", default="false"),
        *PROVENANCE,
    ),
    description="Members' check-ins at compounds; positions are personal data (admins only)",
    id_column="id",
    checks=(("period", "checked_out_at IS NULL OR checked_out_at >= checked_in_at"),
            ("hours", "hours >= 0")),
    partitioned=True, partition_months="checked_in_at", published=False,
    personal_geometry=True,
    changes_by="checked_in_at",  # the visits kept per month (checkin_visits)
)

HOURS_ADDED = Layer(
    "hours_added", "手工补录时长", ("member_code", "day", "added_at"), None, False,
    (
        Field("member_code", required=True, references="members", aliases=("党员编码",)),
        COUNTY,
        Field("org_code", references="party_orgs", aliases=("党组织编码",)),
        Field("compound_code", references="compounds", aliases=("小区编码",)),
        Field("day", type="date", required=True, aliases=("日期",)),
        Field("hours", type="float", required=True, aliases=("时长",)),
        Field("reason", required=True, aliases=("原因", "事由")),
        Field("added_by", required=True, aliases=("补录人",)),
        Field("added_at", type="datetime", default_sql="now()"),
        *PROVENANCE,
    ),
    description="Hours added by hand, capped, with reason and who added them; kept apart from "
                "verified hours",
    id_column="id", checks=(("hours", "hours > 0 AND hours <= 24"),),
    audited=True, published=False,
)

ACTIVITIES = Layer(
    "activities", "文明实践活动", ("code",), None, False,
    (
        Field("code", required=True, aliases=("编码", "活动编码")),
        COUNTY,
        Field("site_code", required=True, references="practice_sites", aliases=("阵地编码",)),
        Field("theme", required=True, aliases=("主题", "活动主题")),
        Field("held_on", type="date", required=True, aliases=("日期", "活动日期")),
        Field("org_code", references="party_orgs", aliases=("组织单位", "党组织编码")),
        Field("participants", type="int", default="0", aliases=("参与人数",), shp="people"),
        Field("volunteer_hours", type="float", default="0", aliases=("志愿服务时长",),
              shp="vol_hours"),
        Field("description", aliases=("内容", "活动内容"), shp="descr"),
        Field("photo_sha256", shp="photo"),
        *PROVENANCE,
    ),
    description="Practice-site activities: theme, date, organizing unit, participants, hours",
    checks=(("counts", "participants >= 0 AND volunteer_hours >= 0"),),
    audited=True,
)

ACCOUNT_STATUSES = ("draft", "submitted")
ACCOUNTS = Layer(
    "accounts", "报账", ("org_code", "month"), None, False,
    (
        Field("org_code", required=True, references="party_orgs", aliases=("党组织编码",)),
        COUNTY,
        Field("month", type="date", required=True, aliases=("月份",)),  # first day of the month
        Field("prefilled", type="json"),  # visits, hours, cases, activities, key tasks
        Field("narrative", aliases=("工作情况", "说明")),
        Field("status", default="draft", choices=ACCOUNT_STATUSES, aliases=("状态",)),
        Field("due_at", type="datetime"),
        Field("submitted_at", type="datetime", aliases=("提交时间",)),
        Field("submitted_by"),
        *PROVENANCE,
    ),
    description="Monthly accounts (自下而上报账), prefilled from the data, completed by the unit",
    id_column="id",
    checks=(("month", "extract(day FROM month) = 1"),),
    audited=True, row_versions=True,
)

DEMAND_STATUSES = ("open", "answered", "closed")
DEMANDS = Layer(
    "demands", "要账督办", ("code",), None, False,
    (
        Field("code", required=True, aliases=("编码", "督办编号")),
        COUNTY,
        Field("org_code", references="party_orgs", aliases=("责任单位",)),
        Field("work_group_code", references="work_groups", aliases=("工作组编码",)),
        Field("title", required=True, aliases=("标题", "督办事项")),
        Field("body", aliases=("内容", "要求")),
        Field("issued_at", type="datetime", required=True, aliases=("下发时间",)),
        Field("due_at", type="datetime", required=True, aliases=("办理时限",)),
        Field("answered_at", type="datetime", aliases=("回复时间",)),
        Field("answer", aliases=("回复",)),
        Field("status", default="open", choices=DEMAND_STATUSES, aliases=("状态",)),
        *PROVENANCE,
    ),
    description="Supervision demands (自上而下要账) to an organization or a work group",
    checks=(("addressee", "org_code IS NOT NULL OR work_group_code IS NOT NULL"),),
    audited=True, row_versions=True,
)

MILESTONES = Layer(
    "key_task_milestones", "重点任务节点", ("task_code", "seq"), None, False,
    (
        Field("task_code", required=True, references="key_tasks", aliases=("任务编码",)),
        COUNTY,
        Field("seq", type="smallint", required=True, aliases=("序号",)),
        Field("name", required=True, aliases=("节点", "名称")),
        Field("due_on", type="date", required=True, aliases=("计划完成",)),
        Field("done_on", type="date", aliases=("实际完成",)),
        *PROVENANCE,
    ),
    description="Milestones of the 12 key tasks, with dates",
    id_column="id", audited=True,
)

PROGRESS = Layer(
    "key_task_progress", "重点任务进展", ("task_code", "org_code", "reported_on"), None, False,
    (
        Field("task_code", required=True, references="key_tasks", aliases=("任务编码",)),
        COUNTY,
        Field("org_code", required=True, references="party_orgs", aliases=("责任单位",)),
        Field("reported_on", type="date", required=True, aliases=("报告日期",)),
        Field("percent", type="float", required=True, aliases=("完成比例", "进度")),
        Field("note", aliases=("说明",)),
        Field("evidence", type="json"),  # {"activities": [...], "cases": [...], "accounts": [...]}
        *PROVENANCE,
    ),
    description="Progress of each responsible unit on a key task, with evidence linked",
    id_column="id", checks=(("percent", "percent >= 0 AND percent <= 100"),), audited=True,
)

LAYERS = (CHECKINS, HOURS_ADDED, ACTIVITIES, ACCOUNTS, DEMANDS, MILESTONES, PROGRESS)
