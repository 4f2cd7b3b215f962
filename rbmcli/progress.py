"""A one-line progress bar on stderr, shown only when stderr is a terminal."""

import sys
import time


class ProgressBar:
    """``bar = ProgressBar("epoch 3/10")``; ``bar.update(done, total)``; ``bar.close()``.

    Draws ``label [#####.....] done/total  elapsed<remaining`` with carriage returns,
    at most ten times a second. In a pipe or a log file (stderr not a TTY) it prints
    nothing, so logs stay clean.
    """

    def __init__(self, label, stream=None, enabled=None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.label = label
        self.start = time.perf_counter()
        self._last = 0.0

    def update(self, done, total):
        if not self.enabled:
            return
        now = time.perf_counter()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        width = 30
        filled = int(width * done / max(total, 1))
        elapsed = now - self.start
        remaining = elapsed / done * (total - done) if done else 0.0
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                          f"{done}/{total}  {elapsed:.0f}s<{remaining:.0f}s")
        self.stream.flush()

    def close(self):
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()
