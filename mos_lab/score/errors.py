"""The one error type of the score layer, carrying every problem found with its field path."""

from __future__ import annotations

from collections.abc import Iterable


class ScoreError(ValueError):
    """A score could not be loaded or is invalid.

    ``problems`` lists every problem found as ``"field.path: what is wrong"`` lines;
    ``str(err)`` joins them so the first line already says what and where.
    """

    def __init__(self, problems: str | Iterable[str], source: str | None = None) -> None:
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        if not self.problems:
            self.problems = ["unknown problem"]
        self.source = source
        prefix = f"{source}: " if source else ""
        if len(self.problems) == 1:
            msg = prefix + self.problems[0]
        else:
            msg = f"{prefix}{len(self.problems)} problems: " + "; ".join(self.problems[:20])
            if len(self.problems) > 20:
                msg += f"; ... and {len(self.problems) - 20} more"
        super().__init__(msg)


class MissingDependencyError(ImportError):
    """An optional dependency (an extra) is needed for this operation."""

    def __init__(self, package: str, extra: str, what: str) -> None:
        super().__init__(
            f"{what} needs the optional package '{package}': "
            f"pip install 'mos_lab[{extra}]' (or pip install {package})"
        )
        self.package = package
        self.extra = extra
