"""The audit log: who wrote what, when (rows written by the trigger ``gridgov_audit``).

Example:
    >>> from gridgov.edits import move_site, set_actor
    >>> with engine.begin() as conn:                     # an edit, in a planner's name
    ...     set_actor(conn, "planner:zhang")
    ...     move_site(conn, "141129-S010", 111.2071, 37.3452)
    >>> e = entries(engine, table="practice_sites", limit=1)[0]
    >>> e["actor"], e["action"], e["record_key"], e["before"]["geom"], e["after"]["geom"]
    ('planner:zhang', 'UPDATE', '141129-S010', 'POINT(111.2049603 37.3421988)',
     'POINT(111.2071 37.3452)')
"""

from __future__ import annotations

from sqlalchemy import Engine, text


def entries(engine: Engine, *, table: str | None = None, key: str | None = None,
            actor: str | None = None, limit: int = 100) -> list[dict]:
    """The newest entries first, filtered by table, record key and actor."""
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(text(
            "SELECT id, at, actor, action, table_name, record_key, before, after FROM audit_log"
            " WHERE (:t IS NULL OR table_name = :t) AND (:k IS NULL OR record_key = :k) AND "
            "(:a IS NULL OR actor = :a) ORDER BY id DESC LIMIT :l"),
            {"t": table, "k": key, "a": actor, "l": limit}).mappings()]
    for r in rows:
        r["at"] = r["at"].isoformat()
    return rows
