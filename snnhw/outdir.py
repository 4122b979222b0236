"""Output folders that snnhw owns: it replaces only what it created, atomically, one writer
at a time.

A build is written into a hidden staging folder beside its destination
(``.<name>.partial-XXXX``) that carries the marker file ``.snnhw-build`` from its first
moment. When the build succeeds the staging folder and the destination trade places in one
``renameat2(RENAME_EXCHANGE)`` (two renames where the kernel lacks it), and only then is the
old build removed; when it fails the staging folder is removed and the old build is untouched.

The destination is refused, in one line, when it:

* is empty text, ``/``, the home folder, the working directory or one of its parents;
* holds an input of the run (the model being built);
* exists and is neither an empty folder nor an snnhw build (no marker): snnhw never deletes
  what it did not create;
* is a symbolic link, or a file.

A lock file beside the destination (``.<name>.lock``, holding the writer's pid) makes a
second writer of the same folder fail at once, naming the first. Staging folders of a killed
run (SIGKILL, power loss) are removed by the next run on the same destination.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from . import SnnhwError, __version__
from .files import current_umask

__all__ = ["MARKER", "MARKER_FORMAT", "OutputFolder", "check_plain_name", "is_snnhw_folder"]

MARKER = ".snnhw-build"
MARKER_FORMAT = "snnhw-build"
MARKER_VERSION = 1
# a model's or recipe's name: it names folders (build/<name>/), so never a path
PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_plain_name(value: Any, where: str) -> str:
    """``value`` if it is a plain name (a letter or digit, then up to 63 letters, digits,
    ``_``, ``.`` or ``-``); else :class:`SnnhwError` naming ``where``."""
    if not isinstance(value, str) or not PLAIN_NAME.match(value) or ".." in value:
        shown = " ".join(repr(value).split())[:60]
        raise SnnhwError(f"{where}: name={shown}; a plain name is required (a letter or "
                         f"digit, then letters, digits, '_', '.' or '-'), never a path")
    return value


def is_snnhw_folder(folder: Path) -> bool:
    """Whether ``folder`` carries a readable snnhw marker."""
    try:
        meta = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("format") == MARKER_FORMAT


def _refuse_protected(given: str | Path, option: str, inputs: tuple[Path, ...]) -> Path:
    out = Path(given)
    if str(given) == "":
        raise SnnhwError(f"{option} '': an empty path; name a new folder")
    if str(out) == ".":
        raise SnnhwError(f"{option} {str(given)!r}: the working directory cannot be an output "
                         f"folder; name a new folder")
    # symbolic links resolved in the parents but not in the folder itself (refused below)
    absolute = Path(os.path.normpath(out.expanduser().absolute()))
    resolved = absolute.parent.resolve() / absolute.name if absolute.name else absolute
    cwd = Path.cwd().resolve()
    protected = {Path("/"): "the root folder", Path.home().resolve(): "your home folder"}
    if resolved in protected:
        raise SnnhwError(f"{option} {out}: is {protected[resolved]}; name a new folder")
    if cwd.is_relative_to(resolved):
        raise SnnhwError(f"{option} {out}: is the working directory or one of its parents; "
                         f"name a new folder")
    for path in inputs:
        if path.resolve().is_relative_to(resolved):
            raise SnnhwError(f"{option} {out}: holds the input {path}; choose an output folder "
                             f"outside it (the default is build/<name>/hw)")
    return resolved


def _check_replaceable(out: Path, option: str, shown: str | Path) -> None:
    if out.is_symlink():
        raise SnnhwError(f"{option} {shown}: is a symbolic link; name the folder itself")
    if not out.exists():
        return
    if not out.is_dir():
        raise SnnhwError(f"{option} {shown}: exists and is not a folder")
    if is_snnhw_folder(out):
        return
    if any(out.iterdir()):
        raise SnnhwError(f"{option} {shown}: exists and was not written by snnhw (no {MARKER} "
                         f"marker); snnhw never replaces a folder it did not create: choose "
                         f"another {option} or move that folder away yourself")


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


class _Lock:
    """An exclusive, non-blocking ``flock`` on ``path``; the file is removed on release."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self.fd: int | None = None

    def acquire(self) -> None:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                os.close(fd)
                raise SnnhwError(f"{self.what}: another snnhw run (pid {holder}) is writing "
                                 f"this folder; wait for it to end or choose another output"
                                 ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:      # not a lock file its previous holder removed meanwhile
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                self.fd = fd
                return
            os.close(fd)

    def release(self) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self.fd)
            self.fd = None


class OutputFolder:
    """``with OutputFolder(out, inputs=(model,)) as staging:`` write into ``staging``; on a
    clean exit it becomes ``out`` (replacing an earlier snnhw build there), on an exception
    (a signal included) it is removed. ``option`` names the setting in messages."""

    def __init__(self, out: str | Path, *, inputs: tuple[str | Path, ...] = (),
                 option: str = "--out") -> None:
        self.option = option
        self.given = out
        self.out = _refuse_protected(out, option, tuple(Path(p) for p in inputs))
        self.lock = _Lock(self.out.parent / f".{self.out.name}.lock", f"{option} {out}")
        self.staging: Path | None = None

    def check(self) -> None:
        """Refuse now (before long work) what :meth:`__enter__` would refuse."""
        _check_replaceable(self.out, self.option, self.given)

    def __enter__(self) -> Path:
        self.check()
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self.lock.acquire()
        except OSError as exc:
            raise SnnhwError(f"{self.option} {self.given}: cannot write the output folder "
                             f"({exc.strerror})") from None
        try:
            self.check()     # again, now that we hold the lock
            self._remove_stale()
            self.staging = Path(tempfile.mkdtemp(dir=self.out.parent,
                                                 prefix=f".{self.out.name}.partial-"))
            self.staging.chmod(0o777 & ~current_umask())   # mkdtemp makes it private
            (self.staging / MARKER).write_text(json.dumps(
                {"format": MARKER_FORMAT, "version": MARKER_VERSION, "snnhw": __version__}) + "\n")
        except BaseException:
            self._discard()
            raise
        return self.staging

    def _remove_stale(self) -> None:
        """Staging and old folders of an earlier run that was killed before it could clean
        up; only folders that carry the marker (or are empty) are removed."""
        for prefix in (f".{self.out.name}.partial-", f".{self.out.name}.old-"):
            for path in self.out.parent.glob(f"{prefix}*"):
                if path.is_dir() and not path.is_symlink() and (
                        is_snnhw_folder(path) or not any(path.iterdir())):
                    shutil.rmtree(path, ignore_errors=True)

    def _discard(self) -> None:
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
        self.lock.release()

    def _commit(self) -> None:
        assert self.staging is not None
        if self.out.exists():
            if _exchange(self.staging, self.out):
                old = self.staging
            else:
                old = Path(tempfile.mkdtemp(dir=self.out.parent, prefix=f".{self.out.name}.old-"))
                os.rmdir(old)
                os.rename(self.out, old)
                os.rename(self.staging, self.out)
            self.staging = None
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(self.staging, self.out)
            self.staging = None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if kind is None:
                self._commit()
        finally:
            self._discard()
