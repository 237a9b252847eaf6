"""Open311 GeoReport v2 over the case library: the standard's services, requests and tokens are
translations of case categories and cases, not a second case model.

- A *service* is an active case category: ``service_code`` is the category's service code,
  ``service_name`` its Chinese name, ``group`` its class; no attributes (``metadata`` false).
- A *service request* is a case: ``service_request_id`` is the case code; ``status`` is
  ``closed`` for the case's 已结案, 不予立案 and 重复 (everything else is ``open``);
  ``status_notes`` the Chinese status and the latest note; ``agency_responsible`` the unit the
  routing chose; ``expected_datetime`` the handling deadline; times in Beijing time (+08:00).
- Filing goes through :func:`gridgov.cases.intake.file_report` (located, routed, its dispatch
  deadline set, logged); the standard's reporter fields map to the case's (first and last name to
  ``reporter_name``, ``phone`` to ``reporter_phone``, ``account_id`` or ``email`` to
  ``reporter_account``). A request needs ``lat``/``long`` (WGS84): routing needs a point.
- Reporters' names, phones and accounts are shown to admins only; nobody else sees them, in any
  form (``personal=True`` is the caller's decision, made from the principal).
- A *token* is the case code with an HMAC of it under the service's secret: unguessable, and
  it needs no table.

Example:
    >>> open_status("dispatched"), open_status("rejected")
    ('open', 'closed')
    >>> start, end = window(None, None, now=dt.datetime(2026, 11, 28, tzinfo=dt.timezone.utc))
    >>> (end - start).days
    90
    >>> window("2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z")
    Traceback (most recent call last):
    ...
    gridgov.errors.InvalidParameter: end_date: start_date and end_date may span at most 90 days
    >>> t = token("141129-20261128-000001", "s3cret")
    >>> code_of(t, "s3cret"), code_of(t, "other secret")
    ('141129-20261128-000001', None)
    >>> print(to_xml("errors", [{"code": 404, "description": "没有这个请求"}]).decode())
    <?xml version="1.0" encoding="utf-8"?>
    <errors><error><code>404</code><description>没有这个请求</description></error></errors>
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import math
import re
import xml.etree.ElementTree as ET
from typing import Any, Iterable, Mapping
from urllib.parse import quote

from sqlalchemy import Connection, text

from gridgov.auth import Principal
from gridgov.calendar import SHANGHAI
from gridgov.cases import intake, lifecycle
from gridgov.errors import InputError, InvalidParameter, NotFound, Problem
from gridgov.settings import CaseSettings

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-28T00:00:00+08:00"  # when this endpoint's behaviour last changed
FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
MAX_REQUESTS = 1000
WINDOW = dt.timedelta(days=90)
CLOSED = ("closed", "rejected", "duplicate")
MEDIA_EVENT = "media_url"  # the case event that keeps a media_url given at filing (not fetched)
# XML: the element of each member of a list element (GeoReport v2 and Service Discovery)
GROUPS = {"services": "service", "service_requests": "request", "errors": "error",
          "endpoints": "endpoint", "formats": "format", "attributes": "attribute",
          "values": "value"}
KIND_ZH = {"event": "事件", "component": "部件"}
PHONE = re.compile(r"\+?\d{7,15}")
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def open_status(status: str) -> str:
    """The standard's two statuses for the case's ten."""
    return "closed" if status in CLOSED else "open"


def _w3c(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds") if moment else None


# --- discovery and services ---------------------------------------------------------------------

def discovery(endpoint_url: str, contact: str, key_service: str) -> dict:
    """The Service Discovery document of the one (production) endpoint."""
    return {"changeset": CHANGESET, "contact": contact, "key_service": key_service,
            "max_requests": MAX_REQUESTS,
            "endpoints": [{"specification": SPECIFICATION, "url": endpoint_url,
                           "changeset": CHANGESET, "type": "production",
                           "formats": ["application/json", "text/xml"]}]}


def _service(row) -> dict:
    description = row.class_name + (f"：{row.closing_condition}" if row.closing_condition
                                     else f"：{row.name}")
    return {"service_code": row.service_code, "service_name": row.name,
            "description": description, "metadata": False, "type": "realtime",
            "keywords": ",".join(dict.fromkeys(
                k for k in (row.name, row.class_name, KIND_ZH.get(row.kind), row.code) if k)),
            "group": row.class_name}


_SERVICES = ("SELECT code, service_code, name, class_name, kind, closing_condition "
             "FROM case_categories WHERE active")


def services(conn: Connection) -> list[dict]:
    """Every active case category as a service, by category code."""
    return [_service(r) for r in conn.execute(text(_SERVICES + " ORDER BY code"))]


def service_definition(conn: Connection, service_code: str) -> dict:
    """A service's definition: it asks for no attributes beyond the standard's fields."""
    row = conn.execute(text(_SERVICES + " AND service_code = :c"), {"c": service_code}).first()
    if row is None:
        raise NotFound(f"service_code {service_code!r} not found (see services.json)")
    return {"service_code": row.service_code, "attributes": []}


def jurisdiction(conn: Connection, value: str | None) -> str | None:
    """The county a ``jurisdiction_id`` names (its code or name); None when not given."""
    value = (value or "").strip()
    if not value:
        return None
    code = conn.execute(text("SELECT code FROM counties WHERE code = :j OR name = :j "
                             "ORDER BY code LIMIT 1"), {"j": value}).scalar()
    if code is None:
        raise NotFound(f"jurisdiction_id {value!r} not found: give a county code such as "
                       "141129")
    return code


# --- tokens -------------------------------------------------------------------------------------

def _mac(code: str, secret: str) -> bytes:
    return hmac.new(secret.encode(), b"open311-token:" + code.encode(), hashlib.sha256).digest()


def token(code: str, secret: str) -> str:
    """The case code and 16 bytes of its HMAC, URL-safe: only this service can make one."""
    raw = code.encode() + _mac(code, secret)[:16]
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def code_of(value: str, secret: str) -> str | None:
    """The case code a token stands for, or None if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        code = raw[:-16].decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if len(raw) <= 16 or not hmac.compare_digest(raw[-16:], _mac(code, secret)[:16]):
        return None
    return code


def resolve_token(conn: Connection, value: str, secret: str) -> dict:
    code = code_of(value, secret)
    if code is None or not find(conn, ids=[code], limit=1):
        raise NotFound(f"token {value!r} not found")
    return {"service_request_id": code, "token": value}


# --- reading requests ---------------------------------------------------------------------------

def parse_time(value: str, name: str, *, end: bool = False) -> dt.datetime:
    """A W3C date or date-time; a date alone is the whole day in Beijing time, and so is a time
    without an offset (the standard wants one; Chinese clients often leave it out)."""
    # "+08:00" written into an address unencoded arrives as " 08:00"
    value = re.sub(r" (\d{2}:?\d{2})$", r"+\1", value.strip())
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            day = dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), SHANGHAI)
            return day + dt.timedelta(days=1, microseconds=-1) if end else day
        moment = dt.datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        raise InvalidParameter(name, f"{value!r} is not a W3C date-time such as "
                                     "2026-11-28T09:00:00+08:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)


def window(start_date: str | None, end_date: str | None,
           now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """The requested_datetime range: the last 90 days by default; at most 90 days."""
    start = parse_time(start_date, "start_date") if start_date else None
    end = parse_time(end_date, "end_date", end=True) if end_date else None
    try:
        if start is None and end is None:
            end = now or dt.datetime.now(dt.timezone.utc)
            start = end - WINDOW
        elif end is None:
            end = start + WINDOW
        elif start is None:
            start = end - WINDOW
    except OverflowError:
        raise InvalidParameter("start_date" if end_date is None else "end_date",
                               "out of the range of dates") from None
    if end < start:
        raise InvalidParameter("end_date", "end_date is before start_date")
    if end - start > WINDOW:
        raise InvalidParameter("end_date", "start_date and end_date may span at most 90 days")
    return start, end


def _counties_of(conn: Connection, codes: Iterable[str]) -> list[str] | None:
    """The counties named by case codes (COUNTY-YYYYMMDD-N from intake), so a query reads only
    their partitions; None when a code does not start with a known county (imported orders keep
    their own numbers)."""
    codes = list(codes)
    if not codes or not all(re.match(r"\d{6}-", c) for c in codes):
        return None
    prefixes = {c[:6] for c in codes}
    known = set(conn.execute(text("SELECT code FROM counties WHERE code = ANY(:p)"),
                             {"p": sorted(prefixes)}).scalars())
    return sorted(prefixes) if known == prefixes else None


# the newest cases first (sorted and cut inside, on cases alone), then their names, latest note
# and first photo: the lateral look-ups run for at most ``limit`` rows, however wide the window
_REQUESTS = """
SELECT c.*,
       CASE c.unit_kind WHEN 'org' THEN o.name WHEN 'division' THEN d.name
                        WHEN 'township' THEN t.name END AS agency,
       ev.note AS last_note, ph.sha256 AS photo, mu.note AS given_media_url
FROM (SELECT c.code, c.county_code, c.status, c.description, c.address, c.reported_at,
             c.updated_at, c.handle_due, c.routing_note, c.unit_kind, c.unit_code,
             ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, k.name AS service_name,
             k.service_code {personal}
        FROM cases c JOIN case_categories k ON k.code = c.category_code
       WHERE {where}
       ORDER BY c.reported_at DESC, c.code
       LIMIT :limit) c
LEFT JOIN party_orgs o ON c.unit_kind = 'org' AND o.code = c.unit_code
LEFT JOIN divisions d ON c.unit_kind = 'division' AND d.code = c.unit_code
LEFT JOIN townships t ON c.unit_kind = 'township' AND t.code = c.unit_code
LEFT JOIN LATERAL (
    SELECT e.note FROM case_events e WHERE e.county_code = c.county_code
       AND e.case_code = c.code AND e.note IS NOT NULL AND e.action <> :media
     ORDER BY e.id DESC LIMIT 1) ev ON true
LEFT JOIN LATERAL (
    SELECT p.sha256 FROM case_photos p WHERE p.county_code = c.county_code
       AND p.case_code = c.code ORDER BY p.stage <> 'report', p.uploaded_at, p.sha256
     LIMIT 1) ph ON true
LEFT JOIN LATERAL (
    SELECT e.note FROM case_events e WHERE e.county_code = c.county_code
       AND e.case_code = c.code AND e.action = :media ORDER BY e.id LIMIT 1) mu ON true
ORDER BY c.reported_at DESC, c.code
"""


def find(conn: Connection, *, ids: list[str] | None = None,
         service_codes: list[str] | None = None, start: dt.datetime | None = None,
         end: dt.datetime | None = None, statuses: list[str] | None = None,
         county: str | None = None, personal: bool = False,
         limit: int = MAX_REQUESTS) -> list[dict]:
    """Cases as service requests, newest first. ``ids`` (case codes) overrides the other
    filters, as the standard says; ``statuses`` are ``open`` and ``closed``."""
    conds, params = [], {"limit": limit, "media": MEDIA_EVENT}
    if county:
        conds.append("c.county_code = :county")
        params["county"] = county
    if ids:
        conds.append("c.code = ANY(:ids)")
        params["ids"] = ids
        counties = _counties_of(conn, ids)
        if counties:
            conds.append("c.county_code = ANY(:counties)")
            params["counties"] = counties
    else:
        if service_codes:
            conds.append("k.service_code = ANY(:codes)")
            params["codes"] = service_codes
        if start is not None:
            conds.append("c.reported_at >= :start")
            params["start"] = start
        if end is not None:
            conds.append("c.reported_at <= :end")
            params["end"] = end
        if statuses and set(statuses) != {"open", "closed"}:
            closed = "closed" in statuses
            conds.append(("" if closed else "NOT ") + "(c.status = ANY(:closed))")
            params["closed"] = list(CLOSED)
    personal_sql = ", c.reporter_name, c.reporter_phone, c.reporter_account" if personal else ""
    sql = _REQUESTS.format(personal=personal_sql, where=" AND ".join(conds) or "true")
    return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def as_request(row: dict, base_url: str, *, personal: bool = False) -> dict:
    """A case row from :func:`find` in the standard's fields and order (and, for admins, the
    reporter's fields after them). ``base_url`` makes the photo URL absolute."""
    note = row["last_note"] or row["routing_note"]
    status_zh = lifecycle.STATUS_ZH[row["status"]]
    media_url = row["given_media_url"]
    if row["photo"]:
        media_url = f"{base_url.rstrip('/')}/cases/{quote(row['code'])}/photos/{row['photo']}"
    out = {
        "service_request_id": row["code"],
        "status": open_status(row["status"]),
        "status_notes": f"{status_zh} · {note}" if note else status_zh,
        "service_name": row["service_name"],
        "service_code": row["service_code"],
        "description": row["description"],
        "agency_responsible": row["agency"] or "指挥中心（待派遣）",
        "service_notice": row["routing_note"],
        "requested_datetime": _w3c(row["reported_at"]),
        "updated_datetime": _w3c(row["updated_at"]),
        "expected_datetime": _w3c(row["handle_due"]),
        "address": row["address"] or "",
        "address_id": "",
        "zipcode": "",
        "lat": row["lat"],
        "long": row["lon"],
        "media_url": media_url,
    }
    if personal:
        out.update(reporter_name=row["reporter_name"], reporter_phone=row["reporter_phone"],
                   reporter_account=row["reporter_account"])
    return out


# --- filing -------------------------------------------------------------------------------------

def _problem(field: str, message: str) -> InputError:
    return InputError([Problem("request", None, field, message)])


def _text(form: Mapping[str, Any], name: str, max_length: int) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _problem(name, "give text, not a file")
    value = value.strip()
    if "\x00" in value:
        raise _problem(name, "NUL characters are not allowed")
    if len(value) > max_length:
        raise _problem(name, f"at most {max_length:,} characters")
    return value or None


def _number(form: Mapping[str, Any], name: str, low: float, high: float) -> float | None:
    value = _text(form, name, 40)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        raise _problem(name, f"{value!r} is not a number") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise _problem(name, f"{value} is not between {low:g} and {high:g} (WGS84 degrees)")
    return number


def _person(first: str | None, last: str | None) -> str | None:
    """First and last name as one: 王 + 小明 → 王小明 (a Chinese surname comes first, without a
    space); John + Smith → John Smith."""
    parts = [p for p in (first, last) if p]
    if not parts:
        return None
    if any("\u3400" <= ch <= "\u9fff" for p in parts for ch in p):
        return "".join(p for p in (last, first) if p)
    return " ".join(parts)


def submit(conn: Connection, principal: Principal, form: Mapping[str, Any], *, secret: str,
           photos: Iterable[bytes] = (), settings: CaseSettings | None = None) -> dict:
    """POST requests: file the form's report as a case; returns the standard's answer
    (service_request_id, service_notice, account_id) with its token."""
    service_code = _text(form, "service_code", 64)
    if not service_code:
        raise _problem("service_code", "service_code required (see services.json)")
    county = jurisdiction(conn, _text(form, "jurisdiction_id", 64))
    lat = _number(form, "lat", -90, 90)
    lon = _number(form, "long", -180, 180)
    if lat is None or lon is None:
        raise _problem("lat/long", "lat/long required: each request is routed to the "
                                   "responsible unit by its point (WGS84); an address_string "
                                   "or address_id alone cannot be placed")
    category = conn.execute(text(
        "SELECT code, name FROM case_categories WHERE service_code = :c AND active"),
        {"c": service_code}).first()
    if category is None:
        raise _problem("service_code", f"{service_code!r} is not a service here "
                                       "(see services.json)")
    description = _text(form, "description", 4000) or category.name
    address = _text(form, "address_string", 500)
    media_url = _text(form, "media_url", 2000)
    if media_url and not re.fullmatch(r"https?://\S+", media_url):
        raise _problem("media_url", "an http(s) URL")
    name = _person(_text(form, "first_name", 50), _text(form, "last_name", 50))
    phone = _text(form, "phone", 30)
    if phone:
        phone = re.sub(r"[\s\-().]", "", phone)
        if not PHONE.fullmatch(phone):
            raise _problem("phone", "7 to 15 digits, optionally after a +")
    email = _text(form, "email", 254)
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+", email):
        raise _problem("email", "not an e-mail address")
    account_id = _text(form, "account_id", 200)
    _text(form, "device_id", 200)  # accepted and checked, not kept
    channel = "hotline" if _text(form, "attribute[channel]", 20) in ("12345", "hotline") \
        else "resident"
    if county is not None and intake.county_at(conn, lon, lat) != county:
        raise _problem("lat/long", f"({lat:.6f}, {lon:.6f}) is not in jurisdiction {county}")
    case = intake.file_report(
        conn, principal, category_code=category.code, lon=lon, lat=lat, crs="wgs84",
        description=description, channel=channel, address=address, reporter_name=name,
        reporter_phone=phone, reporter_account=account_id or email, photos=photos,
        settings=settings)
    if media_url:
        lifecycle.record_event(conn, case, principal.username, MEDIA_EVENT, case["status"],
                               case["status"], media_url)
    return {"service_request_id": case["code"], "service_notice": case["routing_note"],
            "account_id": account_id, "token": token(case["code"], secret)}


# --- XML ----------------------------------------------------------------------------------------

def _element(tag: str, value: Any) -> ET.Element:
    element = ET.Element(tag)
    if isinstance(value, Mapping):
        for key, item in value.items():
            element.append(_element(key, item))
    elif isinstance(value, (list, tuple)):
        for item in value:
            element.append(_element(GROUPS.get(tag, "item"), item))
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = _XML_INVALID.sub("", str(value))
    return element


def to_xml(root: str, value: Any) -> bytes:
    """The standard's XML: ``<services><service>…``, ``<service_requests><request>…``,
    ``<errors><error>…``; lists take their members' element from :data:`GROUPS`."""
    body = ET.tostring(_element(root, value), encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body).encode("utf-8")
