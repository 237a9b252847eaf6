"""The analysts' notebooks run top to bottom against the test database, and are kept without
outputs in git."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS] == ["01_coverage_overview.ipynb", "02_gap_hunt.ipynb",
                                           "03_access_and_siting.ipynb",
                                           "04_case_hotspots.ipynb",
                                           "05_paper_vs_verified.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, seeded_copy, tmp_path, monkeypatch):
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") and not c.get("execution_count")
               for c in nb.cells if c.cell_type == "code"), "strip outputs before committing"
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", seeded_copy.url.render_as_string(hide_password=False))
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    if path.stem == "02_gap_hunt":
        assert (tmp_path / "gaps.xlsx").exists()
