"""Checks of the 'storages' group."""
