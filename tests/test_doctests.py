"""The docstring examples of every module run as doctests, against a private copy of the seeded
test database (as geopandas runs its docstrings in its suite).

Each example sees ``engine`` (an engine on the copy) and ``engine_url`` (its URL, password
included); ``GRIDGOV_DATABASE_URL`` points at the copy too, so ``gridgov.connect()`` and
``connect_engine()`` reach it; the working directory and ``GRIDGOV_MEDIA_DIR`` are temporary
folders, so examples that write files write there.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil
import traceback
from pathlib import Path

import pytest

PACKAGES = ("gridgov", "gridgov_api")

# Modules that are scripts, not library modules: importing them does something (or fails
# outside the tool that runs them). Listed here, with the reason, rather than skipped silently;
# test_scripts_have_no_examples makes sure no example hides in them.
NOT_IMPORTED = {
    "gridgov.__main__": "runs the CLI on import (python -m gridgov)",
    "gridgov.db.migrations.env": "an Alembic script: needs alembic.context, set only by Alembic",
}

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _module_names() -> tuple[list[str], dict[str, str]]:
    """Every module of PACKAGES; a package that fails to import is reported, not skipped."""
    names: list[str] = []
    errors: dict[str, str] = {}

    def onerror(name: str) -> None:
        errors[name] = traceback.format_exc()

    for package in PACKAGES:
        names.append(package)
        try:
            module = importlib.import_module(package)
        except Exception:
            errors[package] = traceback.format_exc()
            continue
        for info in pkgutil.walk_packages(module.__path__, package + ".", onerror=onerror):
            names.append(info.name)
        # pkgutil does not enter a folder without __init__.py: add every source file it missed
        for root in module.__path__:
            for path in sorted(Path(root).rglob("*.py")):
                parts = path.relative_to(root).with_suffix("").parts
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                name = ".".join((package, *parts))
                if name not in names:
                    names.append(name)
    return names, errors


def _collect() -> tuple[dict[str, list[doctest.DocTest]], dict[str, str]]:
    """The doctests with examples of each module, and the import error of each module that
    cannot import."""
    names, errors = _module_names()
    finder = doctest.DocTestFinder(exclude_empty=True)
    found: dict[str, list[doctest.DocTest]] = {}
    for name in names:
        if name in NOT_IMPORTED or name in errors:
            continue
        try:
            module = importlib.import_module(name)
            tests = [t for t in finder.find(module, name) if t.examples]
        except Exception:
            errors[name] = traceback.format_exc()
            continue
        if tests:
            found[name] = sorted(tests, key=lambda t: (t.lineno or 0, t.name))
    return found, errors


DOCTESTS, IMPORT_ERRORS = _collect()


def test_every_module_imports():
    assert not IMPORT_ERRORS, "\n".join(f"{name}:\n{tb}" for name, tb in IMPORT_ERRORS.items())


def test_scripts_have_no_examples():
    for name in NOT_IMPORTED:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin, name
        assert ">>>" not in Path(spec.origin).read_text(encoding="utf-8"), (
            f"{name} has docstring examples but is not imported: {NOT_IMPORTED[name]}")


def test_examples_were_found():
    # a guard against the walk silently finding nothing
    assert {"gridgov", "gridgov.analysis.coverage", "gridgov.io.export"} <= DOCTESTS.keys()


@pytest.mark.parametrize("module", sorted(DOCTESTS))
def test_docstring_examples(module, seeded_copy, tmp_path, monkeypatch):
    engine = seeded_copy
    engine_url = engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", engine_url)
    monkeypatch.setenv("GRIDGOV_MEDIA_DIR", str(tmp_path / "media"))  # photos, backups of them
    monkeypatch.chdir(tmp_path)

    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    try:
        for found in DOCTESTS[module]:
            # a fresh copy of the module's globals for each run (the runner clears them after)
            globs = {**found.globs, "engine": engine, "engine_url": engine_url}
            test = doctest.DocTest(found.examples, globs, found.name, found.filename,
                                   found.lineno, found.docstring)
            runner.run(test, out=report.append)
    finally:
        from gridgov.db.engine import _cached_engine

        # connect_engine() keeps one engine per URL: close the copy's before it is dropped
        _cached_engine(engine_url).dispose()
    assert runner.failures == 0, (f"{module}: {runner.failures} of {runner.tries} examples "
                                  "failed\n" + "".join(report))
