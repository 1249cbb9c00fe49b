"""Reading a pickle stream as opcodes, never as objects: imports, and joblib's inline arrays.

A pickle is a small program for a stack machine whose ``GLOBAL``/``REDUCE`` opcodes import and
call anything. This module reads that program without running it: each opcode is decoded from the
bytes (``pickletools``' opcode table, no unpickler), and a *symbolic* stack follows the values only
as far as needed to

* list every import (``GLOBAL``, ``INST``, ``STACK_GLOBAL``; a ``STACK_GLOBAL`` whose names are
  not plain strings is a *dynamic* import, itself a finding);
* find joblib's ``NumpyArrayWrapper`` objects, after whose ``BUILD`` joblib writes the raw array
  bytes (or, for object arrays, a nested pickle) into the middle of the stream. The wrapper's
  state gives the array's shape and dtype, so those bytes are skipped — or the nested pickle
  walked — and the walk goes on. Both scanners stop at the first array otherwise: modelscan then
  misses anything after it, fickling reports garbage.

The output is the stream *normalised* for scanners: the same opcodes, without ``FRAME``s, joblib
array payloads and large byte constants (their content is data, not code; each is replaced by
an empty one), so a scanner sees the whole program of a multi-gigabyte file in a few kilobytes.
Nothing is ever imported, called or unpickled; sizes, line lengths and opcode counts are bounded.
"""

from __future__ import annotations

import math
import pickletools
import re
from dataclasses import dataclass
from typing import IO, Any

from aitrace.errors import InputError

SMALL_BYTES = 4096  # byte constants longer than this are emptied in the normalised stream
MAX_STRING = 64 * 1024 * 1024
MAX_LINE = 1024 * 1024
MAX_OPCODES = 50_000_000
MAX_NESTING = 8  # joblib object arrays hold pickles that may hold joblib-style arrays again

JOBLIB_WRAPPER = ("joblib.numpy_pickle", "NumpyArrayWrapper")
_NUMPY_DTYPE = frozenset({("numpy", "dtype"), ("numpy.core.multiarray", "dtype"),
                          ("numpy._core.multiarray", "dtype")})
_TYPESTR = re.compile(r"^[<>=|]?([?bBhHiIlLqQpPefdgFDGSaUVOMm])(\d*)")
_CODE2OP = {op.code.encode("latin-1"): op for op in pickletools.opcodes}
_BYTES_OPS = frozenset({"BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"})
_LENGTH_PREFIX = {-2: 1, -3: 4, -4: 4, -5: 8}  # pickletools' TAKEN_FROM_ARGUMENT* codes


class PickleWalkError(InputError):
    """A stream could not be walked to its end (truncated, malformed or over a limit).

    ``imports`` are those read before the failure: with none, no loader could have run code
    before failing at the same place (nothing callable was imported yet).
    """

    imports: tuple[Import, ...] = ()


class ScanLimitError(PickleWalkError):
    """A stream is over one of the walk's bounds (size, count, nesting, inflation)."""


@dataclass(frozen=True)
class Import:
    """One global a pickle would import when loaded (``module``, ``name``)."""

    module: str
    name: str

    @property
    def dotted(self) -> str:
        """``module.name``."""
        return f"{self.module}.{self.name}"


DYNAMIC_IMPORT = Import("<dynamic>", "<dynamic>")
"""A ``STACK_GLOBAL`` whose module or name is computed: what it imports cannot be known."""


@dataclass(frozen=True)
class PickleStream:
    """One pickle program found in a file, normalised for the scanners."""

    origin: str
    data: bytes
    imports: tuple[Import, ...]
    opcodes: int
    skipped_bytes: int = 0  # array payloads and large byte constants left out of ``data``
    joblib_arrays: int = 0


@dataclass
class _Obj:
    """A value the pickle would build by calling something (never called here)."""

    callee: Any
    args: Any = None
    state: Any = None


class _Dict:
    """A symbolic dict: key/value pairs (keys may be unhashable symbols)."""

    def __init__(self) -> None:
        self.items: list[tuple[Any, Any]] = []

    def get(self, key: str) -> Any:
        for k, v in self.items:
            if isinstance(k, str) and k == key:
                return v
        return None

    def has(self, key: str) -> bool:
        return any(isinstance(k, str) and k == key for k, _ in self.items)


_MARK = object()
_OPAQUE = object()


class Tape:
    """A bounded reader over a binary stream that copies the opcode bytes it is told to keep."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self.pos = 0
        self.sink: bytearray | None = None
        self._pushback = b""

    def read(self, n: int) -> bytes:
        """Exactly ``n`` bytes (kept in the sink), or ``PickleWalkError`` at the end."""
        data = self._take(n)
        if self.sink is not None:
            self.sink += data
        return data

    def take(self, n: int) -> bytes:
        """Exactly ``n`` bytes, not kept (opcode bytes the caller copies itself, padding)."""
        return self._take(n)

    def _take(self, n: int) -> bytes:
        head, self._pushback = self._pushback[:n], self._pushback[n:]
        data = head + (self._fh.read(n - len(head)) if n > len(head) else b"")
        if len(data) < n:
            raise PickleWalkError(f"stream ends at byte {self.pos + len(data)} inside a value "
                                  f"of {n} bytes")
        self.pos += n
        return data

    def readline(self) -> bytes:
        """One newline-terminated argument (kept), at most ``MAX_LINE`` bytes."""
        line = bytearray()
        while True:
            c = self._take(1)
            line += c
            if c == b"\n":
                break
            if len(line) > MAX_LINE:
                raise ScanLimitError(f"a text argument at byte {self.pos} is longer than "
                                      f"{MAX_LINE} bytes")
        if self.sink is not None:
            self.sink += line
        return bytes(line)

    def skip(self, n: int) -> None:
        """Pass over ``n`` bytes of data without keeping them."""
        while n > 0:
            chunk = self._take(min(n, 1 << 20))
            n -= len(chunk)

    def peek(self) -> bytes:
        """The next byte without consuming it (``b""`` at the end)."""
        if not self._pushback:
            self._pushback = self._fh.read(1)
        return self._pushback[:1]


def _arg(tape: Tape, op: pickletools.OpcodeInfo, out: bytearray) -> tuple[Any, int]:
    """Decode ``op``'s argument; returns (value, bytes skipped instead of copied)."""
    desc = op.arg
    if desc is None:
        return None, 0
    if desc.n >= 0 or desc.n == pickletools.UP_TO_NEWLINE:
        try:
            return desc.reader(tape), 0  # type: ignore[arg-type]
        except ValueError as exc:  # pickletools' readers reject malformed text arguments
            raise PickleWalkError(f"{op.name} at byte {tape.pos}: {exc}") from None
    width = _LENGTH_PREFIX[desc.n]
    saved, tape.sink = tape.sink, None
    try:
        raw_len = tape.read(width)
        if op.name in ("LONG1", "LONG4"):
            n = int.from_bytes(raw_len, "little", signed=op.name == "LONG4")
        else:
            n = int.from_bytes(raw_len, "little", signed=width == 4 and op.name == "BINSTRING")
        if n < 0:
            raise PickleWalkError(f"{op.name} at byte {tape.pos} has a negative length")
        if op.name in _BYTES_OPS and n > SMALL_BYTES:
            tape.skip(n)
            out.pop()  # the opcode byte: replace the constant with an empty one of its kind
            out += b"\x96" + bytes(8) if op.name == "BYTEARRAY8" else b"C\x00"
            return b"", n
        if n > MAX_STRING:
            raise ScanLimitError(f"{op.name} at byte {tape.pos} claims {n} bytes (over the "
                                  f"{MAX_STRING}-byte limit)")
        data = tape.read(n)
    finally:
        tape.sink = saved
    out += raw_len + data
    if op.name in ("LONG1", "LONG4"):
        return int.from_bytes(data, "little", signed=True), 0
    if op.name.endswith("UNICODE") or op.name.endswith("UNICODE8"):
        return data.decode("utf-8", "surrogatepass"), 0
    if op.name in ("BINSTRING", "SHORT_BINSTRING"):
        return data.decode("latin-1"), 0
    return data, 0


def walk_pickle(tape: Tape, origin: str, *, depth: int = 0,
                extra: list[PickleStream] | None = None) -> PickleStream:
    """Walk one pickle (up to and including its ``STOP``) and normalise it.

    Streams found inside it (joblib object arrays) are appended to ``extra``.
    """
    if depth > MAX_NESTING:
        raise ScanLimitError(f"{origin}: pickles nested more than {MAX_NESTING} deep")
    out = bytearray()
    imports: list[Import] = []
    machine = _Machine()
    try:
        return _walk(tape, origin, depth, extra, out, imports, machine)
    except PickleWalkError as exc:
        exc.imports = tuple(imports)
        raise


def _walk(tape: Tape, origin: str, depth: int, extra: list[PickleStream] | None,
          out: bytearray, imports: list[Import], machine: _Machine) -> PickleStream:
    skipped = arrays = count = 0
    while True:
        at = tape.pos
        code = tape.take(1)
        op = _CODE2OP.get(code)
        if op is None:
            raise PickleWalkError(f"byte {at} is not a pickle opcode ({code!r})")
        count += 1
        if count > MAX_OPCODES:
            raise ScanLimitError(f"more than {MAX_OPCODES} opcodes")
        if op.name == "FRAME":
            tape.skip(8)  # frames only group opcodes; the normalised stream has none
            continue
        out += code
        tape.sink = out
        try:
            value, gone = _arg(tape, op, out)
        finally:
            tape.sink = None
        skipped += gone
        try:
            imported, built = machine.step(op.name, value)
        except (IndexError, KeyError, TypeError, ValueError) as exc:
            raise PickleWalkError(f"opcode {op.name} at byte {at} does not fit the stack "
                                  f"({type(exc).__name__})") from None
        if imported is not None and (not imports or imports[-1] != imported):
            imports.append(imported)
        if op.name == "STOP":
            break
        if built is not None and _is_wrapper(built):
            arrays += 1
            nested = _skip_array(tape, built, f"{origin}, joblib array {arrays}", depth)
            if isinstance(nested, PickleStream):
                if extra is not None:
                    extra.append(nested)
            else:
                skipped += nested
    return PickleStream(origin=origin, data=bytes(out), imports=tuple(dict.fromkeys(imports)),
                        opcodes=count, skipped_bytes=skipped, joblib_arrays=arrays)


def _is_wrapper(obj: _Obj) -> bool:
    c = obj.callee
    return isinstance(c, Import) and (c.module, c.name) == JOBLIB_WRAPPER


def _skip_array(tape: Tape, wrapper: _Obj, origin: str, depth: int) -> int | PickleStream:
    """Pass over the array joblib wrote after a wrapper; an object array is a nested pickle."""
    state = wrapper.state
    if not isinstance(state, _Dict):
        raise PickleWalkError(f"{origin}: the NumpyArrayWrapper state is not a dict")
    itemsize, has_object = _dtype_size(state.get("dtype"), origin)
    if has_object:
        return walk_pickle(tape, origin + " (object array)", depth=depth + 1)
    shape = state.get("shape")
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and not isinstance(d, bool)
                                               and d >= 0 for d in shape):
        raise PickleWalkError(f"{origin}: the array shape {shape!r} is not a tuple of sizes")
    nbytes = math.prod(shape) * itemsize
    padding = 0
    if state.has("numpy_array_alignment_bytes") and \
            state.get("numpy_array_alignment_bytes") is not None:
        padding = 1 + tape.take(1)[0]
        tape.skip(padding - 1)
    tape.skip(nbytes)
    return nbytes + padding


def _dtype_size(dtype: Any, origin: str) -> tuple[int, bool]:
    """(itemsize, has Python objects) of a pickled ``numpy.dtype`` — read, never built."""
    if not (isinstance(dtype, _Obj) and isinstance(dtype.callee, Import)
            and (dtype.callee.module, dtype.callee.name) in _NUMPY_DTYPE
            and isinstance(dtype.args, tuple) and dtype.args
            and isinstance(dtype.args[0], str)):
        raise PickleWalkError(f"{origin}: the array dtype is not a plain numpy.dtype")
    typestr = dtype.args[0]
    st = dtype.state
    if isinstance(st, tuple) and len(st) >= 8 and st[2] is not None:
        raise PickleWalkError(f"{origin}: sub-array dtypes are not supported")
    flags = st[7] if isinstance(st, tuple) and len(st) >= 8 and isinstance(st[7], int) else 0
    elsize = st[5] if isinstance(st, tuple) and len(st) >= 8 and isinstance(st[5], int) else -1
    m = _TYPESTR.match(typestr)
    if m is None:
        raise PickleWalkError(f"{origin}: unknown dtype {typestr!r}")
    kind, digits = m.group(1), m.group(2)
    if kind == "O" or flags & 1:
        return 8, True
    if elsize > 0:
        return elsize, False
    if kind in "SaV" or kind == "U":
        n = int(digits or 0)
        return (4 * n if kind == "U" else n), False
    if digits:
        return int(digits), False
    sizes = {"?": 1, "b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "l": 8, "L": 8, "q": 8,
             "Q": 8, "p": 8, "P": 8, "e": 2, "f": 4, "d": 8, "g": 16, "F": 8, "D": 16, "G": 32}
    if kind in sizes:
        return sizes[kind], False
    raise PickleWalkError(f"{origin}: dtype {typestr!r} has no size")


class _Machine:
    """The symbolic stack: follows values, never imports or calls."""

    def __init__(self) -> None:
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.memo: dict[int, Any] = {}

    def _pop_mark(self) -> list[Any]:
        at = self.marks.pop()
        items = self.stack[at:]
        del self.stack[at:]
        return items

    def step(self, name: str, arg: Any) -> tuple[Import | None, _Obj | None]:
        """Apply one opcode; returns (what it imported, the object a BUILD completed)."""
        s = self.stack
        imported: Import | None = None
        built: _Obj | None = None
        if name in ("PROTO", "STOP", "READONLY_BUFFER"):
            pass
        elif name == "MARK":
            self.marks.append(len(s))
        elif name in ("GLOBAL", "INST"):
            module, _, attr = str(arg).partition(" ")
            imported = Import(module, attr)
            if name == "INST":
                s.append(_Obj(imported, tuple(self._pop_mark())))
            else:
                s.append(imported)
        elif name == "STACK_GLOBAL":
            attr, module = s.pop(), s.pop()
            imported = (Import(module, attr) if isinstance(module, str) and
                        isinstance(attr, str) else DYNAMIC_IMPORT)
            s.append(imported)
        elif name in ("NONE", "NEWTRUE", "NEWFALSE"):
            s.append({"NONE": None, "NEWTRUE": True, "NEWFALSE": False}[name])
        elif name in ("EMPTY_LIST", "EMPTY_SET"):
            s.append([])
        elif name == "EMPTY_TUPLE":
            s.append(())
        elif name == "EMPTY_DICT":
            s.append(_Dict())
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(name[-1])
            if len(s) < n:
                raise IndexError(name)
            top = tuple(s[-n:])
            del s[-n:]
            s.append(top)
        elif name == "TUPLE":
            s.append(tuple(self._pop_mark()))
        elif name in ("LIST", "FROZENSET"):
            s.append(self._pop_mark())
        elif name == "DICT":
            d = _Dict()
            items = self._pop_mark()
            d.items = list(zip(items[::2], items[1::2], strict=True))
            s.append(d)
        elif name == "APPEND":
            v = s.pop()
            _extend(s[-1], [v])
        elif name in ("APPENDS", "ADDITEMS"):
            items = self._pop_mark()
            _extend(s[-1], items)
        elif name == "SETITEM":
            v, k = s.pop(), s.pop()
            _setitems(s[-1], [k, v])
        elif name == "SETITEMS":
            items = self._pop_mark()
            _setitems(s[-1], items)
        elif name == "POP":
            if self.marks and self.marks[-1] == len(s):
                self.marks.pop()
            else:
                s.pop()
        elif name == "POP_MARK":
            self._pop_mark()
        elif name == "DUP":
            s.append(s[-1])
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            self.memo[int(arg)] = s[-1]
        elif name == "MEMOIZE":
            self.memo[len(self.memo)] = s[-1]
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            s.append(self.memo[int(arg)])
        elif name in ("REDUCE", "NEWOBJ"):
            args = s.pop()
            s.append(_Obj(s.pop(), args))
        elif name == "NEWOBJ_EX":
            s.pop()
            args = s.pop()
            s.append(_Obj(s.pop(), args))
        elif name == "OBJ":
            items = self._pop_mark()
            s.append(_Obj(items[0], tuple(items[1:])))
        elif name == "BUILD":
            state = s.pop()
            target = s[-1]
            if isinstance(target, _Obj):
                target.state = state
                built = target
        elif name == "BINPERSID":
            s.pop()
            s.append(_OPAQUE)
        elif name in ("PERSID", "EXT1", "EXT2", "EXT4", "NEXT_BUFFER"):
            s.append(_OPAQUE)
        else:  # every constant opcode: push its decoded argument
            s.append(arg)
        return imported, built


def _extend(target: Any, items: list[Any]) -> None:
    if isinstance(target, list):
        target.extend(items)


def _setitems(target: Any, items: list[Any]) -> None:
    if isinstance(target, _Dict):
        target.items.extend(zip(items[::2], items[1::2], strict=True))


def looks_like_pickle(head: bytes) -> bool:
    """Whether a stream starts like a pickle: ``PROTO`` 2-5, or a protocol 0/1 opening opcode."""
    if len(head) >= 2 and head[0] == 0x80:
        return 2 <= head[1] <= 5
    # protocols 0 and 1 have no header: accept the opcodes such a pickle can begin with
    return bool(head) and head[:1] in (b"(", b"c", b"}", b"]", b")", b"N", b"I", b"S",
                                       b"V", b"X", b"U", b"K", b"J", b"M", b"F", b"G")


def long_value(stream: PickleStream) -> int | None:
    """The integer a one-value pickle holds (PyTorch's legacy magic number), else ``None``."""
    m = re.fullmatch(rb"\x80[\x02-\x05]\x8a(.)(.*)\.", stream.data, re.DOTALL)
    if m is None or len(m.group(2)) != m.group(1)[0]:
        return None
    return int.from_bytes(m.group(2), "little", signed=True)
