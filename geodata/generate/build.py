"""Runs the layers in order, writes the bundle, checks what it wrote, and (main) prints a summary.

The order matters only where a layer uses another's result (the geography first, then compounds,
organisations, practice sites, roads, cases, check-ins, activities, then the accounts, demands and
key-task milestones and progress that refer to them): every layer draws from its own random
stream (common.rng_for), so the order of the calls does not change what any layer draws.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from .activities import activity_rows, build_activities
from .case_categories import category_rows
from .cases import build_cases, case_rows
from .check import self_check
from .checkins import build_checkins, checkin_rows
from .compounds import build_compounds, compound_features
from .divisions import build_geography, county_features, division_features, township_features
from .grid_cells import cell_features
from .organizations import build_assignments, build_members, build_orgs, org_features
from .practice_sites import build_practice_sites, site_features
from .roads import build_roads, road_features
from .sources import load_divisions
from .summary import summarize
from .supervision import (account_rows, build_accounts, build_demands, build_milestones,
                          build_progress, demand_rows, milestone_rows, progress_rows)
from .tasks import key_task_rows, work_group_rows
from .write import write_bundle

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "zhongyang"


def build(out: Path = DEFAULT_OUT) -> dict:
    """Generate every layer, write the bundle into out, check it and return what self_check
    read back ({"L": geojson layers, "C": csv tables})."""
    divisions = load_divisions()
    geo = build_geography(divisions)
    compounds, others = build_compounds(geo)
    orgs = build_orgs(others, geo)
    assignments = build_assignments(orgs, compounds)
    members = build_members(orgs, assignments, compounds)
    sites = build_practice_sites(geo, divisions, compounds, others)
    roads = build_roads(geo, compounds, others)
    cases = build_cases(geo, divisions, compounds, others, orgs, assignments, members, roads)
    checkins = build_checkins(compounds, orgs, assignments, members)
    activities = build_activities(sites, orgs, assignments, compounds)
    key_tasks = key_task_rows(orgs)
    milestones = build_milestones(key_tasks)
    accounts = build_accounts(orgs, members, checkins, activities)
    demands = build_demands(orgs, compounds, assignments, checkins, accounts, key_tasks,
                            milestones)
    progress = build_progress(key_tasks, accounts, activities)
    write_bundle(out, {
        "counties.geojson": county_features(geo),
        "townships.geojson": township_features(geo, divisions),
        "divisions.geojson": division_features(geo, divisions),
        "compounds.geojson": compound_features(compounds),
        "grid_cells.geojson": cell_features(geo.cells),
        "party_orgs.geojson": org_features(orgs),
        "members.csv": members,
        "assignments.csv": assignments,
        "practice_sites.geojson": site_features(sites),
        "work_groups.csv": work_group_rows(),
        "key_tasks.csv": key_tasks,
        "roads.geojson": road_features(roads),
        "case_categories.csv": category_rows(),
        "cases.csv": case_rows(cases),
        "checkins.csv": checkin_rows(checkins),
        "activities.csv": activity_rows(activities),
        "accounts.csv": account_rows(accounts),
        "demands.csv": demand_rows(demands),
        "key_task_milestones.csv": milestone_rows(milestones),
        "key_task_progress.csv": progress_rows(progress),
    })
    return self_check(out)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(
        description="Build the bundled Zhongyang County (中阳县, 141129) dataset for gridgov.")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = ap.parse_args(argv)
    summarize(build(args.out), args.out)
