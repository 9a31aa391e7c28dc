"""Whether a database file sits on a network file system, where SQLite cannot be trusted.

SQLite's locks rely on the file system's POSIX advisory locks, which NFS, SMB and their kin
implement loosely or not at all, and WAL mode needs shared memory between the processes, which
a network file system cannot give (sqlite.org/wal.html, "WAL does not work over a network
filesystem"). Two runners on such a file would corrupt it. We detect it on Linux from the mount
table (/proc/self/mounts): the mount holding the file's folder, the longest matching mount
point, and its file system type. Elsewhere the mount table is not read and nothing is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

MOUNTS = Path("/proc/self/mounts")

# File system types whose locking SQLite cannot rely on: NFS, SMB/CIFS, AFS, NetWare, Plan 9
# shares (WSL's Windows drives, VM shared folders), cluster file systems and FUSE mounts of
# remote stores. virtiofs (Docker Desktop's bind mounts) is one machine's disk and is allowed.
NETWORK_TYPES = frozenset(
    {"nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "afs", "ncpfs", "9p",
     "fuse.sshfs", "fuse.s3fs", "fuse.rclone", "fuse.gcsfuse", "fuse.davfs", "davfs",
     "fuse.glusterfs", "glusterfs", "lustre", "gpfs"}
)  # fmt: skip


def _mounts() -> str | None:
    """The mount table's text, or None where there is none to read (not Linux)."""
    try:
        return MOUNTS.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _unescape(field: str) -> str:
    """A mount point as the table writes it: space, tab, newline and backslash octal-escaped."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def file_system_type(path: str | os.PathLike[str], table: str | None = None) -> str | None:
    """The type of the file system holding `path` (its folder when the file does not exist
    yet), from the mount table `table` (by default this machine's); None when unknown."""
    table = _mounts() if table is None else table
    if table is None:
        return None
    target = Path(path).resolve()
    if not target.exists():
        target = target.parent
    best, best_type = -1, None
    for line in table.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = Path(_unescape(fields[1]))
        if (target == point or point in target.parents) and len(point.parts) > best:
            best, best_type = len(point.parts), fields[2]
    return best_type


def network_file_system(path: str | os.PathLike[str], table: str | None = None) -> str | None:
    """The type of the network file system holding `path`, or None when it is local (or not
    known to be remote)."""
    kind = file_system_type(path, table)
    return kind if kind is not None and kind.lower() in NETWORK_TYPES else None
