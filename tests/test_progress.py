"""Logs read as lines off a terminal (a nightly job's log), live bars on one."""

from __future__ import annotations

import io

from pipeline.progress import progress


def test_off_a_terminal_progress_is_a_few_plain_lines_with_count_and_rate():
    out = io.StringIO()
    with progress(total=5000, desc="score", unit=" rows", stream=out) as bar:
        for _ in range(5000):
            bar.update(1)
            bar.set_postfix(loss="0.1", refresh=False)
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and 1 <= len(lines) <= 3  # not one frame per update
    assert "5000/5000" in lines[-1] and "rows/s" in lines[-1]


def test_on_a_terminal_the_bar_redraws_in_place():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    with progress(total=3, desc="score", stream=out) as bar:
        for _ in range(3):
            bar.update(1)
    assert "\r" in out.getvalue()
