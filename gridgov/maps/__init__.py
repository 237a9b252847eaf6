"""Interactive maps (folium) for the command center and planners; see :mod:`gridgov.maps.pages`."""
