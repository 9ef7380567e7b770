"""Resolving a row's file name strictly inside MEDIA_ROOT.

A legacy table is input, not trusted: a name may be absolute, climb out with
``..``, or point at a symlink that leaves MEDIA_ROOT. Such files are refused
and recorded, never read (a backfill must not publish /etc/passwd).
"""

import ntpath
import os
from pathlib import Path


class UnsafePath(Exception):
    """The file name cannot be read safely; ``str(exc)`` is the reason."""


def media_root_of(value: str | os.PathLike[str] | None, what: str = "MEDIA_ROOT") -> Path:
    """``value`` (MEDIA_ROOT, or ``what`` names where it comes from, e.g.
    ``--source``) as a resolved directory; ValueError with the fix if unusable."""
    if not value:
        raise ValueError(
            f"{what} is not set; point it at the directory that holds the legacy images."
        )
    root = Path(value).expanduser()
    if not root.is_dir():
        raise ValueError(
            f"{what} {str(root)!r} is not a directory; point {what} at "
            "the directory that holds the legacy images."
        )
    return root.resolve()


def resolve_inside(
    root: str | os.PathLike[str], name: str, directories: dict[str, str] | None = None
) -> str:
    """The real path (a str) of ``name`` under the resolved directory ``root``.

    Raises UnsafePath for names that are empty, absolute or escape ``root``
    (directly or through a symlink). A missing file is not refused here.
    String functions rather than pathlib: this runs once per row.
    ``directories``: a dict a run keeps of the real paths of the directories
    it has resolved (realpath costs a system call per path segment, and
    legacy files share a few directories), so a row costs one ``lstat``.
    """
    if not name:
        raise UnsafePath("the row has no file name")
    if "\x00" in name:
        raise UnsafePath("the file name contains a NUL byte")
    if name.startswith("/") or ntpath.isabs(name) or ntpath.splitdrive(name)[0]:
        raise UnsafePath("absolute path refused: file names must be relative to MEDIA_ROOT")
    if ".." in name.replace("\\", "/").split("/"):
        raise UnsafePath("path escapes MEDIA_ROOT with '..'")
    root = str(root)
    path = os.path.join(root, name)
    if directories is None or os.path.islink(path):
        path = os.path.realpath(path)
    else:
        parent, base = os.path.split(path)
        if parent not in directories:
            directories[parent] = os.path.realpath(parent)
        path = os.path.join(directories[parent], base)
    if os.path.commonpath([root, path]) != root:
        raise UnsafePath("symlink leads outside MEDIA_ROOT")
    return path
