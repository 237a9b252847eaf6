"""Domain exceptions. The API maps each to an HTTP status in one table (gridgov_api.errors); the
CLI prints them.

Two families of "you asked for something wrong": :class:`InputError` for files and edits (every
problem located by file, row and field; nothing was written) and :class:`QueryError` for request
parameters and filters.
"""

from __future__ import annotations

from dataclasses import dataclass


class GridgovError(Exception):
    """Base class of every error gridgov raises on purpose."""


class StoreUnavailable(GridgovError):
    """The PostGIS store cannot be reached."""


class ConfigError(GridgovError):
    """A setting (environment variable) holds a value gridgov cannot use."""


class NotFound(GridgovError):
    """A named record, layer or file does not exist."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as we can."""

    file: str
    row: int | None  # 1-based data row (header excluded); None for file-level problems
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.field:
            where += f", field '{self.field}'"
        return f"{where}: {self.message}"


class InputError(GridgovError):
    """Bad input: the whole operation was refused and nothing was written.

    ``problems`` lists every problem found (not only the first), each naming file, row and field.
    """

    closing = ". Nothing was written."

    def __init__(self, problems: list[Problem], report_path: str | None = None):
        self.problems = problems
        self.report_path = report_path
        head = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        report = f"; rejected rows written to {report_path}" if report_path else ""
        super().__init__(f"{head}{more}{report}{self.closing}")


# --- requests: a query or parameter that cannot be answered as asked ---------------------------

class QueryError(GridgovError):
    """A request that cannot be answered as asked (400). Not a file problem: nothing was read."""


class InvalidParameter(QueryError):
    """One parameter is wrong: unknown property, bbox that is not four numbers, ..."""

    def __init__(self, parameter: str, message: str):
        self.parameter = parameter
        super().__init__(f"{parameter}: {message}")


class InvalidFilter(InvalidParameter):
    """A CQL2 filter that does not parse or names what the collection does not have."""

    def __init__(self, message: str):
        super().__init__("filter", message)


class Conflict(GridgovError):
    """The record changed since the client read it (optimistic concurrency): 412, with the
    current state so the client can redo its change on top of it."""

    def __init__(self, message: str, current: dict):
        super().__init__(message)
        self.current = current


class PreconditionRequired(GridgovError):
    """An edit came without the version it is based on (If-Match): 428."""


class StateConflict(GridgovError):
    """The record is not in a state that allows this (a case already closed, ...): 409."""
