"""The progress bar shows on a terminal and stays out of pipes and files."""

from __future__ import annotations

import io

from sigma_sn.progress import Progress


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_silent_when_stderr_is_not_a_terminal():
    stream = io.StringIO()
    with Progress("windows", 10, stream=stream) as bar:
        bar.advance(10)
    assert stream.getvalue() == ""


def test_shows_stage_and_share_on_a_terminal():
    stream = FakeTTY()
    with Progress("windows", 4, stream=stream) as bar:
        bar.advance(4)
    text = stream.getvalue()
    assert "windows" in text and "100.0%" in text and text.endswith("\n")
