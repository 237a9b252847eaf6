"""The layers gridgov stores, each declared once (see :mod:`gridgov.layers.base`).

``LAYERS`` maps name to :class:`Layer` in dependency order: a layer only references layers
before it, which is the order imports write and exports read them.

Example:
    >>> from gridgov.layers import LAYER_ORDER, get_layer
    >>> LAYER_ORDER[:3]
    ('counties', 'townships', 'divisions')
    >>> get_layer("grid_cell")
    Traceback (most recent call last):
    ...
    gridgov.errors.NotFound: unknown layer 'grid_cell'; layers are: counties, townships, ...
"""

from __future__ import annotations

from gridgov.errors import NotFound
from gridgov.layers import activity, cases, geography, organizations, places
from gridgov.layers.base import METRIC_SRID, SRID, Field, Layer, Link, TileSpec

__all__ = ["LAYERS", "LAYER_ORDER", "TILE_SPECS", "Field", "Layer", "Link", "TileSpec",
           "SRID", "METRIC_SRID", "get_layer", "tile_spec"]

LAYERS: dict[str, Layer] = {}

for _layer in (*geography.LAYERS, *organizations.LAYERS, *places.LAYERS, *cases.LAYERS,
               *activity.LAYERS):
    for _f in _layer.fields:
        if _f.references and _f.references not in LAYERS and _f.references != _layer.name:
            raise ValueError(f"{_layer.name}.{_f.name} references {_f.references}, which is "
                             "not declared before it")
    LAYERS[_layer.name] = _layer

LAYER_ORDER = tuple(LAYERS)

# Vector-tile layers by their name (a layer may draw several, or none).
TILE_SPECS: dict[str, tuple[Layer, TileSpec]] = {
    spec.name: (layer, spec) for layer in LAYERS.values() for spec in layer.tiles}


def get_layer(name: str) -> Layer:
    try:
        return LAYERS[name]
    except KeyError:
        raise NotFound(f"unknown layer {name!r}; layers are: {', '.join(LAYER_ORDER)}") from None


def tile_spec(name: str) -> tuple[Layer, TileSpec]:
    try:
        return TILE_SPECS[name]
    except KeyError:
        raise NotFound(f"no tile layer {name!r}; layers: {', '.join(TILE_SPECS)}") from None
