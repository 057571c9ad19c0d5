"""Progress that suits where it goes: a live bar on a terminal, plain lines in a log.

A nightly job's log (cron, `make run > log`, DVC, a Spark driver) must read as lines, not as thousands of
carriage-return frames; a person at a terminal wants the live bar. Off a terminal every bar becomes one
line at most every `LOG_EVERY_S` seconds (and one at the end), each with the count, rate and ETA.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TextIO

from tqdm import tqdm

LOG_EVERY_S = 30.0
LOG_WIDTH = 100
# the progress bars of the libraries we call (datasets map, transformers weight loading, hub downloads)
LIBRARY_BARS_OFF = ("HF_DATASETS_DISABLE_PROGRESS_BARS", "HF_HUB_DISABLE_PROGRESS_BARS")


class LineStream:
    """File-like wrapper: each frame tqdm draws becomes one line; blank frames are dropped."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        for frame in re.split(r"[\r\n]+", text):
            if frame.strip():
                self.stream.write(frame.rstrip() + "\n")
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def on_terminal(stream: TextIO | None = None) -> bool:
    stream = stream or sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


def progress(
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    enabled: bool = True,
    stream: TextIO | None = None,
) -> tqdm:
    """A tqdm bar on a terminal, a line logger elsewhere. Callers update it with `refresh=False` postfixes
    so that a log gets lines only at the logging interval."""
    stream = stream or sys.stderr
    if on_terminal(stream):
        return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, file=stream)
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        disable=not enabled,
        file=LineStream(stream),
        mininterval=LOG_EVERY_S,
        maxinterval=LOG_EVERY_S,  # tqdm's monitor would otherwise force a line every 10 s
        ncols=LOG_WIDTH,
        ascii=True,
    )


def quiet_library_bars_off_terminal() -> None:
    """Off a terminal, switch off the libraries' own bars (they would flood a log with frames); call
    before those libraries are imported."""
    if not on_terminal():
        for name in LIBRARY_BARS_OFF:
            os.environ.setdefault(name, "1")
