"""Writing files atomically: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bayescale.errors import OutputPathError

__all__ = ["atomic_path", "cache_dir", "check_not_an_input", "check_output_path", "read_netcdf"]


def check_output_path(path: str | os.PathLike, what: str = "output") -> Path:
    """Check that a file can be written at ``path`` without creating folders; return it as a Path.

    Raises
    ------
    OutputPathError
        If ``path`` is a directory, its folder is missing or is a file, or the folder is not
        writable (a file of its own is created there and removed). The message names the path
        and what to do.
    """
    path = _checked_folder(path, what)
    folder = path.parent
    try:  # os.access trusts permission bits: root, /proc, read-only mounts, full disks answer only to a try
        handle, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=folder)
    except OSError as exc:
        raise OutputPathError(f"cannot write the {what} {path}: the folder {folder} is not writable "
                              f"({exc.strerror or exc}); choose another folder") from None
    os.close(handle)
    os.unlink(probe)
    return path


def check_not_an_input(path: str | os.PathLike, inputs: Iterable[str | os.PathLike], what: str = "output") -> None:
    """Refuse an output path that names one of the files read (the runs table, a fit, a prior file).

    Writing there would replace the input with the output: ``bayescale fit runs.csv --out runs.csv``
    would leave a netCDF file where the table was.

    Raises
    ------
    OutputPathError
        If ``path`` is the same file as one of ``inputs`` (compared by the file itself, so another
        spelling of the path or a link to it counts too).
    """
    target = Path(path)
    for given in inputs:
        if not given:
            continue
        source = Path(given)
        try:
            same = source.exists() and target.exists() and os.path.samefile(source, target)
        except OSError:
            same = False
        if same:
            raise OutputPathError(f"cannot write the {what} {path}: it is a file this command reads ({given}), and "
                                  f"writing would replace it; choose another file name")


def _checked_folder(path: str | os.PathLike, what: str) -> Path:
    """``path``, if its folder exists, is a folder and its permission bits allow writing."""
    if str(path).strip() in ("-", ""):
        raise OutputPathError(f"the {what} needs a file name: {str(path)!r} is not one (it is written as a file, "
                              "not to the terminal); name the file to write")
    path = Path(path)
    folder = path.parent
    if path.is_dir():
        raise OutputPathError(f"the {what} path {path} is a directory; give a file name inside it, e.g. {path / 'out'}")
    if not folder.exists():
        # a regular file somewhere above the folder makes it impossible, not just missing
        above = next((p for p in folder.parents if p.exists()), None)
        if above is not None and not above.is_dir():
            raise OutputPathError(f"cannot write the {what} {path}: {above} is a file, not a folder")
        raise OutputPathError(f"cannot write the {what} {path}: the folder {folder} does not exist; create it first")
    if not folder.is_dir():
        raise OutputPathError(f"cannot write the {what} {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError(f"cannot write the {what} {path}: the folder {folder} is not writable")
    return path


@contextmanager
def atomic_path(path: str | os.PathLike, what: str = "output") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    The folder must exist (see :func:`check_output_path`). The temporary file lies in the same
    folder, so the rename is atomic. It gets the permissions a new file would get (the umask),
    and it is removed if the block raises, even on Ctrl-C.
    """
    path = _checked_folder(path, what)  # no probe file: the temporary file below is the try
    try:
        handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputPathError(f"cannot write the {what} {path}: {exc.strerror}") from None
    os.close(handle)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputPathError(f"cannot write the {what} {path}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cache_dir() -> Path:
    """bayescale's cache folder: ``$BAYESCALE_CACHE``, else ``$XDG_CACHE_HOME/bayescale`` (``~/.cache``)."""
    explicit = os.environ.get("BAYESCALE_CACHE")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "bayescale"


def read_netcdf(path: str | os.PathLike, what: str, remedy: str, tree: bool = True):
    """Read a whole netCDF file into memory: a ``DataTree`` (``tree``) or a ``Dataset``.

    Parameters
    ----------
    what : str
        What the file should be, for messages (``"fit file"``).
    remedy : str
        How to make the file again (``"bayescale fit RUNS --out PATH"``).

    Raises
    ------
    FitFileError
        If the file is missing or cannot be read as netCDF.
    """
    import xarray as xr

    from bayescale.errors import FitFileError

    path = Path(path)
    if not path.is_file():
        raise FitFileError(f"no {what} at {path}: run '{remedy}' first")
    try:
        opener = xr.open_datatree if tree else xr.open_dataset
        with opener(path, engine="h5netcdf") as opened:
            return opened.load()
    except Exception as exc:  # h5py/xarray raise many types for a broken file
        raise FitFileError(f"{path} is not a readable netCDF {what} ({type(exc).__name__}: {exc}); "
                           f"it may be truncated or corrupt: run '{remedy}' again") from None


def write_json(path: str | os.PathLike, data: dict, what: str) -> Path:
    """Write ``data`` as indented JSON at ``path``, atomically (see :func:`atomic_path`)."""
    import json

    path = Path(path)
    with atomic_path(path, what) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
    return path


def read_saved_json(path: str | os.PathLike, kinds: tuple[str, ...], wrong_kind: str, remedy: str) -> dict:
    """Read a JSON result bayescale saved (``{"kind": …, "schema": 1, …}``), checking its kind and schema.

    Parameters
    ----------
    kinds : tuple of str
        The accepted values of ``"kind"``.
    wrong_kind : str
        What to say of a file of another kind, after its path (``"is not a bayescale calibration file"``).
    remedy : str
        How to write a good one.

    Raises
    ------
    FitFileError
        If the file cannot be read, is not JSON, is of another kind, or of a newer schema.
    """
    import json

    from bayescale.errors import FitFileError

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FitFileError(f"cannot read {path}: {exc}; {remedy}") from None
    if not isinstance(data, dict) or data.get("kind") not in kinds:
        raise FitFileError(f"{path} {wrong_kind}; {remedy}")
    if data.get("schema", 0) > 1:
        raise FitFileError(f"{path} was written by a newer bayescale (schema {data['schema']}); upgrade to read it")
    return data
