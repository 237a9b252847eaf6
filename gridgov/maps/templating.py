"""The Jinja2 templates of the map pages (``templates/``): their HTML, CSS and JavaScript.

One environment for every page. Templates named ``*.html.j2`` are autoescaped, so a compound or
organization name from the data cannot inject markup; ``*.js.j2`` templates are not (escaping
HTML inside a script would corrupt it), so they take data only through ``|tojson``, never pasted
into the code.

Example:
    >>> render("legend.html.j2", title="图例", items={"已覆盖": "#2e7d32"})[:27]
    "<div class='gridgov-panel' "
"""

from __future__ import annotations

import jinja2

__all__ = ["macro", "render"]


def _figure(value, digits: int = 0) -> str:
    """A KPI figure with thousands separators; a dash when there is nothing to count."""
    return "—" if value is None else f"{value:,.{digits}f}"


def _percent(value) -> str:
    return "—" if value is None else f"{value:.0%}"


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("gridgov.maps", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",),
                                        disabled_extensions=("js.j2",), default=True),
    # a misspelt variable fails the page instead of leaving a hole in the script
    undefined=jinja2.StrictUndefined,
    trim_blocks=True, lstrip_blocks=True)
_ENV.filters.update(figure=_figure, percent=_percent)
# Keep keys in their order and Chinese readable (and three times smaller than \\uXXXX in the
# inlined GeoJSON of standalone pages); |tojson still escapes <, >, & and ' for use in a script.
_ENV.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False}


def render(name: str, /, **context) -> str:
    """Render the template ``name`` with ``context``."""
    return _ENV.get_template(name).render(**context)


def macro(name: str, macro_name: str, /, **arguments) -> str:
    """Call one macro of the template ``name``: the JavaScript style and popup functions live as
    macros of ``styles.js.j2`` and ``popups.js.j2``."""
    return str(getattr(_ENV.get_template(name).module, macro_name)(**arguments))
