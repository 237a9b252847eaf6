"""Who is responsible: work groups, the Party organizations of county bodies, their in-service
members, their assignments to compounds (包联, with full history) and the key tasks."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import Index, func, text

from gridgov.errors import Problem
from gridgov.layers.base import COUNTY, PROVENANCE, Field, Layer, Link, TileSpec


class Assignments(Layer):
    def schema_extras(self, table):
        # "what was active on day D" is the question every analysis asks of assignments.
        # (The exclusion constraint against overlapping periods is in migration 0001: Alembic
        # neither reflects nor compares exclusion constraints.)
        yield Index("ix_assignments_period",
                    func.daterange(table.c.valid_from, table.c.valid_to, "[)"),
                    postgresql_using="gist")

    def row_problems(self, rec):
        if rec.get("valid_to") and rec.get("valid_from") and rec["valid_to"] <= rec["valid_from"]:
            yield "valid_to", f"ends ({rec['valid_to']}) on or before it starts " \
                              f"({rec['valid_from']})"

    def rows_problems(self, conn, records, rows, file):
        """Periods of the same org, compound and kind must not overlap, in the file or with the
        stored ones."""
        problems = []
        by_pair: dict[tuple, list] = defaultdict(list)
        for rec, row_no in zip(records, rows):
            if rec.get("org_code") and rec.get("compound_code") and rec.get("valid_from"):
                by_pair[(rec["org_code"], rec["compound_code"], rec.get("kind") or "unit")].append(
                    (rec["valid_from"], rec.get("valid_to"), row_no))
        if not by_pair:
            return problems
        existing = conn.execute(text(
            "SELECT org_code, compound_code, kind, valid_from, valid_to FROM assignments "
            "WHERE org_code = ANY(:orgs)"), {"orgs": sorted({k[0] for k in by_pair})}).all()
        for org, compound, kind, start, end in existing:
            key = (org, compound, kind)
            if key in by_pair:
                # the same natural key is an update of that row, not a second period
                by_pair[key] = by_pair[key] + [(start, end, None)]
        far = dt.date.max
        for key, periods in by_pair.items():
            periods.sort(key=lambda p: (p[0], p[2] is not None))
            for (s1, e1, r1), (s2, _, r2) in zip(periods, periods[1:]):
                if s1 == s2 and (r1 is None or r2 is None):
                    continue
                if s2 < (e1 or far):
                    row = r2 if r2 is not None else r1
                    other = f"row {r1}" if r1 is not None and r2 is not None else \
                        "a stored assignment"
                    problems.append(Problem(
                        file, row, "valid_from",
                        f"org {key[0]} already holds compound {key[1]} ({key[2]}) from {s1} to "
                        f"{e1 or 'open end'} ({other}); end that assignment first"))
        return problems


WORK_GROUPS = Layer(
    "work_groups", "工作组", ("code",), None, False,
    (
        Field("code", required=True, aliases=("编码",)),
        COUNTY,
        Field("name", required=True, aliases=("名称",)),
        Field("duty", aliases=("职责",)),
        *PROVENANCE,
    ),
    unique=(("county_name", ("county_code", "name")),),
)

PARTY_ORGS = Layer(
    "party_orgs", "机关党组织", ("code",), "Point", False,
    (
        Field("code", required=True, aliases=("编码", "党组织编码")),
        COUNTY,
        Field("name", required=True, aliases=("名称", "党组织名称")),
        Field("parent_body", aliases=("所属单位",), shp="parent_bd"),
        Field("member_count", type="int", required=True, aliases=("党员数", "在职党员数"),
              shp="n_members"),
        Field("work_group_code", references="work_groups", aliases=("工作组编码",),
              shp="wg_code"),
        *PROVENANCE,
    ),
    description="Party organizations of county bodies; the geometry is the office location",
    checks=(("member_count", "member_count >= 0"),),
    unique=(("county_name", ("county_code", "name")),),
    audited=True, row_versions=True,
    editable=("name", "parent_body", "member_count", "work_group_code"),
    tiles=(TileSpec("offices", "机关党组织驻地", "code, name, parent_body, member_count",
                    where="geom IS NOT NULL"),),
)

MEMBERS = Layer(
    "members", "在职党员", ("code",), None, False,
    (
        Field("code", required=True, aliases=("编码", "党员编码")),
        Field("org_code", required=True, references="party_orgs", aliases=("党组织编码",)),
        Field("compound_code", references="compounds", aliases=("小区编码",), shp="cmpd_code"),
        COUNTY,
        Field("name", required=True, aliases=("姓名",), personal="name"),
        Field("phone", pattern=r"\d{11}", aliases=("电话", "手机", "手机号"), personal="phone"),
        *PROVENANCE,
    ),
    checks=(("phone_format", r"phone IS NULL OR phone ~ '^\d{11}$'"),),
    # The roster is served only at /members, under the personal-data rules (gridgov.auth).
    published=False, audited=True,
)

ASSIGNMENTS = Assignments(
    "assignments", "包联", ("org_code", "compound_code", "kind", "valid_from"), None, False,
    (
        Field("org_code", required=True, references="party_orgs", aliases=("党组织编码",)),
        Field("compound_code", required=True, references="compounds", aliases=("小区编码",),
              shp="cmpd_code"),
        COUNTY,
        Field("kind", default="unit", choices=("unit", "leader", "members"), aliases=("类型",)),
        Field("valid_from", type="date", required=True, aliases=("开始日期",)),
        Field("valid_to", type="date", aliases=("结束日期",)),
        # Members the organization commits to this compound; empty = an even share of the
        # members it has not committed elsewhere. A changed commitment is a new period.
        Field("members", type="int", aliases=("党员数",)),
        Field("note", aliases=("备注",)),
        *PROVENANCE,
    ),
    id_column="id",
    checks=(("kind", "kind IN ('unit', 'leader', 'members')"),
            ("period", "valid_to IS NULL OR valid_to > valid_from"),
            ("members", "members IS NULL OR members >= 0")),
    audited=True, row_versions=True,
)

KEY_TASKS = Layer(
    "key_tasks", "创城重点任务", ("code",), None, False,
    (
        Field("code", required=True, aliases=("编码",)),
        COUNTY,
        Field("name", required=True, aliases=("名称", "任务")),
        Field("work_group_code", references="work_groups", aliases=("工作组编码",), shp="wg_code"),
        # the responsible units, the lead unit first
        Field("responsible_orgs", type="codes", references="party_orgs", aliases=("责任单位",),
              shp="resp_orgs", link=Link("key_task_units", "task_code", "org_code")),
        *PROVENANCE,
    ),
)

LAYERS = (WORK_GROUPS, PARTY_ORGS, MEMBERS, ASSIGNMENTS, KEY_TASKS)
