"""watcher: the control room for synthetic-data generation jobs."""

__version__ = "0.1.0"
