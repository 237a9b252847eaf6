"""Accounts, roles and what each role may see of personal data.

Roles, from least to most: ``viewer`` (maps and aggregates, no personal data), ``planner``
(edits assignments and sites, runs and saves scenarios; sees the roster masked), ``admin``
(imports, users, the roster in full). Passwords are hashed with scrypt (memory-hard, in the
standard library); API keys are random 32-byte tokens stored as SHA-256 hashes, so the database
never holds a usable secret.

Example:
    >>> key = add_user(engine, "zhang", "planner", password="...")   # returns a new API key
    >>> authenticate_key(engine, key).role
    'planner'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, text

from gridgov.errors import GridgovError, InputError, NotFound, Problem

ROLES = ("viewer", "member", "handler", "dispatcher", "planner", "admin")
# Reading, planning, administering form a line. Handlers (bound to one organization) and
# dispatchers (the command center) read like viewers and move cases: gridgov.cases.lifecycle
# decides, case by case, what each may do.
RANK = {"viewer": 0, "member": 0, "handler": 0, "dispatcher": 0, "planner": 1, "admin": 2}
# who sees personal data how: in full, masked (张**, 138****5678), or not at all
PERSONAL_VIEW = {"admin": "full", "planner": "masked", "dispatcher": "masked",
                 "handler": "masked", "member": "none", "viewer": "none"}
_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


class AuthError(GridgovError):
    """Not signed in, or wrong credentials (401)."""


class Forbidden(GridgovError):
    """Signed in, but the role may not do this (403)."""


@dataclass(frozen=True)
class Principal:
    username: str
    role: str
    org_code: str | None = None  # a handler's organization
    member_code: str | None = None  # a member's own code (check-ins)

    def at_least(self, role: str) -> bool:
        """At least ``role`` on the line viewer < planner < admin; a case role (handler,
        dispatcher) only itself, or an admin."""
        if role in ("handler", "dispatcher", "member"):
            return self.role in (role, "admin")
        return RANK[self.role] >= RANK[role]

    @property
    def personal_view(self) -> str:
        return PERSONAL_VIEW[self.role]


ANONYMOUS = Principal("anonymous", "viewer")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt${n}${r}${p}$".format(**_SCRYPT) + base64.b64encode(salt).decode() + "$" + \
        base64.b64encode(digest).decode()


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, n, r, p, salt, digest = stored.split("$")
    got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r),
                         p=int(p), dklen=32)
    return hmac.compare_digest(got, base64.b64decode(digest))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def add_user(engine: Engine, username: str, role: str, password: str | None = None,
             org_code: str | None = None, member_code: str | None = None) -> str:
    """Create (or replace) a user; returns a new API key, shown once. A handler names the
    organization it acts for (``org_code``), a member the roster entry it is (``member_code``)."""
    if role not in ROLES:
        raise InputError([Problem("user", None, "role", f"{role!r} is not one of {ROLES}")])
    if (role == "handler") != bool(org_code):
        raise InputError([Problem("user", None, "org_code",
                                  "a handler acts for one organization: give its code (and only "
                                  "a handler has one)")])
    if (role == "member") != bool(member_code):
        raise InputError([Problem("user", None, "member_code",
                                  "a member checks in as one member of the roster: give the "
                                  "member's code (and only a member has one)")])
    if not username or len(username) > 64:
        raise InputError([Problem("user", None, "username", "1 to 64 characters")])
    key = "gg_" + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO users (username, role, org_code, member_code, password_hash, "
            "api_key_hash) VALUES (:u, :r, :o, :m, :p, :k) ON CONFLICT (username) DO UPDATE SET "
            "role = EXCLUDED.role, org_code = EXCLUDED.org_code, "
            "member_code = EXCLUDED.member_code, password_hash = "
            "coalesce(EXCLUDED.password_hash, users.password_hash), api_key_hash ="
            " EXCLUDED.api_key_hash, disabled = false"),
            {"u": username, "r": role, "o": org_code, "m": member_code,
             "p": hash_password(password) if password else None, "k": hash_key(key)})
    return key


def disable_user(engine: Engine, username: str) -> None:
    with engine.begin() as conn:
        if conn.execute(text("UPDATE users SET disabled = true WHERE username = :u"),
                        {"u": username}).rowcount == 0:
            raise NotFound(f"no user {username!r}")


def list_users(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT username, role, org_code, disabled, created_at FROM users "
                                 "ORDER BY username")).mappings().all()
    return [dict(r) for r in rows]


def authenticate_password(engine: Engine, username: str, password: str) -> Principal:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT role, org_code, member_code, password_hash, disabled "
                                "FROM users WHERE username = :u"), {"u": username}).first()
    if row is None or row.disabled or not verify_password(password, row.password_hash):
        raise AuthError("wrong user name or password")
    return Principal(username, row.role, row.org_code, row.member_code)


def authenticate_key(engine: Engine, key: str) -> Principal:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT username, role, org_code, member_code FROM users WHERE "
                                "api_key_hash = :k AND NOT disabled"),
                           {"k": hash_key(key)}).first()
    if row is None:
        raise AuthError("unknown or disabled API key")
    return Principal(row.username, row.role, row.org_code, row.member_code)


def lookup(engine: Engine, username: str) -> Principal:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT role, org_code, member_code FROM users WHERE "
                                "username = :u AND NOT disabled"), {"u": username}).first()
    if row is None:
        raise AuthError("the account no longer exists or is disabled")
    return Principal(username, row.role, row.org_code, row.member_code)


# --- personal data ----------------------------------------------------------------------------

def mask_name(name: str | None) -> str | None:
    """张某华 → 张**: the surname stays, so a planner can tell people apart in a list."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "*" * len(phone)


def mask_all(value: str | None) -> str | None:
    """Nothing of it shows (accounts, addresses of people)."""
    return value if not value else "***"


MASKS = {"name": mask_name, "phone": mask_phone, "account": mask_all}


def protect(layer, rows: list[dict], principal: Principal, *, hide: bool = False) -> list[dict]:
    """Rows of ``layer`` as ``principal`` may see them: the fields the declaration marks personal
    in full for admins, masked for planners, dispatchers and handlers. Viewers are refused rows
    that are about people (the roster), or, with ``hide``, get them with those fields removed
    (cases: the report is public, the reporter is not). Applied where results are produced,
    once for all outputs."""
    personal = {f.name: f.personal for f in layer.fields if f.personal}
    view = principal.personal_view
    if not personal or view == "full":
        return rows
    if view == "masked":
        return [{**r, **{name: MASKS[kind](r.get(name)) for name, kind in personal.items()
                         if name in r}} for r in rows]
    if hide:
        return [{k: v for k, v in r.items() if k not in personal} for r in rows]
    raise Forbidden(f"the {layer.title_zh} ({layer.name}) hold personal data: planners see them "
                    "masked, admins in full; viewers see the aggregates")


def roster(engine: Engine, principal: Principal, org_code: str | None = None,
           compound_code: str | None = None) -> list[dict]:
    """The member roster, filtered by organization or compound, under the personal-data rules."""
    from gridgov.layers import get_layer

    members = get_layer("members")
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT code, org_code, compound_code, county_code, name, phone FROM members "
            "WHERE (:o IS NULL OR org_code = :o) AND (:c IS NULL OR compound_code = :c) "
            "ORDER BY code"), {"o": org_code, "c": compound_code}).mappings().all()
    return protect(members, [dict(r) for r in rows], principal)


def roster_summary(engine: Engine) -> list[dict]:
    """Members per organization and compound: counts only, for every role."""
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(
            "SELECT org_code, compound_code, count(*) AS members FROM members "
            "GROUP BY org_code, compound_code ORDER BY org_code, compound_code")).mappings()]
