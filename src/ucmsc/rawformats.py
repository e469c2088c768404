"""Structure checks for raw deliveries, so that a damaged file is refused instead of read short.

SAS transport (``.xpt``): the headers are parsed here to find the observation length and
where the data start; the file size, the data area and the rows pyreadstat returned must agree.
``.sas7bdat``: the file size must be the one its header describes. CSV: every record has as
many fields as the header, the last line ends with a line break, and a quoted value runs over
lines only in the columns the trial config lists as free text (a stray quote would join records).

Functions raise ``DamagedFile`` with the reason only; ``ucmsc.io.read_raw`` adds the file's path.
"""

from __future__ import annotations

import codecs
import csv
import io
import mmap
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


class DamagedFile(ValueError):
    """A raw file is truncated, extended or malformed; the message says where (line, byte offset)."""


# ---------------------------------------------------------------------------------------------------------------------
# SAS transport, version 5 (SAS TS-140) and version 8/9 (SAS "Record Layout of a SAS Version 8 or 9 Data Set in SAS
# Transport Format"). All records are 80 bytes; integers are big-endian.

RECORD = 80  # SAS TS-140: "All transport data set records are 80 bytes in length", short ones padded with ASCII blanks
_STAR = b"HEADER RECORD*******"  # SAS TS-140: header records read "HEADER RECORD*******<name:8>HEADER RECORD!!!!!!!..."
_BANG = b"HEADER RECORD!!!!!!!"
_V5_NAMES = {"library": "LIBRARY", "member": "MEMBER", "descriptor": "DSCRPTR", "namestr": "NAMESTR", "obs": "OBS"}
_V8_NAMES = {"library": "LIBV8", "member": "MEMBV8", "descriptor": "DSCPTV8", "namestr": "NAMSTV8", "obs": "OBSV8"}
# SAS TS-140 struct NAMESTR: ntype, nhfun, nlng, nvar0 (shorts), nname[8], nlabel[40], nform[8], nfl, nfd, nfj (shorts),
# nfill[2], niform[8], nifl, nifd (shorts), npos (long) at byte 84; the rest (52 bytes, v8: long name at 88) is unused.
_NAMESTR = struct.Struct(">hhhh8s40s8shhh2s8shhl")


@dataclass(frozen=True)
class XportLayout:
    version: int  # 5 or 8
    namestr_length: int  # 140, or 136 (VAX/VMS)
    names: tuple[str, ...]
    lengths: tuple[int, ...]  # bytes of each variable in an observation
    types: tuple[int, ...]  # SAS TS-140 ntype of each variable: 1 numeric, 2 character
    data_start: int  # byte offset of the first observation (just after the OBS header)
    header_obs: int | None  # v8 OBSV8 header's observation count, when it states one

    @property
    def obs_length(self) -> int:
        return sum(self.lengths)


def _read_at(handle, size: int, offset: int, length: int, what: str) -> bytes:
    if offset + length > size:
        raise DamagedFile(f"file ends at byte {size} inside the {what} "
                          f"(bytes {offset}-{offset + length - 1}): truncated?")
    handle.seek(offset)
    return handle.read(length)


def _header_name(record: bytes) -> str | None:
    if record[:20] != _STAR or record[28:48] != _BANG:
        return None
    return record[20:28].decode("ascii", "replace").rstrip()


def _expect_header(record: bytes, offset: int, name: str) -> None:
    found = _header_name(record)
    if found != name:
        seen = f"a {found} header" if found else repr(record[:48].decode("latin-1"))
        raise DamagedFile(f"byte {offset}: expected the {name} header record, found {seen}")


def xport_layout(path: str | Path) -> XportLayout:
    """Parse the library, member, descriptor, NAMESTR (and v8 label) headers of a transport file."""
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        first = _read_at(handle, size, 0, RECORD, "library header record")
        kind = _header_name(first)
        if kind not in ("LIBRARY", "LIBV8"):
            cport = first.startswith(b"**COMPRESSED**")
            hint = " (a CPORT file: export with the XPORT engine instead)" if cport else ""
            raise DamagedFile(f"not a SAS transport (XPORT) file: the first 80 bytes are not a LIBRARY header{hint}")
        version = 5 if kind == "LIBRARY" else 8
        names = _V5_NAMES if version == 5 else _V8_NAMES
        head = _read_at(handle, size, 0, 8 * RECORD, "library and member header records")
        # SAS TS-140: record 2 begins "SAS     SAS     SASLIB  "; record 3 is the modification date
        if head[80:104] != b"SAS     SAS     SASLIB  ":
            raise DamagedFile("byte 80: the first real header record does not begin 'SAS     SAS     SASLIB'")
        _expect_header(head[240:320], 240, names["member"])
        # SAS TS-140: member header ends "...000000000000000001600000000140  ": NAMESTR length 140 (136 on VAX/VMS)
        namestr_text = head[240 + 75:240 + 78]
        if namestr_text not in (b"140", b"136"):
            raise DamagedFile(f"byte 315: NAMESTR length {namestr_text!r} in the member header is neither 140 nor 136")
        namestr_length = int(namestr_text)
        _expect_header(head[320:400], 320, names["descriptor"])
        sasdata_at = 16 if version == 5 else 40  # v5: 8-byte data set name; v8: 32 bytes
        if head[400:408] != b"SAS     " or head[400 + sasdata_at:400 + sasdata_at + 8] != b"SASDATA ":
            raise DamagedFile("byte 400: the member header data record does not read 'SAS' ... 'SASDATA'")
        _expect_header(head[560:640], 560, names["namestr"])
        count_text = head[560 + 48:560 + 58]  # SAS TS-140: "000000xxxx..." where xxxx is the number of variables
        if not count_text.isdigit():
            raise DamagedFile(f"byte 608: the NAMESTR header's variable count {count_text!r} is not a number")
        count = int(count_text)
        what = f"{count} NAMESTR records of {namestr_length} bytes"
        block = _read_at(handle, size, 640, count * namestr_length, what)
        names_, lengths, types = [], [], []
        position = 0
        for i in range(count):
            ntype, _, nlng, _, nname, *_, npos = _NAMESTR.unpack_from(block, i * namestr_length)
            long_name = block[i * namestr_length + 88:i * namestr_length + 120] if version == 8 else b""
            name = (long_name.strip(b" \0") or nname).decode("latin-1").rstrip()  # v8: 32-byte name at byte 88
            where = f"NAMESTR record {i + 1} (byte {640 + i * namestr_length}, variable {name!r})"
            if ntype not in (1, 2) or nlng < 1 or (ntype == 1 and not 2 <= nlng <= 8):
                raise DamagedFile(f"{where}: type {ntype} with length {nlng} is not a valid variable")
            if npos != position:  # pyreadstat reads the variables one after another in NAMESTR order
                raise DamagedFile(f"{where}: stored at byte {npos} of the observation, expected {position}")
            names_.append(name)
            lengths.append(nlng)
            types.append(ntype)
            position += nlng
        offset = 640 + -(-count * namestr_length // RECORD) * RECORD  # NAMESTR block padded to a whole record
        record = _read_at(handle, size, offset, RECORD, "OBS header record")
        if version == 8 and _header_name(record) in ("LABELV8", "LABELV9"):
            offset = _skip_v8_labels(handle, size, offset, record, count)
            record = _read_at(handle, size, offset, RECORD, "OBS header record")
        _expect_header(record, offset, names["obs"])
        header_obs = None
        if version == 8:  # v8: the OBSV8 header states the observation count (15 characters, right-aligned)
            stated = record[48:63].strip()
            header_obs = int(stated) if stated.isdigit() and int(stated) > 0 else None
    return XportLayout(version, namestr_length, tuple(names_), tuple(lengths), tuple(types), offset + RECORD,
                       header_obs)


def _skip_v8_labels(handle, size: int, offset: int, record: bytes, count: int) -> int:
    """Offset of the record after a v8 LABELV8/LABELV9 section (long names, labels and formats)."""
    kind = _header_name(record)
    stated = record[48:].split(b" ", 1)[0]
    if not stated.isdigit():
        raise DamagedFile(f"byte {offset}: the {kind} header's label count {stated!r} is not a number")
    # v8 spec: LABELV8 entries are (variable number, name length, label length) shorts, then name and label;
    # LABELV9 entries add the format and informat lengths, then name, label, format, informat.
    shorts = 3 if kind == "LABELV8" else 5
    position = offset + RECORD
    for i in range(int(stated)):
        entry = _read_at(handle, size, position, 2 * shorts, f"{kind} entry {i + 1}")
        number, *text_lengths = struct.unpack(f">{shorts}h", entry)
        if not 1 <= number <= count or min(text_lengths) < 0:
            raise DamagedFile(f"byte {position}: {kind} entry {i + 1} names variable {number} of {count}")
        position += 2 * shorts + sum(text_lengths)
    if position > size:
        raise DamagedFile(f"file ends at byte {size} inside the {kind} section: truncated?")
    return -(-position // RECORD) * RECORD


def _blank(data: bytes) -> bool:
    return not data.strip(b" ")


def xport_data_rows(path: str | Path, layout: XportLayout) -> tuple[int, int]:
    """Observations the data area holds, after checking that it is whole; and how many of the last are all blank.

    SAS TS-140: observations follow the OBS header back to back; the last record is padded with
    ASCII blanks to 80 bytes, so all-blank observations inside that padding are not data. A v8
    file's OBSV8 header states the count, and then everything after those observations is padding.
    """
    size = Path(path).stat().st_size
    start, width, stated = layout.data_start, layout.obs_length, layout.header_obs
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        _reject_second_member(data, start, size)
        if width == 0:
            if size - start >= RECORD or not _blank(data[start:size]) or stated:
                raise DamagedFile(f"the data set has no variables but {size - start} bytes follow its OBS header")
            return 0, 0
        full, rest = divmod(size - start, width)
        end = start + full * width  # end of the last whole observation
        inside = f"inside observation {full + 1} of {width} bytes each ({rest} of its bytes, from byte {end})"
        if size % RECORD:
            part = f"ends {inside}" if rest else f"ends after {full} observations of {width} bytes, unpadded"
            raise DamagedFile(f"file size {size} bytes is not a whole number of {RECORD}-byte records; "
                              f"the data area from byte {start} {part}: truncated?")
        if stated is not None:
            need = start + stated * width
            if size < need:
                ends = inside if rest else f"after {full} of them"
                raise DamagedFile(f"the OBSV8 header states {stated} observations of {width} bytes from byte {start}, "
                                  f"but the file ends at byte {size}, {ends}: truncated?")
            if size - need >= RECORD or not _blank(data[need:size]):
                raise DamagedFile(f"the OBSV8 header states {stated} observations of {width} bytes, ending at byte "
                                  f"{need}, but {size - need} bytes follow them that are not blank padding")
            return stated, 0
        if rest >= RECORD or not _blank(data[end:size]):
            raise DamagedFile(f"file ends {inside}; the data area starts at byte {start}: truncated?")
        blank = 0  # trailing all-blank whole observations
        while blank < full and _blank(data[end - (blank + 1) * width:end - blank * width]):
            blank += 1
    padding = min(blank, (RECORD - 1 - rest) // width)  # padding is shorter than one record
    return full - padding, blank - padding


def _reject_second_member(data: mmap.mmap, start: int, size: int) -> None:
    marker = _STAR + b"MEMB"  # MEMBER (v5) or MEMBV8 header of a further data set, on a record boundary
    found = data.find(marker, start)
    while found != -1 and found % RECORD:
        found = data.find(marker, found + 1)
    if found != -1:
        raise DamagedFile(f"byte {found}: a second data set (member header) follows the first; only one data set "
                          "per transport file is supported: deliver each data set in its own file")


def check_xport_rows(layout: XportLayout, rows_in_file: int, blank_at_end: int, rows_read: int) -> None:
    """The rows pyreadstat returned are the observations the file holds."""
    if rows_read != rows_in_file:
        why = (f"; its last {blank_at_end} are entirely blank and the reader dropped them"
               if blank_at_end and rows_read == rows_in_file - blank_at_end else "")
        raise DamagedFile(f"{rows_read} row{'s' * (rows_read != 1)} read, but the data area (from byte "
                          f"{layout.data_start}) holds {rows_in_file} observations of {layout.obs_length} bytes "
                          f"each{why}")


def ibm_to_ieee(words: np.ndarray) -> np.ndarray:
    """IBM 370 hexadecimal floating point numbers (8 bytes, read as big-endian unsigned 64-bit integers) as IEEE
    doubles, bit for bit as SAS TS-140's sample routine xpt2ieee (which ReadStat uses) converts them: the hex fraction
    is shifted down to a binary one and its 0-3 lowest bits are dropped (truncated, not rounded). All bytes zero is
    0.0; a first byte other than zero with the rest zero (the SAS missing values '.', 'A'-'Z', '_', and others) is NaN;
    the largest magnitude (7F FF .. FF, or FF FF .. FF) is infinity, as ReadStat's version of the routine has it.
    """
    words = np.asarray(words, dtype=np.uint64)
    high = (words >> np.uint64(32)).astype(np.int64)  # sign, 7-bit excess-64 exponent, 24 fraction bits
    low = (words & np.uint64(0xFFFFFFFF)).astype(np.int64)  # 32 further fraction bits
    # TS-140: the first hex digit of the fraction holds the implicit 1 of the IEEE fraction 0-3 places down
    shift = np.where(high & 0x00800000, 3, np.where(high & 0x00400000, 2, np.where(high & 0x00200000, 1, 0)))
    ieee_high = ((high & 0x00FFFFFF) >> shift) & 0xFFEFFFFF  # the implicit 1 cleared
    carried = ((high & 7) << (32 - shift)) & 0xFFFFFFFF  # bits shifted from the high word into the low one
    ieee_low = np.where(shift > 0, (low >> shift) | carried, low)
    # TS-140: IEEE exponent = 4 x (IBM exponent - 65) + shift + 1023 (IBM excess 64, one more for the radix point)
    exponent = (((high >> 24) & 0x7F) - 65) * 4 + shift + 1023
    ieee_high |= (exponent << 20) | (high & 0x80000000)
    values = ((ieee_high.astype(np.uint64) << np.uint64(32)) | ieee_low.astype(np.uint64)).view(np.float64)
    values[words == 0] = 0.0
    values[(words != 0) & ((words & np.uint64(0x00FFFFFFFFFFFFFF)) == 0)] = np.nan
    largest = (words & np.uint64(0x7FFFFFFFFFFFFFFF)) == np.uint64(0x7FFFFFFFFFFFFFFF)
    values[largest] = np.where(high[largest] & 0x80000000, -np.inf, np.inf)
    return values


# ---------------------------------------------------------------------------------------------------------------------
# SAS7BDAT. Layout as documented by M. Shotwell, "SAS7BDAT Database Binary Format", and read by ReadStat and pandas.

_SAS7BDAT_MAGIC = bytes(12) + bytes.fromhex("c2ea8160b31411cfbd92080009c7318c181f1011")


def check_sas7bdat_size(path: str | Path) -> None:
    """The file is as long as its header says: header length + page size x page count."""
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        head = _read_at(handle, size, 0, 216, "sas7bdat file header")
    if head[:32] != _SAS7BDAT_MAGIC:  # ReadStat accepts this magic number only (and the catalogue's)
        raise DamagedFile("not a SAS7BDAT file: bytes 0-31 are not its magic number")
    a1 = 4 if head[35] == 0x33 else 0  # Shotwell: byte 35 == '3' shifts the header fields by 4
    u64 = head[32] == 0x33  # byte 32 == '3': 64-bit file, page count is 8 bytes
    order = "<" if head[37] == 0x01 else ">"  # byte 37: 0x01 little-endian
    header_length, page_size = struct.unpack_from(f"{order}II", head, 196 + a1)
    (page_count,) = struct.unpack_from(f"{order}{'Q' if u64 else 'I'}", head, 204 + a1)
    expected = header_length + page_size * page_count
    if size != expected:
        damage = "truncated" if size < expected else "extended"
        raise DamagedFile(f"file is {size} bytes but its header describes {expected} ({header_length}-byte header + "
                          f"{page_count} pages of {page_size} bytes): {damage}?")


# ---------------------------------------------------------------------------------------------------------------------
# CSV

def _line_count(text: str) -> int:
    """Physical lines as an editor counts them (\\r\\n, \\n and \\r each end a line)."""
    breaks = text.count("\n") + text.count("\r") - text.count("\r\n")
    return breaks + (0 if text.endswith(("\n", "\r")) else 1)


def _records(text: str):
    """(first physical line, fields) of each non-blank CSV record, by the csv module (the reference parser)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    last = 0
    try:
        for fields in reader:
            first, last = last + 1, reader.line_num
            if fields:
                yield first, fields
    except csv.Error as error:
        start = last + 1
        where = f"line {start}" if reader.line_num <= start else f"lines {start}-{reader.line_num}"
        if "unexpected end of data" in str(error):
            raise DamagedFile(f"{where}: the file ends inside a quoted field: truncated?") from error
        raise DamagedFile(f"{where}: {error}") from error


def read_csv_text(raw: bytes, encoding: str, allow_unterminated_last_line: bool = False,
                  multiline_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """A CSV delivery as text columns ('' for an empty field), refused when its records are not whole.

    Every record must have as many fields as the header; fully blank lines are skipped. The last
    line must end with a line break unless ``allow_unterminated_last_line``. A value may hold a line
    break only in ``multiline_columns`` (free text), and there no line inside it may look like a record.
    """
    if not raw:
        raise DamagedFile("empty file (0 bytes): no header line")
    text = raw.decode(encoding)  # UnicodeDecodeError: the caller names the byte
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark is not part of the first column's name
    records = _records(text)
    first = next(records, None)
    if first is None:
        raise DamagedFile("no header line: the file holds only blank lines")
    header_line, header = first
    _check_header(header, header_line)
    unknown = [name for name in multiline_columns if name not in header]
    if unknown:
        raise DamagedFile(f"the trial config's multiline_columns names {', '.join(map(repr, unknown))}, not among "
                          f"the file's columns {', '.join(map(repr, header))}")
    if not text.endswith(("\n", "\r")) and not allow_unterminated_last_line:
        raise DamagedFile(f"line {_line_count(text)}: the last line has no line break at its end, so the file is "
                          "probably truncated; if this source's export always ends so, set "
                          "allow_unterminated_last_line: true for it in the trial config")
    frame = _read_csv_fast(raw, text, encoding, header)
    if frame is None:  # the fast parser refused the file: find the first bad record, or read it with the csv module
        frame = _read_csv_reference(records, header)
    if '"' in text and _has_line_break(frame):  # only a quoted value can hold a line break
        _check_line_breaks(text, frame, multiline_columns)
    return frame


def _has_line_break(frame: pd.DataFrame) -> bool:
    import pyarrow as pa
    import pyarrow.compute as pc

    return any(pc.any(pc.match_substring_regex(pa.array(frame[name], type=pa.string(), from_pandas=True),
                                               "[\r\n]")).as_py() for name in frame.columns)


def _shape(value: str) -> str:
    """A value's pattern: runs of digits, lower-case and upper-case letters as 9, a, A ('E004' -> 'A9')."""
    return re.sub(r"[A-Z]+", "A", re.sub(r"[a-z]+", "a", re.sub(r"[0-9]+", "9", value)))


def _check_line_breaks(text: str, frame: pd.DataFrame, multiline_columns: tuple[str, ...]) -> None:
    """Refuse a value that runs over lines where none is expected, or, in a free-text column, over a line that reads
    as a record of the file (as many fields, each in the pattern of its column's values but for one of three or more:
    a withdrawal's status may be the file's only one of its kind). A quote opened by mistake
    (a stray \") joins the lines up to the next quote into one value, and the records on them would be lost
    without an error."""
    header = list(frame.columns)
    shapes = {c: {_shape(v) for v in pd.unique(frame[c])} for c in header if c not in multiline_columns}

    def reads_as_record(line: str) -> bool:  # every field in its column's pattern, but one of three or more
        fields = next(csv.reader([line]), [])
        if not len(fields) == len(header) > 1:
            return False
        alike = sum(_shape(v) in shapes[c] for c, v in zip(header, fields) if c in shapes)
        return alike >= (len(shapes) - 1 if len(shapes) >= 3 else len(shapes))

    for first, fields in _records(text):
        line = first  # the physical line each field starts on
        for column, value in zip(header, fields):
            lines = value.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            where = f"lines {line}-{line + len(lines) - 1}: the quoted value of column {column!r}"
            if len(lines) > 1 and column not in multiline_columns:
                raise DamagedFile(
                    f"{where} runs over {len(lines)} lines: a stray quote character joins lines into one value, "
                    "and the records on them would be lost; if this column holds free text with line breaks, list "
                    "it under multiline_columns for this source in the trial config")
            for offset, inner in enumerate(lines[1:], start=1):
                if reads_as_record(inner):
                    raise DamagedFile(
                        f"{where} runs over {len(lines)} lines, and line {line + offset} inside it reads as a record "
                        "of this file (as many fields, each like its column's values): a stray quote character has "
                        "probably joined records into one value, which would lose them")
            line += len(lines) - 1


def _check_header(header: list[str], line: int) -> None:
    for position, name in enumerate(header, start=1):
        if not name.strip():
            raise DamagedFile(f"line {line}: header column {position} of {len(header)} has no name")
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name in seen:
            raise DamagedFile(f"line {line}: header column name {name!r} appears twice (columns {seen[name]} "
                              f"and {position})")
        seen[name] = position


def _fields_error(line: int, fields: int, header: int) -> DamagedFile:
    return DamagedFile(f"line {line} has {fields} field{'s' * (fields != 1)}, the header has {header} "
                       "(an unquoted separator or a missing field?)")


def _read_csv_fast(raw: bytes, text: str, encoding: str, header: list[str]) -> pd.DataFrame | None:
    """pyarrow's parser (vectorised); None when it refuses the file or reads a different header."""
    import pyarrow as pa
    from pyarrow import csv as pacsv

    data = raw if codecs.lookup(encoding).name in ("utf-8", "utf-8-sig") else text.encode("utf-8")
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(column_types={name: pa.string() for name in header},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except pa.ArrowException:
        return None
    if table.column_names != header:
        return None
    # pyarrow silently closes a quoted field left open at the end of the file. Such a field is the file's last and
    # ends with its final line break, or the quote characters are odd in number (RFC 4180 quotes come in pairs; a
    # stray one inside an unquoted field is legal): then the reference parser decides.
    last = table.column(len(header) - 1)
    if text.count('"') % 2 or (len(last) and last[len(last) - 1].as_py().endswith(("\n", "\r"))):
        return None
    return pd.DataFrame({name: pd.Series(table.column(name).to_pandas(), dtype=str) for name in header})


def _read_csv_reference(records, header: list[str]) -> pd.DataFrame:
    """The remaining records by the csv module; the first with a wrong number of fields is refused."""
    columns: list[list[str]] = [[] for _ in header]
    width = len(header)
    for line, fields in records:
        if len(fields) != width:
            raise _fields_error(line, len(fields), width)
        for column, value in zip(columns, fields):
            column.append(value)
    return pd.DataFrame({name: pd.Series(values, dtype=str) for name, values in zip(header, columns)})
