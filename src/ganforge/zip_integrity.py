"""Zip files that check themselves: torch.save and torch.jit.save write zips, and ganforge seals them.

`seal` stores an integrity record as the zip comment, so a copy shared without its `.sha256` is still
checked: `ganforge-integrity sha256:<64 hex> sum64:<16 hex>`.

* sha256: of every byte that is not member data (local headers, padding, data descriptors, the central
  directory with each member's CRC-32, the end records). A few hundred bytes per tensor: cheap.
* sum64: a checksum of the large members' data (the tensors), computed while torch reads them, on bytes
  just read (still in the CPU cache): Σ over 4 KiB blocks of (2·position + 1)·(sum of the block's 64-bit
  words), mod 2^64. Any change within one word (every bit flip, every damaged byte) changes its block's sum,
  which an odd weight keeps non-zero mod 2^64; a block written to another place changes the weights. numpy
  sums at several GB/s, where zlib's CRC-32 (0.5 to 2.4 GB/s here, no PCLMUL) cost 40 to 80% of a load:
  benchmarks/checkpoint_verify.py measures what is left.
* small members (the pickle, version files) are checked against their CRC-32 as soon as torch reads
  them, so damaged pickle bytes are refused before they are unpickled.

Every byte is covered: member data by sum64 or its CRC-32, anything else by the sha256, the record itself
by its format and both values. A truncated file loses its end records. Zips without a record (written
before sealing existed, or by other programs) still get the structure checks and every member's CRC-32.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar

import numpy as np

ZIP_MAGIC = b"PK\x03\x04"
END_RECORD = b"PK\x05\x06"
END_RECORD_SIZE = 22
LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")  # signature, version, flags, method, time, date, crc, sizes, name, extra
RECORD = re.compile(rb"ganforge-integrity sha256:([0-9a-f]{64}) sum64:([0-9a-f]{16})")
RECORD_SIZE = len(b"ganforge-integrity sha256: sum64:") + 64 + 16
DATA_DESCRIPTOR = 0x08  # flag bit 3: CRC and sizes follow the data instead of sitting in the local header
UTF8_NAME = 0x800  # flag bit 11: the name is UTF-8, else code page 437
SMALL = 1 << 16  # members up to 64 KiB are checked by their CRC-32 (the pickle among them), larger ones by sum64
CHUNK = 1 << 18  # read 256 KiB, then checksum it while it is still in the CPU cache
BLOCK = 4096  # sum64 weighs each 4 KiB block by its position: a block written to the wrong place is caught
MASK = (1 << 64) - 1

T = TypeVar("T")


class DamagedFile(Exception):
    """The file fails an integrity check; the message is one line saying which and where."""


@dataclass
class Member:
    name: str
    start: int  # offset of the first data byte
    size: int  # bytes stored
    crc: int  # the CRC-32 the central directory records
    stored: bool  # uncompressed (torch writes only these): its stored bytes are its data

    @property
    def summed(self) -> bool:
        """Checked by sum64 in a sealed file (else by its CRC-32)."""
        return self.stored and self.size > SMALL


def seal(handle: BinaryIO) -> None:
    """Add the integrity record to the zip just written to `handle` (opened for reading and writing)."""
    handle.flush()
    size = handle.seek(0, io.SEEK_END)
    handle.seek(size - END_RECORD_SIZE)
    end = handle.read(END_RECORD_SIZE)
    if end[:4] != END_RECORD or end[20:22] != b"\0\0":
        raise ValueError("seal() needs a zip that ends in its end record, without a comment")
    members = _members(handle, size)
    total = sum(_sum_of(handle, m) for m in members if m.summed) & MASK
    handle.seek(size - 2)  # the comment length goes in first: the sha256 covers it
    handle.write(RECORD_SIZE.to_bytes(2, "little"))
    digest = _structure_digest(handle, members, size)
    handle.seek(size)
    handle.write(f"ganforge-integrity sha256:{digest} sum64:{total:016x}".encode())
    handle.flush()


def load_verified(path: str, load: Callable[[BinaryIO], T]) -> T:
    """`load(file)` (torch.load, torch.jit.load) on a file whose zip structure, integrity record and member
    data are all checked; raises DamagedFile. A file that is not a zip at all goes to `load` as it is."""
    with open(path, "rb") as handle:
        found = check_structure(handle)
        handle.seek(0)
        if found is None:
            return load(handle)
        reader = CheckingReader(handle, *found)
        try:
            result = load(reader)  # type: ignore[arg-type]
        except Exception:
            reader.check_the_rest()  # damage explains the failure better than what it made torch say
            raise
        reader.check_the_rest()
        return result


def verify(path: str) -> None:
    """Every check load_verified makes, without loading: raises DamagedFile."""
    with open(path, "rb") as handle:
        found = check_structure(handle)
        if found is None:
            raise DamagedFile("not a zip archive")
        CheckingReader(handle, *found).check_the_rest()


def is_sealed(path: str) -> bool:
    with zipfile.ZipFile(path) as archive:
        return RECORD.fullmatch(archive.comment) is not None


def check_structure(handle: BinaryIO) -> tuple[list[Member], int | None] | None:
    """(members, the recorded sum64 or None if unsealed) after checking the zip's structure and its integrity
    record; None if the file is not a zip at all (no zip signature at its start, no zip directory at its end)."""
    size = handle.seek(0, io.SEEK_END)
    if size == 0:
        raise DamagedFile("empty file")
    handle.seek(0)
    starts_as_zip = handle.read(4) == ZIP_MAGIC
    try:
        archive = zipfile.ZipFile(handle)  # type: ignore[arg-type]
    except (zipfile.BadZipFile, OSError, ValueError, struct.error, EOFError) as err:
        if not starts_as_zip:
            return None
        raise DamagedFile(f"truncated or damaged: its zip directory is unreadable ({_first_line(err)})") from None
    with archive:
        comment = archive.comment
        members = _members(handle, size, archive)
    if not starts_as_zip:
        raise DamagedFile("the zip signature at its start is damaged")
    end_at = size - len(comment) - END_RECORD_SIZE
    handle.seek(end_at)
    end = handle.read(END_RECORD_SIZE)
    if end[:4] != END_RECORD or int.from_bytes(end[20:22], "little") != len(comment):
        raise DamagedFile("its zip end record is damaged, or bytes follow it")
    if not comment:
        return members, None
    record = RECORD.fullmatch(comment)
    if record is None:
        raise DamagedFile("its integrity record (the zip comment) is damaged")
    if _structure_digest(handle, members, end_at + END_RECORD_SIZE) != record.group(1).decode():
        raise DamagedFile("its zip headers or directory do not match its integrity record")
    return members, int(record.group(2), 16)


def _members(handle: BinaryIO, size: int, archive: zipfile.ZipFile | None = None) -> list[Member]:
    """Each member with where its data lies, after checking its local header against the central directory."""
    if archive is None:
        with zipfile.ZipFile(handle) as opened:  # type: ignore[arg-type]
            return _members(handle, size, opened)
    members = []
    for info in archive.infolist():
        handle.seek(info.header_offset)
        raw = handle.read(LOCAL_HEADER.size)
        if len(raw) < LOCAL_HEADER.size:
            raise DamagedFile(f"{info.filename}: its local header lies past the end of the file")
        sig, _, flags, method, time, date, crc, csize, usize, name_len, extra_len = LOCAL_HEADER.unpack(raw)
        name = handle.read(name_len)
        year, month, day, hour, minute, second = info.date_time
        same = (sig == ZIP_MAGIC and flags == info.flag_bits and method == info.compress_type
                and (time, date) == ((hour << 11) | (minute << 5) | (second // 2),
                                     ((year - 1980) << 9) | (month << 5) | day)
                and name == info.orig_filename.encode("utf-8" if flags & UTF8_NAME else "cp437"))
        if same and not flags & DATA_DESCRIPTOR:
            same = crc == info.CRC and all(s in (v, 0xFFFFFFFF) for s, v in ((csize, info.compress_size),
                                                                              (usize, info.file_size)))
        if not same:
            raise DamagedFile(f"{info.filename}: its local header does not match the zip directory")
        start = info.header_offset + LOCAL_HEADER.size + name_len + extra_len
        if start + info.compress_size > size:
            raise DamagedFile(f"{info.filename}: its data runs past the end of the file")
        members.append(Member(info.filename, start, info.compress_size, info.CRC,
                              info.compress_type == zipfile.ZIP_STORED))
    members.sort(key=lambda m: m.start)
    for before, after in zip(members, members[1:]):
        if before.start + before.size > after.start:
            raise DamagedFile(f"{before.name} and {after.name} overlap")
    return members


def _structure_digest(handle: BinaryIO, members: list[Member], end: int) -> str:
    """sha256 of bytes [0, end) that are not member data (members sorted by start)."""
    digest = hashlib.sha256()
    at = 0
    for member in [*members, Member("", end, 0, 0, True)]:
        handle.seek(at)
        digest.update(handle.read(member.start - at))
        at = member.start + member.size
    return digest.hexdigest()


def block_sum(data: Any, first_block: int) -> int:
    """Σ over 4 KiB blocks of (2·(first_block + b) + 1)·(the sum of block b's little-endian 64-bit words, the last
    one zero-padded) mod 2^64. Sums of consecutive pieces add up, if each piece but the last is whole blocks."""
    view = memoryview(data).cast("B")
    whole = len(view) // BLOCK
    total = 0
    if whole:
        sums = np.frombuffer(view, dtype="<u8", count=whole * BLOCK // 8).reshape(whole, BLOCK // 8).sum(axis=1)
        odd = np.arange(whole, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        total = int(np.dot(sums, odd)) + 2 * first_block * int(sums.sum())
    rest = view[whole * BLOCK:]
    if len(rest):
        words = len(rest) // 8
        partial = int(np.frombuffer(rest, dtype="<u8", count=words).sum()) + int.from_bytes(rest[words * 8:], "little")
        total += partial * (2 * (first_block + whole) + 1)
    return total & MASK


def _sum_of(handle: BinaryIO, member: Member) -> int:
    """sum64 of a member's data, read from the file; each member's words are weighted from its offset on."""
    handle.seek(member.start)
    total, done = 0, 0
    while done < member.size:
        block = handle.read(min(CHUNK, member.size - done))
        if not block:
            raise DamagedFile(f"{member.name}: its data runs past the end of the file")
        total += block_sum(block, member.start + done // BLOCK)
        done += len(block)
    return total & MASK


def _crc_of(handle: BinaryIO, member: Member) -> int:
    if not member.stored:  # zipfile inflates it and compares the CRC-32 itself
        with zipfile.ZipFile(handle) as archive:  # type: ignore[arg-type]
            try:
                archive.read(member.name)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as err:
                raise DamagedFile(f"{member.name}: {_first_line(err)}") from None
        return member.crc
    handle.seek(member.start)
    crc, left = 0, member.size
    while left:
        block = handle.read(min(CHUNK, left))
        if not block:
            break
        crc = zlib.crc32(block, crc)
        left -= len(block)
    return crc


class CheckingReader(io.RawIOBase):
    """A file for torch.load that checks each member's data as torch reads it: its CRC-32 (unsealed files, and
    small members) or its share of sum64 (large members of sealed files), totalled by check_the_rest."""

    def __init__(self, handle: BinaryIO, members: list[Member], sum64: int | None) -> None:
        super().__init__()
        self.handle = handle
        self.members = members
        self.sum64 = sum64
        self.by_start = {m.start: m for m in members if m.stored}
        self.done: set[str] = set()
        self.total = 0  # sum64 of the large members read so far
        self.problem: str | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.handle.seek(offset, whence)

    def tell(self) -> int:
        return self.handle.tell()

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        member = self.by_start.get(self.handle.tell())
        if member is None or len(view) != member.size or member.name in self.done:
            return self.handle.readinto(view)
        if not self._by_sum(member):
            got = self.handle.readinto(view)
            self._check_crc(member, zlib.crc32(view[:got]))  # raises at once: damaged pickle bytes stay unread
            return got
        done, total = 0, 0
        while done < len(view):
            end = min(done + CHUNK, len(view))
            got = self._read_fully(view[done:end])
            total += block_sum(view[done:done + got], member.start + done // BLOCK)
            done += got
            if done < end:
                break
        self.done.add(member.name)
        self.total += total
        return done

    def _read_fully(self, view: memoryview) -> int:
        got = 0
        while got < len(view):
            n = self.handle.readinto(view[got:])
            if not n:
                break
            got += n
        return got

    def _by_sum(self, member: Member) -> bool:
        return self.sum64 is not None and member.summed

    def _check_crc(self, member: Member, crc: int) -> None:
        self.done.add(member.name)
        if crc != member.crc:
            self.problem = self.problem or f"{member.name} fails its CRC-32 check (its data is damaged)"
            raise DamagedFile(self.problem)

    def check_the_rest(self) -> None:
        """Check the members torch did not read, then the sum64 total; raise DamagedFile for the first damage."""
        if self.problem is not None:
            raise DamagedFile(self.problem)
        for member in self.members:
            if member.name in self.done:
                continue
            if self._by_sum(member):
                self.done.add(member.name)
                self.total += _sum_of(self.handle, member)
            else:
                self._check_crc(member, _crc_of(self.handle, member))
        if self.sum64 is not None and self.total & MASK != self.sum64:
            self.problem = "its tensor data does not match its integrity record (the data is damaged)"
            raise DamagedFile(self.problem)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:160] if text else type(err).__name__
