"""Every error type a user can meet and every exit code, in one place.

Exit codes (README, DESIGN.md "Outcomes"): 0 the job is done (gate passed, poem verified);
1 a check failed (gate failed, poem failed verification); 2 bad usage, config, name or key;
3 the run did not finish (items pending, a backend down, workers failed); 4 is internal, from a
worker to its supervisor: fatal, do not restart; 130 stopped by the user.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_RUN_FAILED = 3
EXIT_FATAL = 4
EXIT_DISK_FULL = 5  # internal, worker to supervisor: fatal because a write found no space (ENOSPC)
EXIT_INTERRUPTED = 130


class ConfigError(Exception):
    """A config problem, phrased for the user: which field, what is wrong, how to fix it."""


class MissingKeyError(ConfigError):
    pass


class TrainError(Exception):
    """A training problem phrased for the user, one line: what is wrong and how to fix it."""


class FatalWorkerError(Exception):
    """A worker cannot go on whatever a restart does (a refused key): exit EXIT_FATAL."""


class DiskFullError(Exception):
    """A write failed for lack of space (ENOSPC): one line naming the file and the space left."""


class RunBusyError(ConfigError):
    """Another live process owns the run (its supervisor holds run.lock): refuse, name its pid."""
