"""botocore's own data loader, minus two costs a short process pays on every S3 client.

Creating the client read botocore's data files (the S3 service model, its endpoint rule set,
the partitions, the retry and default configurations) as JSON, 50-77 ms of CPU per run, and,
to learn that ``s3`` is a service it knows, listed every one of its 400-odd service folders,
twice, 30 ms more. The files and the answers stay botocore's; only the work moves:

- ``CachedFileLoader`` keeps each file it parses as ``marshal`` in ``<cache>/botocore/``, under
  a name made of botocore's version and the file's path, size and modification time, so a file
  that changes (an upgrade, ``AWS_DATA_PATH``) is read again. A cached file that cannot be read
  back as the dict or list it was is parsed from JSON again. Nothing else reads these files:
  they are the user's own, as Python's ``__pycache__`` is;
- ``DataLoader.list_available_services`` answers ``name in services`` by looking in the folders
  of that one name, and lists every service only when something asks for the whole list (an
  unknown name's error message does).

Search paths are botocore's ``create_loader`` ones, from the session's ``data_path`` setting.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import marshal
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

from botocore.loaders import JSONFileLoader, Loader

from pipper.fsutil import atomic_write_bytes

__all__ = ["CachedFileLoader", "DataLoader", "data_loader"]

log = logging.getLogger(__name__)

EXTENSIONS = (".json", ".json.gz")
"""botocore's own two spellings of a data file, in its order."""

LIMIT = 64 * 2**20


def data_loader(data_path: str | None, cache: Path | None) -> DataLoader:
    """The loader botocore's ``create_loader(data_path)`` makes, with the two savings."""
    paths = [os.path.expanduser(os.path.expandvars(p)) for p in (data_path or "").split(os.pathsep)]
    return DataLoader(
        extra_search_paths=[p for p in paths if p] if data_path else None,
        file_loader=CachedFileLoader(cache),
    )


class CachedFileLoader(JSONFileLoader):  # type: ignore[misc]
    """``JSONFileLoader`` that keeps what it parsed; ``folder`` None: a plain one."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        from botocore import __version__

        self._version = __version__

    def load_file(self, file_path: str) -> Any:
        for ext in EXTENSIONS:
            full = file_path + ext
            try:
                st = os.stat(full)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            kept = self._kept(full, st)
            if kept is not None:
                return kept
            data = json.loads(_read(full).decode("utf-8"))
            self._keep(full, st, data)
            return data
        return None

    def _name(self, full: str, st: os.stat_result) -> Path | None:
        if self.folder is None:
            return None
        text = f"{self._version}\0{full}\0{st.st_size}\0{st.st_mtime_ns}"
        return self.folder / f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.marshal"

    def _kept(self, full: str, st: os.stat_result) -> Any:
        name = self._name(full, st)
        if name is None:
            return None
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as handle:
            raw = handle.read(LIMIT + 1)
        try:
            data = marshal.loads(raw) if len(raw) <= LIMIT else None
        except (EOFError, ValueError, TypeError):
            data = None
        return data if isinstance(data, dict | list) else None

    def _keep(self, full: str, st: os.stat_result, data: Any) -> None:
        name = self._name(full, st)
        if name is None:
            return
        try:
            name.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(name, marshal.dumps(data))
        except (OSError, ValueError) as exc:  # a read-only cache only loses the shortcut
            log.debug("could not keep botocore's %s: %s", full, exc)


def _read(full: str) -> bytes:
    if full.endswith(".gz"):
        with gzip.open(full, "rb") as packed:
            return packed.read()
    with open(full, "rb") as plain:
        return plain.read()


class DataLoader(Loader):  # type: ignore[misc]
    """botocore's ``Loader``, asked for one service without listing them all."""

    def list_available_services(self, type_name: str) -> Sequence[str]:
        return _Services(self, type_name)


class _Services(Sequence[str]):
    """The services with a ``type_name`` file: ``in`` looks at one name, the rest lists all."""

    def __init__(self, loader: DataLoader, type_name: str) -> None:
        self._loader = loader
        self._type_name = type_name
        self._all: list[str] | None = None

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str) or not name or os.sep in name or name.startswith("."):
            return False
        exists = self._loader.file_loader.exists
        for location in self._loader._potential_locations():
            folder = os.path.join(location, name)
            if not os.path.isdir(folder):
                continue
            for version in os.listdir(folder):
                if exists(os.path.join(folder, version, self._type_name)):
                    return True
        return False

    def _every(self) -> list[str]:
        if self._all is None:
            self._all = list(Loader.list_available_services(self._loader, self._type_name))
        return self._all

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._every()[index]

    def __len__(self) -> int:
        return len(self._every())

    def __iter__(self) -> Iterator[str]:
        return iter(self._every())
