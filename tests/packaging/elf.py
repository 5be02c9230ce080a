"""Just enough ELF reading for the packaging tests: a shared object's DT_NEEDED sonames.

64-bit little-endian only (the x86-64 Linux build); anything else returns no names.
"""

from __future__ import annotations

import struct

_DT_NEEDED, _DT_STRTAB, _PT_DYNAMIC, _PT_LOAD = 1, 5, 2, 1


def needed_libraries(data: bytes) -> list[str]:
    """The sonames ``data`` (an ELF file's bytes) asks the dynamic loader for."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return []
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    loads: list[tuple[int, int, int]] = []  # (vaddr, offset, filesz)
    dynamic = None
    for index in range(phnum):
        kind, _flags, offset, vaddr, _paddr, filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + index * phentsize
        )
        if kind == _PT_LOAD:
            loads.append((vaddr, offset, filesz))
        elif kind == _PT_DYNAMIC:
            dynamic = (offset, filesz)
    if dynamic is None:
        return []
    entries = [struct.unpack_from("<qQ", data, dynamic[0] + at) for at in range(0, dynamic[1], 16)]
    strtab = next((value for tag, value in entries if tag == _DT_STRTAB), None)
    if strtab is None:
        return []
    base = next(
        (
            offset + strtab - vaddr
            for vaddr, offset, size in loads
            if vaddr <= strtab < vaddr + size
        ),
        None,
    )
    if base is None:
        return []
    names = []
    for tag, value in entries:
        if tag == _DT_NEEDED:
            end = data.index(b"\0", base + value)
            names.append(data[base + value : end].decode("ascii", "replace"))
    return names
