"""Where the bundled Zhongyang dataset lives."""

from __future__ import annotations

import os
from pathlib import Path

from gridgov.errors import NotFound

REPO_ROOT = Path(__file__).resolve().parents[1]


def bundle_path(path: str | Path | None = None) -> Path:
    """The seed bundle: ``path``, else ``GRIDGOV_BUNDLE``, else geodata/zhongyang in the checkout."""
    candidate = Path(path or os.environ.get("GRIDGOV_BUNDLE") or REPO_ROOT / "geodata" / "zhongyang")
    if not candidate.exists():
        raise NotFound(f"bundle not found at {candidate}; pass --path or set GRIDGOV_BUNDLE")
    return candidate
