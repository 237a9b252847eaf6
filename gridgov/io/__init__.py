"""Reading, validating, importing and exporting layers."""
