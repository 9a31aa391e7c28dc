"""Writing export files atomically: a reader never sees half a file, a failure leaves the old one.

Files are written under temporary names beside their targets and renamed into place together at
the end. A target that is a device or a pipe is written directly, never replaced. A dataset
folder (`-o DIR/`) is made when missing, and removed again when the export fails; a README.md
in it is replaced only when an export wrote it (its front matter says so).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from workbench.errors import SettingError

CARD_NAME = "README.md"  # the dataset card: the name the Hub and `datasets` read
# The card's second line (a YAML comment in its front matter): the mark of a card export wrote,
# which the next export may replace. A README.md without it is someone else's, and kept.
CARD_MARK = "# Written by `workbench export`; export again to update it."


def check_card_is_ours(path: Path) -> None:
    """SettingError when `path` is a file that a workbench export did not write."""
    if not path.exists():
        return
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            head = [f.readline().rstrip("\n") for _ in range(2)]
    except OSError as e:
        raise SettingError("cannot read {path}: {e}", path=path, e=e.strerror) from None
    if head != ["---", CARD_MARK]:
        raise SettingError(
            "{output} {folder} holds a {name} that workbench did not write: give another "
            "folder, or move it away",
            folder=path.parent,
            name=path.name,
        )


@contextmanager
def written(targets: list[Path], folder: Path | None = None) -> Iterator[list[TextIO]]:
    """Handles to write the targets through, renamed into place together when the block ends
    without error; on error the temporary files go and the targets stay as they were. A target
    that is a device or a pipe is written directly, never replaced. No targets: stdout. The
    targets' `folder`, when given, is made if missing (and removed if the block fails)."""
    if not targets:
        yield [sys.stdout]
        sys.stdout.flush()
        return
    if folder is not None and not folder.is_dir():
        try:
            folder.mkdir()
        except OSError as e:
            raise SettingError("cannot make {folder}: {e}", folder=folder, e=e.strerror) from None
        try:
            with written(targets) as made:
                yield made
        except BaseException:
            folder.rmdir()
            raise
        return
    for target in targets:
        if target.is_dir():
            raise SettingError("{output} {target} is a folder; give a file name", target=target)
    temporaries: list[Path | None] = []  # None: a device or pipe, written as it is
    handles: list[TextIO] = []
    try:
        for target in targets:
            # newline="": the JSONL writers end lines with \n, the CSV writer with \r\n.
            try:
                if target.exists() and not target.is_file():  # /dev/stdout, a FIFO: no rename
                    handles.append(target.open("w", encoding="utf-8", newline=""))
                    temporaries.append(None)
                    continue
                fd, name = tempfile.mkstemp(
                    prefix=f".{target.name}.",
                    suffix=".tmp",
                    dir=target.parent if str(target.parent) else ".",
                )
            except OSError as e:
                raise SettingError(
                    "cannot write {target}: {e}", target=target, e=e.strerror
                ) from None
            temporaries.append(Path(name))
            handles.append(os.fdopen(fd, "w", encoding="utf-8", newline=""))
        yield handles
        for handle in handles:
            handle.close()
        mode = 0o666 & ~_umask()  # mkstemp makes 0600; give a file's usual mode
        for temporary, target in zip(temporaries, targets, strict=True):
            if temporary is not None:
                temporary.chmod(mode)
                temporary.replace(target)
    except BaseException:
        for handle in handles:
            handle.close()
        for temporary in temporaries:
            if temporary is not None:
                temporary.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
