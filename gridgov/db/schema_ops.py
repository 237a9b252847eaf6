"""What Alembic does not see by itself: the triggers each table's declaration asks for, and the
SQL functions that carry rules (gridgov/sql/functions/*.sql).

Three pieces, in the manner of Alembic's operation plugins:
- operations usable in a migration: ``op.create_version_trigger("cases")``,
  ``op.create_audit_trigger("cases", "id")``, their ``drop_`` twins, and
  ``op.replace_function("gridgov_links", "CREATE OR REPLACE FUNCTION ...")``;
- a comparator, so that ``alembic revision --autogenerate`` writes those operations when a table
  declared ``versioned`` or audited lacks its trigger, or a function file differs from the
  database, and ``alembic check`` fails on the same drift;
- renderers, so the generated migration holds the function's SQL as it was that day (a
  migration must not change meaning when the file is edited later).

Example:
    >>> desired_triggers()["assignments"]
    {'version': None, 'audit': 'id'}
    >>> sorted(function_files())[:2]
    ['gridgov_audit', 'gridgov_bump_version']
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


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's filter: compare everything but the extensions' own tables."""
    return not (type_ == "table" and reflected and compare_to is None
                and name in EXTENSION_TABLES)


def function_files() -> dict[str, str]:
    """Function name -> its CREATE OR REPLACE statement, from gridgov/sql/functions/NAME.sql."""
    folder = files("gridgov").joinpath(FUNCTIONS_DIR)
    return {p.name[:-4]: p.read_text(encoding="utf-8") for p in folder.iterdir()
            if p.name.endswith(".sql")}


def function_body(statement: str) -> str:
    """The text between the dollar quotes: what PostgreSQL keeps as the function's source."""
    start = statement.index("$$") + 2
    return statement[start:statement.rindex("$$")].strip()


def desired_triggers(metadata=None) -> dict[str, dict]:
    """Table -> {"version": None} and/or {"audit": key column}, from the tables' ``info``."""
    if metadata is None:
        from gridgov.db.tables import metadata
    out: dict[str, dict] = {}
    for table in metadata.sorted_tables:
        want = {}
        if table.info.get("versioned"):
            want["version"] = None
        if table.info.get("audit_key"):
            want["audit"] = table.info["audit_key"]
        if want:
            out[table.name] = want
    return out


def existing_triggers(conn) -> dict[str, set[str]]:
    """Table -> kinds of gridgov triggers it has ('version', 'audit')."""
    rows = conn.execute(text(
        "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE NOT t.tgisinternal AND n.nspname = current_schema() "
        "AND t.tgname ~ '^trg_.*_(version|audit)$'")).all()
    out: dict[str, set[str]] = {}
    for table, name in rows:
        out.setdefault(table, set()).add(name.rsplit("_", 1)[1])
    return out


def existing_function_bodies(conn) -> dict[str, str]:
    rows = conn.execute(text(
        "SELECT p.proname, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = current_schema() AND p.proname LIKE 'gridgov\\_%'")).all()
    return {name: source.strip() for name, source in rows}


# --- operations ----------------------------------------------------------------------------------

@Operations.register_operation("create_version_trigger")
class CreateVersionTriggerOp(MigrateOperation):
    """Writes to the table bump its row in data_versions."""

    def __init__(self, table_name: str):
        self.table_name = table_name

    @classmethod
    def create_version_trigger(cls, operations, table_name: str):
        return operations.invoke(cls(table_name))

    def to_diff_tuple(self):
        return ("create_version_trigger", self.table_name)

    def reverse(self):
        return DropVersionTriggerOp(self.table_name)


@Operations.register_operation("drop_version_trigger")
class DropVersionTriggerOp(MigrateOperation):
    def __init__(self, table_name: str):
        self.table_name = table_name

    @classmethod
    def drop_version_trigger(cls, operations, table_name: str):
        return operations.invoke(cls(table_name))

    def to_diff_tuple(self):
        return ("drop_version_trigger", self.table_name)

    def reverse(self):
        return CreateVersionTriggerOp(self.table_name)


@Operations.register_operation("create_audit_trigger")
class CreateAuditTriggerOp(MigrateOperation):
    """Every written row of the table goes to audit_log, named by ``key_column``."""

    def __init__(self, table_name: str, key_column: str):
        self.table_name = table_name
        self.key_column = key_column

    @classmethod
    def create_audit_trigger(cls, operations, table_name: str, key_column: str):
        return operations.invoke(cls(table_name, key_column))

    def to_diff_tuple(self):
        return ("create_audit_trigger", self.table_name, self.key_column)

    def reverse(self):
        return DropAuditTriggerOp(self.table_name, self.key_column)


@Operations.register_operation("drop_audit_trigger")
class DropAuditTriggerOp(MigrateOperation):
    def __init__(self, table_name: str, key_column: str | None = None):
        self.table_name = table_name
        self.key_column = key_column

    @classmethod
    def drop_audit_trigger(cls, operations, table_name: str, key_column: str | None = None):
        return operations.invoke(cls(table_name, key_column))

    def to_diff_tuple(self):
        return ("drop_audit_trigger", self.table_name)

    def reverse(self):
        return CreateAuditTriggerOp(self.table_name, self.key_column or "id")


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


@Operations.implementation_for(CreateVersionTriggerOp)
def _create_version_trigger(operations, op: CreateVersionTriggerOp):
    t = op.table_name
    operations.execute(f"INSERT INTO data_versions (table_name) VALUES ('{t}') "
                       "ON CONFLICT (table_name) DO NOTHING")
    operations.execute(f"CREATE TRIGGER trg_{t}_version AFTER INSERT OR UPDATE OR DELETE OR "
                       f"TRUNCATE ON {t} FOR EACH STATEMENT EXECUTE FUNCTION gridgov_bump_version()")


@Operations.implementation_for(DropVersionTriggerOp)
def _drop_version_trigger(operations, op: DropVersionTriggerOp):
    operations.execute(f"DROP TRIGGER IF EXISTS trg_{op.table_name}_version ON {op.table_name}")


@Operations.implementation_for(CreateAuditTriggerOp)
def _create_audit_trigger(operations, op: CreateAuditTriggerOp):
    t = op.table_name
    operations.execute(f"CREATE TRIGGER trg_{t}_audit AFTER INSERT OR UPDATE OR DELETE ON {t} "
                       f"FOR EACH ROW EXECUTE FUNCTION gridgov_audit('{op.key_column}')")


@Operations.implementation_for(DropAuditTriggerOp)
def _drop_audit_trigger(operations, op: DropAuditTriggerOp):
    operations.execute(f"DROP TRIGGER IF EXISTS trg_{op.table_name}_audit ON {op.table_name}")


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
        present = have.get(table, set())
        if "version" in kinds and "version" not in present:
            ops.append(CreateVersionTriggerOp(table))
        if "audit" in kinds and "audit" not in present:
            ops.append(CreateAuditTriggerOp(table, kinds["audit"]))
    for table, present in have.items():
        if table not in metadata.tables:
            continue  # a table being dropped takes its triggers with it
        for kind in sorted(present - set(want.get(table, {}))):
            ops.append(DropVersionTriggerOp(table) if kind == "version"
                       else DropAuditTriggerOp(table))
    upgrade_ops.ops.extend(ops)
    return PriorityDispatchResult.CONTINUE


@renderers.dispatch_for(CreateVersionTriggerOp)
def _render_create_version(autogen_context, op):
    return f"op.create_version_trigger({op.table_name!r})"


@renderers.dispatch_for(DropVersionTriggerOp)
def _render_drop_version(autogen_context, op):
    return f"op.drop_version_trigger({op.table_name!r})"


@renderers.dispatch_for(CreateAuditTriggerOp)
def _render_create_audit(autogen_context, op):
    return f"op.create_audit_trigger({op.table_name!r}, {op.key_column!r})"


@renderers.dispatch_for(DropAuditTriggerOp)
def _render_drop_audit(autogen_context, op):
    return f"op.drop_audit_trigger({op.table_name!r}, {op.key_column!r})"


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
