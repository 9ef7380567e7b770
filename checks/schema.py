"""Checks of the 'schema' group."""
