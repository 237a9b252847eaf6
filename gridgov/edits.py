"""Edits to assignments and sites, each on an open connection so the caller owns the transaction.

A scenario applies these inside a transaction it rolls back; the CLI and (later) the API commit them.
History is never overwritten: ending an assignment sets its ``valid_to``; changing the members an
organization commits is the end of one period and the start of the next.

A change, as scenarios store it, is a dict naming the operation:
    {"op": "end_assignment", "org_code": "141129-P001", "compound_code": "141129100001001"}
    {"op": "add_assignment", "org_code": "141129-P002", "compound_code": "...", "members": 6}
    {"op": "set_members", "org_code": "...", "compound_code": "...", "members": 4}
    {"op": "move_site", "code": "141129-S010", "lon": 111.2071, "lat": 37.3452}
    {"op": "add_site", "code": "141129-S900", "tier": "station", "name": "...",
     "division_code": "141129100003", "lon": 111.20, "lat": 37.33}
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, text

from gridgov.errors import InputError, NotFound, Problem

KINDS = ("unit", "leader", "members")


def _date(value, default: dt.date) -> dt.date:
    if value is None:
        return default
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _require(conn: Connection, table: str, code: str) -> None:
    if conn.execute(text(f"SELECT 1 FROM {table} WHERE code = :c"), {"c": code}).first() is None:
        raise NotFound(f"no {table} row with code {code!r}")


def add_assignment(conn: Connection, org_code: str, compound_code: str, *,
                   valid_from: dt.date, members: int | None = None, kind: str = "unit",
                   note: str | None = None, source: str = "edit") -> int:
    """A new assignment period from ``valid_from``; returns its id."""
    _require(conn, "party_orgs", org_code)
    _require(conn, "compounds", compound_code)
    if kind not in KINDS:
        raise InputError([Problem("change", None, "kind", f"{kind!r} is not one of {KINDS}")])
    if members is not None and members < 0:
        raise InputError([Problem("change", None, "members", f"{members} is negative")])
    overlap = conn.execute(text(
        "SELECT valid_from, valid_to FROM assignments WHERE org_code = :o AND compound_code = :c "
        "AND kind = :k AND daterange(valid_from, valid_to, '[)') && daterange(:f, NULL, '[)')"),
        {"o": org_code, "c": compound_code, "k": kind, "f": valid_from}).first()
    if overlap is not None:
        raise InputError([Problem("change", None, "valid_from",
                                  f"org {org_code} already holds compound {compound_code} from "
                                  f"{overlap[0]} to {overlap[1] or 'open end'}")])
    return conn.execute(text(
        "INSERT INTO assignments (org_code, compound_code, county_code, kind, valid_from, members,"
        " note, source) SELECT :o, :c, k.county_code, :k, :f, :m, :n, :s FROM compounds k "
        "WHERE k.code = :c RETURNING id"),
        {"o": org_code, "c": compound_code, "k": kind, "f": valid_from, "m": members, "n": note,
         "s": source}).scalar_one()


def end_assignment(conn: Connection, org_code: str, compound_code: str, *,
                   valid_to: dt.date, kind: str | None = None) -> int:
    """End the active period(s) of ``org_code`` at ``compound_code`` on ``valid_to``."""
    result = conn.execute(text(
        "UPDATE assignments SET valid_to = :t, updated_at = now(), version = version + 1 "
        "WHERE org_code = :o AND compound_code = :c AND (:k IS NULL OR kind = :k) "
        "AND valid_from < :t AND (valid_to IS NULL OR valid_to > :t)"),
        {"o": org_code, "c": compound_code, "k": kind, "t": valid_to})
    if result.rowcount == 0:
        raise NotFound(f"org {org_code} has no assignment to {compound_code} active on {valid_to}")
    return result.rowcount


def set_members(conn: Connection, org_code: str, compound_code: str, members: int, *,
                on: dt.date, kind: str = "unit") -> int:
    """Change the members committed: end the current period on ``on`` and start a new one."""
    end_assignment(conn, org_code, compound_code, valid_to=on, kind=kind)
    return add_assignment(conn, org_code, compound_code, valid_from=on, members=members, kind=kind)


def move_site(conn: Connection, code: str, lon: float, lat: float) -> None:
    result = conn.execute(text(
        "UPDATE practice_sites SET geom = ST_SetSRID(ST_MakePoint(:x, :y), 4326), "
        "updated_at = now(), version = version + 1 WHERE code = :c"),
        {"c": code, "x": float(lon), "y": float(lat)})
    if result.rowcount == 0:
        raise NotFound(f"no practice site with code {code!r}")


def add_site(conn: Connection, code: str, tier: str, name: str, lon: float, lat: float, *,
             county_code: str | None = None, township_code: str | None = None,
             division_code: str | None = None, demonstration: bool = False,
             source: str = "edit") -> None:
    if division_code and not township_code:
        township_code = division_code[:9]
    county_code = county_code or (division_code or township_code or "")[:6] or None
    if not county_code:
        raise InputError([Problem("change", None, "county_code", "a new site needs its county")])
    conn.execute(text(
        "INSERT INTO practice_sites (code, county_code, tier, township_code, division_code, name,"
        " demonstration, geom, source) VALUES (:code, :county, :tier, :town, :div, :name, :demo,"
        " ST_SetSRID(ST_MakePoint(:x, :y), 4326), :source)"),
        {"code": code, "county": county_code, "tier": tier, "town": township_code,
         "div": division_code, "name": name, "demo": demonstration, "x": float(lon),
         "y": float(lat), "source": source})


def apply_change(conn: Connection, change: dict[str, Any], on: dt.date) -> None:
    """Apply one change dict (see the module docstring)."""
    change = dict(change)
    op = change.pop("op", None)
    try:
        if op == "add_assignment":
            add_assignment(conn, change["org_code"], change["compound_code"],
                           valid_from=_date(change.get("valid_from"), on),
                           members=change.get("members"), kind=change.get("kind", "unit"),
                           note=change.get("note"), source=change.get("source", "scenario"))
        elif op == "end_assignment":
            end_assignment(conn, change["org_code"], change["compound_code"],
                           valid_to=_date(change.get("valid_to"), on), kind=change.get("kind"))
        elif op == "set_members":
            set_members(conn, change["org_code"], change["compound_code"], int(change["members"]),
                        on=_date(change.get("on"), on), kind=change.get("kind", "unit"))
        elif op == "move_site":
            move_site(conn, change["code"], change["lon"], change["lat"])
        elif op == "add_site":
            add_site(conn, change["code"], change["tier"], change["name"], change["lon"],
                     change["lat"], county_code=change.get("county_code"),
                     township_code=change.get("township_code"),
                     division_code=change.get("division_code"),
                     demonstration=bool(change.get("demonstration", False)), source="scenario")
        else:
            raise InputError([Problem("change", None, "op", f"unknown operation {op!r}; use "
                                      "add_assignment, end_assignment, set_members, move_site or "
                                      "add_site")])
    except KeyError as exc:
        raise InputError([Problem("change", None, str(exc.args[0]),
                                  f"{op} needs the field {exc.args[0]!r}")]) from None
