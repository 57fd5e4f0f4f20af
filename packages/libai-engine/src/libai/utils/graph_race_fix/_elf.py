"""Read the GNU build id of an ELF file (the ``NT_GNU_BUILD_ID`` note), in plain Python.

The build id identifies one exact build of a shared library: the graph race fix is
applied only to the liboneflow whose id it was written for. Only the ELF header,
the program headers and the ``PT_NOTE`` segments are read (liboneflow is 1.7 GB).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO, Optional

__all__ = ["ElfError", "gnu_build_id"]

_PT_NOTE = 4
_NT_GNU_BUILD_ID = 3


class ElfError(ValueError):
    """The file is not an ELF file this reader understands; the message names it."""


def _program_headers(f: BinaryIO, path: Path) -> tuple[str, list[tuple[int, int, int, int]]]:
    """Return the byte order and ``(type, offset, size, align)`` of every program header."""
    ident = f.read(16)
    if len(ident) < 16 or ident[:4] != b"\x7fELF":
        raise ElfError(f"{path} is not an ELF file (it does not start with \\x7fELF)")
    if ident[4] not in (1, 2) or ident[5] not in (1, 2):
        raise ElfError(f"{path}: unknown ELF class {ident[4]} or data encoding {ident[5]}")
    is64, order = ident[4] == 2, "<" if ident[5] == 1 else ">"
    header_fmt = order + ("HHIQQQIHHHHHH" if is64 else "HHIIIIIHHHHHH")
    header = f.read(struct.calcsize(header_fmt))
    if len(header) < struct.calcsize(header_fmt):
        raise ElfError(f"{path}: truncated ELF header")
    fields = struct.unpack(header_fmt, header)
    phoff, phentsize, phnum = fields[4], fields[8], fields[9]
    entry_fmt = order + ("IIQQQQQQ" if is64 else "IIIIIIII")
    headers = []
    for i in range(phnum):
        f.seek(phoff + i * phentsize)
        entry = f.read(struct.calcsize(entry_fmt))
        if len(entry) < struct.calcsize(entry_fmt):
            raise ElfError(f"{path}: truncated program header {i}")
        e = struct.unpack(entry_fmt, entry)
        if is64:  # p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align
            headers.append((e[0], e[2], e[5], e[7]))
        else:  # p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags, p_align
            headers.append((e[0], e[1], e[4], e[7]))
    return order, headers


def gnu_build_id(path: Path) -> Optional[str]:
    """Return the GNU build id of the ELF file ``path`` as lowercase hex, or None if it has none.

    Raises :class:`ElfError` when ``path`` is not a readable ELF file and ``OSError``
    when it cannot be opened.
    """
    path = Path(path)
    with open(path, "rb") as f:
        order, headers = _program_headers(f, path)
        for p_type, offset, size, align in headers:
            if p_type != _PT_NOTE:
                continue
            f.seek(offset)
            notes = f.read(size)
            step = 8 if align == 8 else 4
            pos = 0
            while pos + 12 <= len(notes):
                namesz, descsz, n_type = struct.unpack_from(order + "III", notes, pos)
                name_at = pos + 12
                desc_at = name_at + -(-namesz // step) * step
                if n_type == _NT_GNU_BUILD_ID and notes[name_at : name_at + namesz] == b"GNU\0":
                    return notes[desc_at : desc_at + descsz].hex()
                pos = desc_at + -(-descsz // step) * step
    return None
