"""This repository's build tools (not part of the installed library)."""
