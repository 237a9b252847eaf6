"""Analyses over the store. Each takes a connection (or engine) and returns plain data or
(Geo)DataFrames; the CLI, the API and the notebooks call these same functions."""
