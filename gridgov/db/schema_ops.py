"""What Alembic does not see by itself: the triggers each table's declaration asks for, and the
SQL functions that carry rules (gridgov/sql/functions/*.sql).

Three pieces, in the manner of Alembic's operation plugins:
- operations usable in a migration: ``op.create_trigger("cases", "version")``,
  ``op.create_trigger("cases", "audit", "code")``, ``op.drop_trigger(...)``,
  ``op.create_county_partitions("cases")`` and
  ``op.replace_function("gridgov_links", "CREATE OR REPLACE FUNCTION ...")``;
- a comparator, so that ``alembic revision --autogenerate`` writes those operations when a table
  declared ``versioned`` or audited lacks its trigger, or a function file differs from the
  database, and ``alembic check`` fails on the same drift;
- renderers, so the generated migration holds the function's SQL as it was that day (a
  migration must not change meaning when the file is edited later).

Example:
    >>> desired_triggers()["assignments"]
    {'version': None, 'audit': 'id'}
    >>> sorted(function_files())[:3]
    ['gridgov_append_only', 'gridgov_apply_versions', 'gridgov_audit']
"""

from __future__ import annotations

from importlib.resources import files

from alembic.autogenerate import comparators, renderers
from alembic.operations import MigrateOperation, Operations
from alembic.util import DispatchPriority, PriorityDispatchResult
from sqlalchemy import text

FUNCTIONS_DIR = "sql/functions"
# Tables that extensions own (PostGIS's spatial_ref_sys); every other table is ours to compare.
EXTENSION_TABLES = {"spatial_ref_sys"}
# Tables a library owns: the job queue's (procrastinate_jobs, ...; migration 0010, gridgov.jobs)
LIBRARY_TABLE_PREFIXES = ("procrastinate_",)


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's filter: compare everything but the extensions' and libraries' own tables and
    the per-county partitions (TABLE__COUNTY), which the database creates when a county
    arrives."""
    if type_ == "table" and reflected and compare_to is None:
        return (name not in EXTENSION_TABLES and "__" not in name
                and not name.startswith(LIBRARY_TABLE_PREFIXES))
    if type_ == "foreign_key_constraint" and reflected and compare_to is None:
        # PostgreSQL adds one internal constraint per referenced partition (..._fkey, _fkey1)
        return bool(name) and name.startswith("fk_")
    return True


def function_files() -> dict[str, str]:
    """Function name -> its CREATE OR REPLACE statement, from gridgov/sql/functions/NAME.sql."""
    folder = files("gridgov").joinpath(FUNCTIONS_DIR)
    return {p.name[:-4]: p.read_text(encoding="utf-8") for p in folder.iterdir()
            if p.name.endswith(".sql")}


def function_body(statement: str) -> str:
    """The text between the dollar quotes (what PostgreSQL keeps as the function's source), with
    whitespace runs made single: a migration indents the SQL it freezes."""
    start = statement.index("$$") + 2
    return " ".join(statement[start:statement.rindex("$$")].split())


# Trigger kinds: what a table's declaration can ask for, and how each is created.
TRIGGERS = {
    # writes bump the table's data version (ETags, page caches, screen refresh)
    "version": "AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} FOR EACH STATEMENT "
               "EXECUTE FUNCTION gridgov_bump_version()",
    # at commit, the data versions of the tables the transaction wrote go up (constraint
    # trigger, deferred; enabled always, so a commit in replica mode still applies them)
    "apply_versions": "AFTER INSERT ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                      "EXECUTE FUNCTION gridgov_apply_versions()",
    # every written row goes to audit_log, named by the column {arg}
    "audit": "AFTER INSERT OR UPDATE OR DELETE ON {table} FOR EACH ROW "
             "EXECUTE FUNCTION gridgov_audit('{arg}')",
    # an event log: rows are written once, never changed or removed
    "append_only": "BEFORE UPDATE OR DELETE ON {table} FOR EACH ROW "
                   "EXECUTE FUNCTION gridgov_append_only()",
    # a new county gets its partition of every table partitioned by county
    "partitions": "AFTER INSERT ON {table} FOR EACH ROW "
                  "EXECUTE FUNCTION gridgov_county_partitions_trigger()",
    # writes record the (county, day of column {arg}) they touch in changed_days; a trigger
    # with transition tables fires on one event only, hence one per event
    "changes_insert": "AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
                      "FOR EACH STATEMENT EXECUTE FUNCTION gridgov_mark_changes('{arg}')",
    "changes_update": "AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows "
                      "NEW TABLE AS new_rows FOR EACH STATEMENT "
                      "EXECUTE FUNCTION gridgov_mark_changes('{arg}')",
    "changes_delete": "AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
                      "FOR EACH STATEMENT EXECUTE FUNCTION gridgov_mark_changes('{arg}')",
    "changes_truncate": "AFTER TRUNCATE ON {table} FOR EACH STATEMENT "
                        "EXECUTE FUNCTION gridgov_mark_changes('{arg}')",
}
CHANGES = ("changes_insert", "changes_update", "changes_delete", "changes_truncate")


def desired_triggers(metadata=None) -> dict[str, dict]:
    """Table -> {kind: argument} of the triggers its ``info`` asks for."""
    if metadata is None:
        from gridgov.db.tables import metadata
    out: dict[str, dict] = {}
    partitioned = any(t.info.get("partitioned") for t in metadata.sorted_tables)
    for table in metadata.sorted_tables:
        want = {}
        if table.info.get("versioned"):
            want["version"] = None
        if table.info.get("applies_versions"):
            want["apply_versions"] = None
        if table.info.get("audit_key"):
            want["audit"] = table.info["audit_key"]
        if table.info.get("append_only"):
            want["append_only"] = None
        if table.info.get("changes_by"):
            want.update(dict.fromkeys(CHANGES, table.info["changes_by"]))
        if partitioned and table.name == "counties":
            want["partitions"] = None
        if want:
            out[table.name] = want
    return out


def existing_triggers(conn) -> dict[str, set[str]]:
    """Table -> kinds of gridgov triggers it has."""
    rows = conn.execute(text(
        "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE NOT t.tgisinternal AND n.nspname = current_schema() AND t.tgparentid = 0 "
        "AND t.tgname ~ :pattern"), {"pattern": f"^trg_.*_({'|'.join(TRIGGERS)})$"}).all()
    out: dict[str, set[str]] = {}
    for table, name in rows:
        kind = next(k for k in TRIGGERS if name == f"trg_{table}_{k}")
        out.setdefault(table, set()).add(kind)
    return out


def missing_partitions(conn, metadata) -> list[str]:
    """Partitioned tables that lack a partition for some stored county (or do not exist yet)."""
    tables = [t.name for t in metadata.sorted_tables if t.info.get("partitioned")]
    if not tables:
        return []
    have_counties = conn.execute(text("SELECT to_regclass('counties') IS NOT NULL")).scalar()
    out = []
    for name in tables:
        if conn.execute(text("SELECT to_regclass(:t) IS NULL"), {"t": name}).scalar():
            out.append(name)
        elif have_counties and conn.execute(text(
                "SELECT count(*) FROM counties c WHERE NOT EXISTS (SELECT 1 FROM pg_inherits i "
                "JOIN pg_class p ON p.oid = i.inhrelid WHERE i.inhparent = to_regclass(:t) "
                "AND p.relname = :t || '__' || c.code)"), {"t": name}).scalar():
            out.append(name)
    return out


def existing_function_bodies(conn) -> dict[str, str]:
    rows = conn.execute(text(
        "SELECT p.proname, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = current_schema() AND p.proname LIKE 'gridgov\\_%'")).all()
    return {name: " ".join(source.split()) for name, source in rows}


# --- operations ----------------------------------------------------------------------------------

@Operations.register_operation("create_trigger")
class CreateTriggerOp(MigrateOperation):
    """``op.create_trigger(table, kind, arg)``: one of :data:`TRIGGERS`, named trg_TABLE_KIND."""

    def __init__(self, table_name: str, kind: str, arg: str | None = None):
        self.table_name = table_name
        self.kind = kind
        self.arg = arg

    @classmethod
    def create_trigger(cls, operations, table_name: str, kind: str, arg: str | None = None):
        return operations.invoke(cls(table_name, kind, arg))

    def to_diff_tuple(self):
        return ("create_trigger", self.table_name, self.kind)

    def reverse(self):
        return DropTriggerOp(self.table_name, self.kind, self.arg)


@Operations.register_operation("drop_trigger")
class DropTriggerOp(MigrateOperation):
    def __init__(self, table_name: str, kind: str, arg: str | None = None):
        self.table_name = table_name
        self.kind = kind
        self.arg = arg

    @classmethod
    def drop_trigger(cls, operations, table_name: str, kind: str, arg: str | None = None):
        return operations.invoke(cls(table_name, kind, arg))

    def to_diff_tuple(self):
        return ("drop_trigger", self.table_name, self.kind)

    def reverse(self):
        return CreateTriggerOp(self.table_name, self.kind, self.arg)


@Operations.register_operation("create_county_partitions")
class CreateCountyPartitionsOp(MigrateOperation):
    """A partition of ``table_name`` for every stored county (new counties get theirs from the
    trigger on counties)."""

    def __init__(self, table_name: str):
        self.table_name = table_name

    @classmethod
    def create_county_partitions(cls, operations, table_name: str):
        return operations.invoke(cls(table_name))

    def to_diff_tuple(self):
        return ("create_county_partitions", self.table_name)

    def reverse(self):
        return _NoOp()


class _NoOp(MigrateOperation):
    """Dropping a partitioned table drops its partitions: nothing to undo separately."""

    def to_diff_tuple(self):
        return ("noop",)


@Operations.register_operation("replace_function")
class ReplaceFunctionOp(MigrateOperation):
    """CREATE OR REPLACE a function; ``previous`` (the definition it replaces, or None for a new
    function) is what a downgrade restores."""

    def __init__(self, name: str, sql: str, previous: str | None = None):
        self.name = name
        self.sql = sql
        self.previous = previous

    @classmethod
    def replace_function(cls, operations, name: str, sql: str, previous: str | None = None):
        return operations.invoke(cls(name, sql, previous))

    def to_diff_tuple(self):
        return ("replace_function", self.name)

    def reverse(self):
        return ReplaceFunctionOp(self.name, self.previous, self.sql) if self.previous else \
            DropFunctionOp(self.name, self.sql)


@Operations.register_operation("drop_function")
class DropFunctionOp(MigrateOperation):
    def __init__(self, name: str, sql: str | None = None):
        self.name = name
        self.sql = sql

    @classmethod
    def drop_function(cls, operations, name: str, sql: str | None = None):
        return operations.invoke(cls(name, sql))

    def to_diff_tuple(self):
        return ("drop_function", self.name)

    def reverse(self):
        return ReplaceFunctionOp(self.name, self.sql or "")


@Operations.implementation_for(CreateTriggerOp)
def _create_trigger(operations, op: CreateTriggerOp):
    t = op.table_name
    if op.kind == "version":  # the table's counter exists before its first write
        operations.execute(f"INSERT INTO data_versions (table_name) VALUES ('{t}') "
                           "ON CONFLICT (table_name) DO NOTHING")
    spec = TRIGGERS[op.kind].format(table=t, arg=op.arg)
    deferred = "DEFERRABLE" in spec  # only a constraint trigger can wait for the commit
    operations.execute(f"CREATE {'CONSTRAINT ' if deferred else ''}TRIGGER trg_{t}_{op.kind} "
                       + spec)
    if deferred:
        operations.execute(f"ALTER TABLE {t} ENABLE ALWAYS TRIGGER trg_{t}_{op.kind}")


@Operations.implementation_for(DropTriggerOp)
def _drop_trigger(operations, op: DropTriggerOp):
    operations.execute(f"DROP TRIGGER IF EXISTS trg_{op.table_name}_{op.kind} "
                       f"ON {op.table_name}")


@Operations.implementation_for(CreateCountyPartitionsOp)
def _create_county_partitions(operations, op: CreateCountyPartitionsOp):
    operations.execute(f"SELECT gridgov_county_partitions(code, '{op.table_name}') "
                       "FROM counties")


@Operations.implementation_for(_NoOp)
def _noop(operations, op):
    pass


@Operations.implementation_for(ReplaceFunctionOp)
def _replace_function(operations, op: ReplaceFunctionOp):
    operations.execute(op.sql)


@Operations.implementation_for(DropFunctionOp)
def _drop_function(operations, op: DropFunctionOp):
    operations.execute(f"DROP FUNCTION IF EXISTS {op.name}")


# --- autogenerate ----------------------------------------------------------------------------------

@comparators.dispatch_for("schema", priority=DispatchPriority.LAST)
def _compare(autogen_context, upgrade_ops, schemas):
    """Runs after the tables are compared, so a new table's triggers follow its creation."""
    conn = autogen_context.connection
    metadatas = autogen_context.metadata
    metadata = metadatas[0] if isinstance(metadatas, (list, tuple)) else metadatas
    ops = []
    files_now = function_files()
    in_db = existing_function_bodies(conn)
    # functions first: a trigger needs its function
    for name, statement in sorted(files_now.items()):
        if in_db.get(name) != function_body(statement):
            previous = None
            if name in in_db:
                previous = conn.execute(text(
                    "SELECT pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n "
                    "ON n.oid = p.pronamespace WHERE n.nspname = current_schema() "
                    "AND p.proname = :n"), {"n": name}).scalar()
            ops.append(ReplaceFunctionOp(name, statement, previous))
    have = existing_triggers(conn)
    want = desired_triggers(metadata)
    for table, kinds in want.items():
        for kind, arg in kinds.items():
            if kind not in have.get(table, set()):
                ops.append(CreateTriggerOp(table, kind, arg))
    for table, present in have.items():
        if table not in metadata.tables:
            continue  # a table being dropped takes its triggers with it
        for kind in sorted(present - set(want.get(table, {}))):
            ops.append(DropTriggerOp(table, kind))
    ops += [CreateCountyPartitionsOp(t) for t in missing_partitions(conn, metadata)]
    upgrade_ops.ops.extend(ops)
    return PriorityDispatchResult.CONTINUE


@renderers.dispatch_for(CreateTriggerOp)
def _render_create_trigger(autogen_context, op):
    arg = f", {op.arg!r}" if op.arg else ""
    return f"op.create_trigger({op.table_name!r}, {op.kind!r}{arg})"


@renderers.dispatch_for(DropTriggerOp)
def _render_drop_trigger(autogen_context, op):
    arg = f", {op.arg!r}" if op.arg else ""
    return f"op.drop_trigger({op.table_name!r}, {op.kind!r}{arg})"


@renderers.dispatch_for(CreateCountyPartitionsOp)
def _render_partitions(autogen_context, op):
    return f"op.create_county_partitions({op.table_name!r})"


@renderers.dispatch_for(_NoOp)
def _render_noop(autogen_context, op):
    return "# (the partitions go with their table)"


def _sql_literal(sql: str | None) -> str:
    if sql is None:
        return "None"
    return 'r"""\n' + sql.replace('"""', '\\"\\"\\"') + '\n"""'


@renderers.dispatch_for(ReplaceFunctionOp)
def _render_replace_function(autogen_context, op):
    return (f"op.replace_function({op.name!r}, {_sql_literal(op.sql)}, "
            f"previous={_sql_literal(op.previous)})")


@renderers.dispatch_for(DropFunctionOp)
def _render_drop_function(autogen_context, op):
    return f"op.drop_function({op.name!r}, {_sql_literal(op.sql)})"
