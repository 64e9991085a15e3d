"""`watcher serve` and `--metrics-port`: the TUI in a browser and Prometheus metrics, from run files."""
