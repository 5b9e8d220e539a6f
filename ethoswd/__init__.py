"""Ethos Resource Watchdog: a BCC front end that rate-limits read() per process.

The package reads top-down: cli (parse) -> environment (root, BCC,
headers, mounts) -> features (probe the kernel, choose backend and
action) -> probe (compile, load, attach) -> session (report, enforce,
detach).  `watchdog.py` at the repository root is the entry point.
"""

REPO_ROOT = __import__("os").path.dirname(
    __import__("os").path.dirname(__import__("os").path.abspath(__file__)))
