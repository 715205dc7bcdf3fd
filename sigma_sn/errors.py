"""Errors that speak to the user: every one names the input it came from."""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: a file, a line or a key the user can go and fix.

    The message reads ``path:line: what is wrong`` (or ``path: key: ...``), so the CLI
    can print it as it is and exit with status 2.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 key: str | None = None, detail: str | None = None):
        self.path = path
        self.line = line
        self.key = key
        self.reason = message
        self.detail = detail
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        if key is not None:
            where += f"{key}: "
        text = where + message
        if detail:
            text += "\n" + detail
        super().__init__(text)
