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

from gridgov.errors import Conflict, InputError, NotFound, Problem
from gridgov.layers import get_layer

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


# --- versioned edits (the API's, with optimistic concurrency) ---------------------------------

def _versioned(table: str):
    layer = get_layer(table)
    if not layer.row_versions:
        raise NotFound(f"{table} records are not edited one by one")
    return layer


def set_actor(conn: Connection, actor: str) -> None:
    """Name who writes in this transaction; the audit trigger records it."""
    conn.execute(text("SELECT set_config('gridgov.actor', :a, true)"), {"a": actor})


def current(conn: Connection, table: str, key) -> dict:
    """A versioned record as a dict (with lon/lat for located records)."""
    layer = _versioned(table)
    cols = [layer.record_id] * bool(layer.id_column) + [f.name for f in layer.attributes]
    extra = ", ST_X(geom) AS lon, ST_Y(geom) AS lat" if layer.geometry == "Point" else ""
    row = conn.execute(text(f"SELECT {', '.join(cols)}, version{extra} FROM {layer.table} "
                            f"WHERE {layer.record_id} = :k"), {"k": key}).mappings().first()
    if row is None:
        raise NotFound(f"no {table} record {key!r}")
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in row.items()}


def _check_version(conn: Connection, table: str, key, expected: int) -> dict:
    row = current(conn, table, key)
    if row["version"] != expected:
        raise Conflict(f"{table} {key} is at version {row['version']}, not {expected}: someone "
                       "changed it since you read it", row)
    return row


def end_assignment_versioned(conn: Connection, assignment_id: int, valid_to: dt.date,
                             expected_version: int) -> dict:
    row = _check_version(conn, "assignments", assignment_id, expected_version)
    if row["valid_to"] is not None:
        raise InputError([Problem("edit", None, "valid_to", f"assignment {assignment_id} already "
                                  f"ended on {row['valid_to']}")])
    if valid_to <= dt.date.fromisoformat(row["valid_from"]):
        raise InputError([Problem("edit", None, "valid_to", f"must be after {row['valid_from']}")])
    conn.execute(text("UPDATE assignments SET valid_to = :t, version = version + 1, "
                      "updated_at = now() WHERE id = :i AND version = :v"),
                 {"t": valid_to, "i": assignment_id, "v": expected_version})
    return current(conn, "assignments", assignment_id)


def update_versioned(conn: Connection, table: str, code: str, changes: dict,
                     expected_version: int) -> dict:
    """Change a site's or an organization's fields (and lon/lat) if still at ``expected_version``."""
    layer = _versioned(table)
    allowed = set(layer.editable)
    unknown = set(changes) - allowed - {"lon", "lat"}
    if unknown:
        raise InputError([Problem("edit", None, sorted(unknown)[0],
                                  f"cannot change {', '.join(sorted(unknown))}; allowed: "
                                  f"{', '.join(sorted(allowed | {'lon', 'lat'}))}")])
    _check_version(conn, table, code, expected_version)
    sets, params = [], {"c": code, "v": expected_version}
    for name in sorted(set(changes) & allowed):
        sets.append(f"{name} = :{name}")
        params[name] = changes[name]
    if ("lon" in changes or "lat" in changes) and layer.geometry != "Point":
        raise InputError([Problem("edit", None, "lon", f"{table} records have no point to move")])
    if "lon" in changes or "lat" in changes:
        if not ("lon" in changes and "lat" in changes):
            raise InputError([Problem("edit", None, "lon", "give both lon and lat")])
        lon, lat = float(changes["lon"]), float(changes["lat"])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise InputError([Problem("edit", None, "lon", "lon/lat out of range")])
        sets.append("geom = ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)")
        params.update(lon=lon, lat=lat)
    if not sets:
        raise InputError([Problem("edit", None, None, "nothing to change")])
    conn.execute(text(f"UPDATE {layer.table} SET {', '.join(sets)}, version = version + 1, "
                      f"updated_at = now() WHERE code = :c AND version = :v"), params)
    return current(conn, table, code)
