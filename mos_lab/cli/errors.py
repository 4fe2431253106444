"""Exit codes and error messages of ``mos-lab``: one convention for every command.

0 done; 1 invalid content (``validate`` found problems); 2 usage error, unreadable
input, or the work could not be done (no audio device, an output that cannot be
written); 130 interrupted. Messages name the user's files and say what is wrong in
words: never ``[Errno 2]`` text, never the name of a temporary file.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

EXIT_CODES_HELP = """\
exit status:
  0    done
  1    invalid content (validate: the score has problems; --strict: it needed repairs)
  2    usage error, unreadable input, or the work could not be done
       (no audio device, an output that cannot be written)
  130  interrupted (Ctrl-C)"""

_REASONS = {
    errno.ENOENT: "not found", errno.EACCES: "permission denied",
    errno.EPERM: "permission denied", errno.EISDIR: "is a folder, not a file",
    errno.ENOTDIR: "a part of the path is not a folder", errno.ENOSPC: "no space left on the disk",
    errno.EROFS: "the file system is read-only", errno.ENAMETOOLONG: "the name is too long",
    errno.EDQUOT: "disk quota exceeded", errno.EFBIG: "the file is too large",
}
_ERRNO_TEXT = re.compile(r"\[Errno (-?\d+)\] ([^:\[]*)(?:: '([^']*)')?")
# a path with a temporary component: ".x.wav.part", ".song.mid.tmp", ".mos-lab-video-ab12/",
# tempfile's "tmpab12cd34"
_TEMP_NAME = re.compile(
    r"""[^\s'"]*(?:/|^|(?<=[\s'"]))(?:\.[^/\s'"]+\.(?:part|tmp)|\.mos-lab-[\w-]+|tmp[\w]{8})"""
    r"""(?:/[^\s'":]*)?""")


class CliError(Exception):
    """A failure the command explains in one line; ``code`` is its exit status."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def _temporary(name: str) -> bool:
    return bool(_TEMP_NAME.search(name))


def describe(exc: BaseException) -> str:
    """One line saying what went wrong, in words (no errno text, no temporary names)."""
    if isinstance(exc, OSError) and exc.errno is not None and exc.strerror:
        reason = _REASONS.get(exc.errno, exc.strerror[:1].lower() + exc.strerror[1:])
        name = exc.filename
        if name is not None and not _temporary(str(name)):
            return f"{name}: {reason}"
        return reason
    text = str(exc).strip()
    msg = text.splitlines()[0] if text else type(exc).__name__
    msg = _ERRNO_TEXT.sub(_reworded, msg)
    return _TEMP_NAME.sub("a temporary file", msg)


def _reworded(m: re.Match[str]) -> str:
    """``[Errno 2] No such file or directory: 'x'`` -> ``x: not found``."""
    text = m.group(2).strip()
    reason = _REASONS.get(int(m.group(1)), text[:1].lower() + text[1:])
    return f"{m.group(3)}: {reason}" if m.group(3) else reason


def input_file(path: str) -> Path:
    """``path`` if it names a readable file, else a CliError (exit 2) saying why."""
    p = Path(path)
    if not p.exists():
        raise CliError(f"{path}: not found")
    if p.is_dir():
        raise CliError(f"{path}: is a folder, not a file")
    try:
        with p.open("rb"):
            pass
    except OSError as exc:
        raise CliError(f"{path}: {_REASONS.get(exc.errno or 0, 'cannot be read')}") from None
    return p


@contextmanager
def writing(path: str | Path) -> Iterator[None]:
    """Turn an OSError while writing ``path`` into a CliError naming ``path`` (not the
    temporary file a writer may use) with the reason in words."""
    try:
        yield
    except OSError as exc:
        reason = _REASONS.get(exc.errno or 0) or describe(exc)
        raise CliError(f"cannot write {path}: {reason}") from None


def output_file(path: str, suffixes: tuple[str, ...], what: str) -> Path:
    """``path`` if its extension is one of ``suffixes`` and its folder exists, else CliError."""
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        shown = p.suffix or "(no extension)"
        raise CliError(f"output: cannot write {what} as '{shown}' "
                       f"(use {', '.join(suffixes)})")
    if not p.parent.is_dir():
        raise CliError(f"output: folder {p.parent} does not exist")
    if p.is_dir():
        raise CliError(f"output: {p} is a folder")
    return p


__all__ = ["EXIT_CODES_HELP", "EXIT_INTERRUPTED", "EXIT_INVALID", "EXIT_OK", "EXIT_USAGE",
           "CliError", "describe", "input_file", "output_file", "writing"]
