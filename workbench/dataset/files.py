"""Writing export files atomically: a reader never sees half a file, a failure leaves the old one.

Files are written under temporary names beside their targets and renamed into place together at
the end. A target that is a device or a pipe is written directly, never replaced.
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


@contextmanager
def written(targets: list[Path]) -> Iterator[list[TextIO]]:
    """Handles to write the targets through, renamed into place together when the block ends
    without error; on error the temporary files go and the targets stay as they were. A target
    that is a device or a pipe is written directly, never replaced. No targets: stdout."""
    if not targets:
        yield [sys.stdout]
        sys.stdout.flush()
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
