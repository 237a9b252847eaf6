"""Colours and Chinese labels shared by every map."""

STATUS_COLORS = {"covered": "#2e7d32", "under_covered": "#f9a825", "uncovered": "#c62828"}
STATUS_ZH = {"covered": "已覆盖", "under_covered": "力量不足", "uncovered": "未包联"}
TIER_COLORS = {"center": "#6a1b9a", "institute": "#1565c0", "station": "#00838f"}
TIER_ZH = {"center": "文明实践中心", "institute": "文明实践所", "station": "文明实践站"}
CIRCLE_COLORS = {"5min": "#1b5e20", "10min": "#7cb342", "15min": "#fbc02d", "beyond": "#d84315"}
CIRCLE_ZH = {"5min": "5分钟生活圈（≤300米）", "10min": "10分钟生活圈（≤500米）",
             "15min": "15分钟生活圈（≤1000米）", "beyond": "15分钟生活圈外"}
OFFICE_COLOR = "#37474f"

# Coverage by visits (the overview's 纸面/实际 toggle): a compound covered on paper without
# enough verified visits in the month is inactive (有名无实).
INACTIVE_COLOR = "#6d4c41"
INACTIVE_ZH = "有名无实（未走访）"

# The overview's 督办 layer: an organization late with its account (报账) or with a demand past its
# deadline unanswered (要账), a diamond at its office; one with both is split in the two colours.
# Pink and violet: hues no other overview layer uses (cases are orange and red).
FLAG_ZH = {"account": "报账逾期单位 ◆", "demand": "要账逾期未答复单位 ◆"}

# The overview's two looks: light (an office screen) and dark (the command center's wall: dark
# ground, light outlines and text, strong status colours). Each names the colours of the base
# (roads, outlines, labels) and of the layers drawn over it.
THEMES = {
    "light": {
        "background": "#eeece6", "status": {**STATUS_COLORS, "inactive": INACTIVE_COLOR},
        "compound_outline": "#263238", "fill_opacity": 0.65, "county": "#424242",
        "township": "#6d6d6d", "division": "#a3a3a3",
        "road": {"arterial": ("#ffffff", 4), "street": ("#ffffff", 2.5), "lane": ("#fbfbf8", 1.2),
                 "bridge": ("#ffffff", 4)},
        "road_casing": "#cfc9bd", "office": OFFICE_COLOR, "tiers": TIER_COLORS,
        "flag": {"account": "#d81b60", "demand": "#5e35b1"}, "flag_edge": "#ffffff",
    },
    "dark": {
        "background": "#0b1320",
        "status": {"covered": "#00e676", "under_covered": "#ffd600", "uncovered": "#ff1744",
                   "inactive": "#d500f9"},
        "compound_outline": "#0b1320", "fill_opacity": 0.8, "county": "#eceff1",
        "township": "#b0bec5", "division": "#50647f",
        "road": {"arterial": ("#5a6f8f", 3.5), "street": ("#3f5272", 2.2), "lane": ("#33445f", 1.2),
                 "bridge": ("#7088ab", 3.5)},
        "road_casing": None, "office": "#cfd8dc",
        "tiers": {"center": "#7c4dff", "institute": "#448aff", "station": "#18ffff"},
        "flag": {"account": "#ff4081", "demand": "#b388ff"}, "flag_edge": "#0b1320",
    },
}
