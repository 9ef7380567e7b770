"""Checks of the 'connectivity' group."""
