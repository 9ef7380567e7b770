"""Checks of the 'cors' group."""
