"""Finding the pickle programs inside a model file, by its content (never by its name alone).

A file's suffix says little — a pickle renamed ``.weights`` loads just the same — so the first
bytes decide: a raw pickle (one or several stacked, as PyTorch's legacy format and joblib write),
a joblib file compressed with zlib, gzip, bz2 or xz, a ZIP (PyTorch's zip-of-pickles, TorchScript,
``.npz``, any zip holding pickles), a NumPy ``.npy`` whose dtype holds Python objects (the rest of
the file is a pickle), HDF5 (Keras ``.h5``), or none of these (no pickle to run).

Every stream is read incrementally and bounded (members, decompressed bytes and ratios, header
sizes), so a hostile file costs time proportional to its size and little memory.
"""

from __future__ import annotations

import ast
import bz2
import gzip
import io
import lzma
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from aitrace.evidence.scan.opcodes import (
    PickleStream,
    PickleWalkError,
    ScanLimitError,
    Tape,
    long_value,
    looks_like_pickle,
    walk_pickle,
)

MAX_MEMBERS = 100_000
MAX_PICKLE_MEMBERS = 1_000
MAX_STACKED = 64
MAX_RATIO = 200  # decompressed / compressed bytes beyond which a stream is a bomb
MIN_BOMB = 256 * 1024 * 1024  # ...once it has produced at least this much
NPY_MAX_HEADER = 64 * 1024
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
PICKLE_SUFFIXES = (".pkl", ".pickle", ".debug_pkl", ".joblib", ".dill")

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
NPY_MAGIC = b"\x93NUMPY"


@dataclass
class Container:
    """What a file holds: its container kind and the pickle programs found in it."""

    kind: str
    streams: list[PickleStream] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None  # the walk stopped early: the file was not fully scanned


class _Bounded(io.RawIOBase):
    """A decompressing reader that refuses to inflate beyond a ratio of its input (bombs)."""

    def __init__(self, inner: IO[bytes], counted: _Counting, what: str) -> None:
        self._inner, self._counted, self._what, self.produced = inner, counted, what, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(b))
        self.produced += len(data)
        if self.produced > MIN_BOMB and self.produced > MAX_RATIO * max(self._counted.n, 1):
            raise ScanLimitError(f"{self._what} inflates more than {MAX_RATIO} times "
                                  "(a decompression bomb?)")
        b[:len(data)] = data
        return len(data)


class _Counting(io.RawIOBase):
    """Counts the compressed bytes read from a file."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh, self.n = fh, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._fh.read(len(b))
        self.n += len(data)
        b[:len(data)] = data
        return len(data)


class _Zlib(io.RawIOBase):
    """A raw zlib stream as a file (joblib's ``compress=`` default)."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh, self._z, self._buf = fh, zlib.decompressobj(), b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buf and not self._z.eof:
            chunk = self._fh.read(1 << 16)
            self._buf = self._z.decompress(chunk, 1 << 20) if chunk else self._z.flush()
            if not chunk:
                break
            while self._z.unconsumed_tail and len(self._buf) < len(b):
                self._buf += self._z.decompress(self._z.unconsumed_tail, 1 << 20)
        n = min(len(b), len(self._buf))
        b[:n], self._buf = self._buf[:n], self._buf[n:]
        return n


def _compression(head: bytes) -> str | None:
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:3] == b"BZh":
        return "bz2"
    if head[:6] == b"\xfd7zXZ\x00" or head[:3] == b"]\x00\x00":
        return "xz" if head[:1] == b"\xfd" else "lzma"
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return "zlib"
    if head[:4] == b"\x04\x22\x4d\x18":
        return "lz4"
    return None


@contextmanager
def _decompressed(fh: IO[bytes], kind: str, what: str) -> Iterator[IO[bytes]]:
    counted = _Counting(fh)
    raw: IO[bytes]
    if kind == "gzip":
        raw = gzip.GzipFile(fileobj=io.BufferedReader(counted))  # type: ignore[assignment]
    elif kind == "bz2":
        raw = bz2.BZ2File(io.BufferedReader(counted))  # type: ignore[assignment]
    elif kind in ("xz", "lzma"):
        raw = lzma.LZMAFile(io.BufferedReader(counted))  # type: ignore[assignment]  # noqa: SIM115
    else:
        raw = io.BufferedReader(_Zlib(io.BufferedReader(counted)))
    with io.BufferedReader(_Bounded(raw, counted, what)) as out:
        yield out


def read_container(path: Path) -> Container:
    """Every pickle program in ``path``, read without loading it (see the module docstring)."""
    with path.open("rb") as fh:
        head = fh.read(8)
        fh.seek(0)
        if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
            return _zip(path)
        if head == HDF5_MAGIC:
            return Container("hdf5")
        if head[:6] == NPY_MAGIC:
            return _npy(fh, path.name)
        if looks_like_pickle(head):
            return _stacked(fh, "pickle", "")
        kind = _compression(head)
        if kind == "lz4":
            return Container("lz4", error="lz4-compressed joblib files are not supported; save "
                                           "with compress=('zlib', 3) or another stdlib codec")
        if kind is not None:
            try:
                with _decompressed(fh, kind, path.name) as inner:
                    found = _stacked(inner, f"{kind}-compressed", "")
            except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
                return Container(f"{kind}-compressed", error=f"cannot decompress ({exc})")
            except PickleWalkError as exc:
                return Container(f"{kind}-compressed", error=exc.message)
            return found
    return Container("none", notes=["no pickle found: the file does not start like a pickle, "
                                    "a ZIP, compressed joblib, .npy or HDF5"])


def _stacked(fh: IO[bytes], kind: str, origin: str) -> Container:
    """One or more pickles one after the other (PyTorch legacy, joblib, plain pickle)."""
    tape = Tape(fh)
    out = Container(kind)
    try:
        while len(out.streams) < MAX_STACKED:
            n = len(out.streams) + 1
            where = f"{origin}pickle {n}" if n > 1 else origin.removesuffix(": ")
            extra: list[PickleStream] = []
            out.streams.append(walk_pickle(tape, where, extra=extra))
            out.streams.extend(extra)
            if any(s.joblib_arrays for s in out.streams):
                out.kind = "joblib" if kind == "pickle" else f"joblib ({kind})"
            if len(out.streams) == 1 and long_value(out.streams[0]) == TORCH_LEGACY_MAGIC:
                out.kind = "pytorch-legacy"
            if out.kind == "pytorch-legacy" and len(out.streams) == 5:
                out.notes.append("PyTorch legacy format: the raw tensor storages after the "
                                 "fifth pickle hold no code and were not read")
                return out
            nxt = tape.peek()
            if not nxt:
                return out
            if not looks_like_pickle(nxt + b"\x02"):
                out.notes.append(f"bytes from {tape.pos} on do not start a pickle and were "
                                 "not read (a loader stops at the first pickle's STOP)")
                return out
        out.notes.append(f"more than {MAX_STACKED} stacked pickles: the rest was not read")
        out.error = f"more than {MAX_STACKED} stacked pickles"
    except PickleWalkError as exc:
        if not out.streams and not exc.imports and not isinstance(exc, ScanLimitError):
            # not a pickle after all (or one that fails before importing anything callable)
            return Container("none", notes=[f"{origin}no pickle: the bytes stop parsing as "
                                            f"one before any import ({exc.message})"])
        out.error = f"{origin or 'the file'}: {exc.message}"
    return out


def _zip(path: Path) -> Container:
    out = Container("zip")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return Container("zip", error=f"not a readable ZIP ({exc})")
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            return Container("zip", error=f"{len(infos)} members (over {MAX_MEMBERS})")
        names = [i.filename for i in infos]
        if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            code = any("/code/" in f"/{n}" for n in names)
            out.kind = "torchscript-zip" if code else "pytorch-zip"
        elif "config.json" in names and "metadata.json" in names:
            out.kind = "keras-zip"
            out.notes.append("Keras v3 archive: its config.json is checked for Lambda layers "
                             "only where modelscan has TensorFlow")
        picked = 0
        for info in infos:
            if info.is_dir() or not _maybe_pickle_member(zf, info):
                continue
            picked += 1
            if picked > MAX_PICKLE_MEMBERS:
                out.error = f"more than {MAX_PICKLE_MEMBERS} pickle members"
                break
            if info.file_size > MIN_BOMB and info.file_size > MAX_RATIO * max(
                    info.compress_size, 1):
                out.error = f"{info.filename}: inflates more than {MAX_RATIO} times"
                break
            try:
                with zf.open(info) as member:
                    head = member.peek(8)[:8] if hasattr(member, "peek") else b""
                    if head[:6] == NPY_MAGIC:
                        inner = _npy(member, info.filename)  # type: ignore[arg-type]
                    else:
                        inner = _stacked(member, "pickle", f"{info.filename}: ")  # type: ignore[arg-type]
            except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
                out.error = f"{info.filename}: cannot be read ({exc})"
                break
            out.streams.extend(inner.streams)
            out.notes.extend(f"{info.filename}: {n}" for n in inner.notes)
            if inner.error:
                out.error = inner.error
                break
    if not out.streams and out.error is None:
        out.notes.append("no pickle member in the archive")
    return out


def _maybe_pickle_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Pickle members: by name, or any member starting like a pickle or an object ``.npy``.

    PyTorch's raw tensor storages (``<name>/data/<n>``) are numbers, not code: they are never
    sniffed, so float bytes that happen to begin with ``0x80 0x02`` are not taken for a pickle.
    """
    name = info.filename
    parts = name.split("/")
    if len(parts) >= 2 and parts[-2] == "data" and parts[-1].isdigit():
        return False
    if name.lower().endswith(PICKLE_SUFFIXES) or name.lower().endswith(".npy"):
        return True
    with zf.open(info) as member:
        head = member.read(8)
    return head[:6] == NPY_MAGIC or (len(head) >= 2 and head[0] == 0x80 and
                                     2 <= head[1] <= 5)


def _npy(fh: IO[bytes], name: str) -> Container:
    """A ``.npy`` file: only an object dtype makes the data a pickle."""
    magic = fh.read(8)
    major = magic[6] if len(magic) == 8 else 0
    width = 2 if major == 1 else 4
    raw = fh.read(width)
    size = int.from_bytes(raw, "little") if len(raw) == width else -1
    if not 0 < size <= NPY_MAX_HEADER:
        return Container("numpy", error=f"{name}: .npy header length {size} is not valid")
    header = fh.read(size).decode("latin-1", "replace")
    try:
        meta = ast.literal_eval(header.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return Container("numpy", error=f"{name}: .npy header is not a Python literal")
    descr = meta.get("descr") if isinstance(meta, dict) else None
    if descr is None:
        return Container("numpy", error=f"{name}: .npy header has no descr")
    if "O" not in repr(descr):
        return Container("numpy", notes=[f"{name}: plain numeric array, no pickle"])
    found = _stacked(fh, "numpy-object", f"{name}: ")
    found.notes.append(f"{name}: object-dtype array: its data is a pickle")
    return found
