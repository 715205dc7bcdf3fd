"""Output paths of the commands: a missing folder is made and the user is told, so a
long computation never ends in "no such directory"; what cannot be a folder is an error
before anything is computed."""

from __future__ import annotations

import sys
from pathlib import Path


def prepare(path, option: str) -> None:
    """Make the folder that ``path`` (the value of ``option``) goes in, if it does not
    exist, and say so on stderr; an error naming ``option`` when it cannot be made."""
    from sigma_sn.errors import InputError

    if path is None:
        return
    folder = Path(path).parent
    if folder.is_dir():
        return
    try:
        folder.mkdir(parents=True)
    except OSError as exc:
        raise InputError(f"cannot make the folder {folder} for it ({exc.strerror})",
                         key=option) from None
    print(f"made folder {folder}/ for {option} {path}", file=sys.stderr)
