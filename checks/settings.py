"""Checks of the 'settings' group."""
