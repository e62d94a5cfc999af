"""The one error of stack loading: where the problem is, what it is, and how to fix it."""

from __future__ import annotations


class ConfigError(Exception):
    """A stack file problem: where it is, what is wrong, and how to fix it."""

    def __init__(self, source: str, key: str, problem: str, fix: str) -> None:
        self.source, self.key, self.problem, self.fix = source, key, problem, fix
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {problem}. Fix: {fix}")
