"""Colours and Chinese labels shared by every map."""

STATUS_COLORS = {"covered": "#2e7d32", "under_covered": "#f9a825", "uncovered": "#c62828"}
STATUS_ZH = {"covered": "已覆盖", "under_covered": "力量不足", "uncovered": "未包联"}
TIER_COLORS = {"center": "#6a1b9a", "institute": "#1565c0", "station": "#00838f"}
TIER_ZH = {"center": "文明实践中心", "institute": "文明实践所", "station": "文明实践站"}
CIRCLE_COLORS = {"5min": "#1b5e20", "10min": "#7cb342", "15min": "#fbc02d", "beyond": "#d84315"}
CIRCLE_ZH = {"5min": "5分钟生活圈（≤300米）", "10min": "10分钟生活圈（≤500米）",
             "15min": "15分钟生活圈（≤1000米）", "beyond": "15分钟生活圈外"}
OFFICE_COLOR = "#37474f"
