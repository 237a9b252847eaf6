"""What the store holds, in the terms of the seed article's figures.

Example:
    >>> from datetime import date
    >>> from gridgov.db import connect_engine
    >>> f = inventory(connect_engine(), as_of=date(2026, 11, 28))   # GRIDGOV_DATABASE_URL
    >>> f["townships"], f["divisions"], f["compounds"], f["party_orgs"], f["members"]
    (6, 89, 107, 131, 2207)
    >>> f["demonstration_sites"], f["work_groups"], f["key_tasks"], f["compounds_covered"]
    (10, 7, 12, 107)
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, text

_SQL = text("""
SELECT
  (SELECT count(*) FROM counties  WHERE code = ANY(:c) OR :all)                    AS counties,
  (SELECT count(*) FROM townships WHERE county_code = ANY(:c) OR :all)             AS townships,
  (SELECT count(*) FROM divisions WHERE county_code = ANY(:c) OR :all)             AS divisions,
  (SELECT count(*) FROM divisions WHERE (county_code = ANY(:c) OR :all)
                                    AND village_rules_adopted)                     AS village_rules,
  (SELECT count(*) FROM compounds WHERE county_code = ANY(:c) OR :all)             AS compounds,
  (SELECT coalesce(sum(households), 0) FROM compounds
                                   WHERE county_code = ANY(:c) OR :all)            AS households,
  (SELECT count(*) FROM grid_cells WHERE county_code = ANY(:c) OR :all)            AS grid_cells,
  (SELECT count(*) FROM party_orgs WHERE county_code = ANY(:c) OR :all)            AS party_orgs,
  (SELECT coalesce(sum(member_count), 0) FROM party_orgs
                                   WHERE county_code = ANY(:c) OR :all)            AS members,
  (SELECT count(*) FROM members WHERE county_code = ANY(:c) OR :all)               AS roster,
  (SELECT count(*) FROM assignments WHERE (county_code = ANY(:c) OR :all)
      AND valid_from <= :d AND (valid_to IS NULL OR valid_to > :d))                AS active_assignments,
  (SELECT count(*) FROM compounds k WHERE (k.county_code = ANY(:c) OR :all) AND EXISTS (
      SELECT 1 FROM assignments a WHERE a.compound_code = k.code
        AND a.valid_from <= :d AND (a.valid_to IS NULL OR a.valid_to > :d)))      AS compounds_covered,
  (SELECT count(*) FROM party_orgs o WHERE (o.county_code = ANY(:c) OR :all) AND EXISTS (
      SELECT 1 FROM assignments a WHERE a.org_code = o.code
        AND a.valid_from <= :d AND (a.valid_to IS NULL OR a.valid_to > :d)))      AS orgs_sunk,
  (SELECT count(*) FROM practice_sites WHERE county_code = ANY(:c) OR :all)        AS practice_sites,
  (SELECT count(*) FROM practice_sites WHERE (county_code = ANY(:c) OR :all)
                                         AND demonstration)                        AS demonstration_sites,
  (SELECT count(*) FROM work_groups WHERE county_code = ANY(:c) OR :all)           AS work_groups,
  (SELECT count(*) FROM key_tasks WHERE county_code = ANY(:c) OR :all)             AS key_tasks
""")

LABELS_ZH = {
    "counties": "县", "townships": "乡镇", "divisions": "村/社区", "village_rules": "已纳入村规民约",
    "compounds": "城区小区", "households": "户数", "grid_cells": "网格", "party_orgs": "机关党组织",
    "members": "在职党员", "roster": "党员名册", "active_assignments": "有效包联",
    "compounds_covered": "已包联小区", "orgs_sunk": "已下沉党组织", "practice_sites": "文明实践阵地",
    "demonstration_sites": "示范点", "work_groups": "工作组", "key_tasks": "重点任务",
}


def inventory(engine: Engine, county_codes: list[str] | None = None,
              as_of: dt.date | None = None) -> dict[str, int]:
    """Counts of every layer (all counties, or those in ``county_codes``) as of a date."""
    params = {"c": county_codes or [], "all": not county_codes, "d": as_of or dt.date.today()}
    with engine.connect() as conn:
        row = conn.execute(_SQL, params).mappings().one()
    return {k: int(v) for k, v in row.items()}
