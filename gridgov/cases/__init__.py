"""Cases: intake, routing, lifecycle, working-time deadlines and KPIs.

``intake`` takes reports in (one, or a file of 12345 orders); ``routing`` finds the responsible
unit and says why in Chinese; ``lifecycle`` moves a case and logs each move; ``sla`` sets each
stage's deadline from the one calendar (gridgov.calendar); ``kpis`` measures units and places.
"""
