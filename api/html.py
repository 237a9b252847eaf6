"""Plain HTML renderings of the OGC resources (for people following links in a browser).

The markup is in ``templates/`` (Jinja2, autoescaped: titles, links and property values from the
data cannot inject markup).
"""

from __future__ import annotations

import json

import jinja2
from markupsafe import Markup


def _cell(value) -> str:
    """A property value as a table cell shows it: lists and objects as JSON."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else str(value)


# __package__, not a fixed name: this folder is api/ in the tree and gridgov_api once installed
_ENV = jinja2.Environment(loader=jinja2.PackageLoader(__package__, "templates"), autoescape=True,
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_ENV.filters["cell"] = _cell


def page(title: str, body: str) -> str:
    """A whole page; ``body`` is HTML (from :func:`links` and :func:`features_table`)."""
    return _ENV.get_template("page.html.j2").render(title=title, body=Markup(body))


def links(items: list[dict]) -> str:
    return _ENV.get_template("links.html.j2").render(links=items)


def features_table(fc: dict) -> str:
    feats = fc.get("features", [])
    # the columns are the first feature's properties (the items of one collection share them)
    names = list(feats[0].get("properties", {})) if feats else []
    return _ENV.get_template("features_table.html.j2").render(features=feats, names=names)
