"""The gridgov web service (installed as ``gridgov_api``; see README "Layout")."""
