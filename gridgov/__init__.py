"""gridgov: who covers which residential compound, where coverage is thin, what to change.

Layers live in PostGIS (:mod:`gridgov.db`); files come in and go out through :mod:`gridgov.io`;
analyses are in :mod:`gridgov.analysis`. In a notebook:

    >>> import gridgov
    >>> gg = gridgov.connect()                       # GRIDGOV_DATABASE_URL, or pass a URL
    >>> gg.inventory()["compounds"]
    107
    >>> type(gg.coverage().explore(column="status"))   # a map, drawn in the notebook
    <class 'folium.folium.Map'>
"""

__version__ = "0.1.0"


def connect(url: str | None = None, counties: list[str] | None = None, settings=None):
    """Connect to the store and get the notebook facade (:class:`gridgov.client.Gridgov`)."""
    from gridgov.client import connect as _connect

    return _connect(url, counties, settings)
