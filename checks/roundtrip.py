"""Checks of the 'roundtrip' group."""
