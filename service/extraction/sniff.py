"""Decide an upload's media type from its content.

The client's Content-Type is never consulted. The filename only breaks ties between text formats
whose content cannot tell them apart (CSV or Markdown versus plain text, an HTML fragment). ZIP
packages, OLE2 compound files and MP4 files are identified from inside, reading only their
directories through `open_seekable`, so a sniff costs the head plus a few small ranged reads.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from typing import BinaryIO

HEAD_SIZE = 64 * 1024
"""How many leading bytes the caller hands to `sniff` (fewer only when the file is shorter)."""

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DOC = "application/msword"
ODT = "application/vnd.oasis.opendocument.text"
RTF = "application/rtf"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EML = "message/rfc822"
MSG = "application/vnd.ms-outlook"
HTML = "text/html"
TEXT = "text/plain"
MARKDOWN = "text/markdown"
CSV = "text/csv"
VTT = "text/vtt"
SRT = "application/x-subrip"

SUPPORTED: dict[str, str] = {
    PDF: "PDF",
    DOCX: "Word (DOCX)",
    DOC: "Word (DOC)",
    ODT: "OpenDocument text (ODT)",
    RTF: "Rich Text (RTF)",
    PPTX: "PowerPoint (PPTX)",
    XLSX: "Excel (XLSX)",
    EML: "Email (EML)",
    MSG: "Email (Outlook MSG)",
    HTML: "HTML",
    TEXT: "Plain text",
    MARKDOWN: "Markdown",
    CSV: "CSV",
    VTT: "Subtitles (WebVTT)",
    SRT: "Subtitles (SRT)",
    "audio/mpeg": "Audio (MP3)",
    "audio/wav": "Audio (WAV)",
    "audio/flac": "Audio (FLAC)",
    "audio/ogg": "Audio (Ogg)",
    "audio/mp4": "Audio (M4A)",
    "audio/aac": "Audio (AAC)",
    "audio/webm": "Audio (WebM)",
    "video/mp4": "Video (MP4)",
    "video/quicktime": "Video (QuickTime MOV)",
    "video/webm": "Video (WebM)",
    "video/x-matroska": "Video (Matroska MKV)",
}


def _accepted_summary() -> str:
    # "Word (DOCX)" and "Word (DOC)" read better as "Word (DOCX, DOC)".
    groups: dict[str, list[str]] = {}
    for name in SUPPORTED.values():
        group, _, detail = name.partition(" (")
        groups.setdefault(group, [])
        if detail:
            groups[group].append(detail.rstrip(")"))
    return ", ".join(f"{g} ({', '.join(d)})" if d else g for g, d in groups.items())


ACCEPTED_FORMATS = _accepted_summary()


class UnsupportedMediaType(Exception):
    """The upload is in a format the archive does not accept; `reason` tells a person why."""

    def __init__(self, reason: str, *, looks_like: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.looks_like = looks_like


def _refuse(what: str, advice: str = "") -> UnsupportedMediaType:
    reason = f"This looks like {what}, which the archive does not accept."
    if advice:
        reason += f" {advice}"
    return UnsupportedMediaType(f"{reason} Accepted: {ACCEPTED_FORMATS}.", looks_like=what)


def _unrecognised() -> UnsupportedMediaType:
    return UnsupportedMediaType(
        f"The file's format was not recognised. Accepted: {ACCEPTED_FORMATS}."
    )


_UNPACK = "Unpack it and upload the files inside one by one."
_SCAN = "If it is a scan or photo of a document, save it as PDF and upload that."
_TO_MP4 = "Convert it to MP4 and upload that."
_TO_AUDIO = "Convert it to MP3, WAV or M4A and upload that."
_UNLOCK = "Remove the password, save it again and upload that."
_AS_DOCX = "Save it as DOCX and upload that."
_AS_XLSX = "Save it as XLSX and upload that."
_AS_PPTX = "Save it as PPTX and upload that."
_AS_ODT = "Save it as ODT and upload that."
_AS_PDF = "Save it as PDF and upload that."


def sniff(
    head: bytes,
    *,
    filename: str | None = None,
    open_seekable: Callable[[], AbstractContextManager[BinaryIO]] | None = None,
    size: int | None = None,
) -> str:
    """Return the media type of a file from its first `HEAD_SIZE` bytes, or raise
    `UnsupportedMediaType`.

    `open_seekable` opens the whole object for the few reads a container needs; without it the
    head alone decides, as well as it can. `size` is the whole file's length when known.
    """
    if size == 0 or not head:
        raise UnsupportedMediaType("The file is empty.")
    with ExitStack() as stack:
        source = _Source(head, size, open_seekable, stack)
        media_type = _sniff_binary(source)
        if media_type is None:
            media_type = _sniff_text(source, _extension(filename))
    return media_type


def needs_container_look(head: bytes) -> bool:
    """Whether a verdict from the head alone may change once the whole object can be read: ZIP
    packages and OLE2 compound files are identified from directories the head may not hold."""
    return head.startswith((b"PK\x03\x04", b"PK\x07\x08", _OLE_MAGIC))


# --- reading past the head ---------------------------------------------------------------------

_PAGE = 16 * 1024


class _OutOfReach(Exception):
    """The bytes needed lie past the head and there is no seekable file to read them from."""


class _Source:
    """The head, plus page-cached reads of the rest of the object when the caller allows them."""

    def __init__(
        self,
        head: bytes,
        size: int | None,
        open_seekable: Callable[[], AbstractContextManager[BinaryIO]] | None,
        stack: ExitStack,
    ) -> None:
        self.head = head
        self.complete = len(head) >= size if size is not None else len(head) < HEAD_SIZE
        self.size = len(head) if self.complete else size
        self._open = open_seekable
        self._stack = stack
        self._file: BinaryIO | None = None
        self._pages: dict[int, bytes] = {}

    def seekable(self) -> BinaryIO | None:
        if self.complete:
            return io.BytesIO(self.head)
        if self._file is None and self._open is not None:
            self._file = self._stack.enter_context(self._open())
        return self._file

    def read_at(self, offset: int, n: int) -> bytes:
        """Up to `n` bytes at `offset` (fewer only at the end of the file)."""
        end = offset + n
        if end <= len(self.head) or self.complete:
            return self.head[offset:end]
        file = self.seekable()
        if file is None:
            raise _OutOfReach
        if n > 4 * _PAGE:
            file.seek(offset)
            return _read_up_to(file, n)
        first, last = offset // _PAGE, (end - 1) // _PAGE
        data = b"".join(self._page(file, i) for i in range(first, last + 1))
        start = offset - first * _PAGE
        return data[start : start + n]

    def _page(self, file: BinaryIO, index: int) -> bytes:
        start = index * _PAGE
        if start + _PAGE <= len(self.head):
            return self.head[start : start + _PAGE]
        if index not in self._pages:
            file.seek(start)
            self._pages[index] = _read_up_to(file, _PAGE)
        return self._pages[index]


def _read_up_to(file: BinaryIO, n: int) -> bytes:
    chunks = []
    while n > 0:
        chunk = file.read(n)
        if not chunk:
            break
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


# --- binary formats ----------------------------------------------------------------------------

# (offset, magic, what it is, advice) for formats refused on their signature alone.
_REFUSED_MAGIC: list[tuple[int, bytes, str, str]] = [
    (0, b"\xff\xd8\xff", "a JPEG image", _SCAN),
    (0, b"\x89PNG\r\n\x1a\n", "a PNG image", _SCAN),
    (0, b"GIF87a", "a GIF image", _SCAN),
    (0, b"GIF89a", "a GIF image", _SCAN),
    (0, b"II*\x00", "a TIFF image", _SCAN),
    (0, b"MM\x00*", "a TIFF image", _SCAN),
    (0, b"8BPS\x00\x01", "a Photoshop image (PSD)", _SCAN),
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n", "a JPEG 2000 image", _SCAN),
    (0, b"\x00\x00\x00\x0cJXL \r\n\x87\n", "a JPEG XL image", _SCAN),
    (0, b"\xff\x0a", "a JPEG XL image", _SCAN),
    (0, b"\x7fELF", "a Linux program (ELF)", ""),
    (0, b"\xfe\xed\xfa\xce", "a macOS program (Mach-O)", ""),
    (0, b"\xfe\xed\xfa\xcf", "a macOS program (Mach-O)", ""),
    (0, b"\xce\xfa\xed\xfe", "a macOS program (Mach-O)", ""),
    (0, b"\xcf\xfa\xed\xfe", "a macOS program (Mach-O)", ""),
    (0, b"\xca\xfe\xba\xbe", "a program (Java class or macOS universal binary)", ""),
    (0, b"\x00asm", "a WebAssembly program", ""),
    (0, b"\x1f\x8b", "a gzip-compressed file", _UNPACK),
    (0, b"\xfd7zXZ\x00", "an xz-compressed file", _UNPACK),
    (0, b"\x28\xb5\x2f\xfd", "a Zstandard-compressed file", _UNPACK),
    (0, b"\x04\x22\x4d\x18", "an LZ4-compressed file", _UNPACK),
    (0, b"LZIP\x01", "an lzip-compressed file", _UNPACK),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", _UNPACK),
    (0, b"Rar!\x1a\x07", "a RAR archive", _UNPACK),
    (0, b"MSCF\x00\x00\x00\x00", "a Windows cabinet archive (CAB)", _UNPACK),
    (0, b"xar!\x00\x1c", "a XAR archive", _UNPACK),
    (0, b"!<arch>\n", "an ar archive (or Debian package)", _UNPACK),
    (0, b"\xed\xab\xee\xdb", "an RPM package", ""),
    (257, b"ustar\x00", "a tar archive", _UNPACK),
    (257, b"ustar  \x00", "a tar archive", _UNPACK),
    (0x8001, b"CD001", "a disk image (ISO)", _UNPACK),
    (0, b"SQLite format 3\x00", "an SQLite database", ""),
    (0, b"!BDN", "an Outlook mailbox (PST)", "Save the messages you need as MSG or EML files."),
    (0, b"%!PS", "a PostScript file", _AS_PDF),
    (0, b"\xc5\xd0\xd3\xc6", "an EPS file", _AS_PDF),
    (0, b"AT&TFORM", "a DjVu document", _AS_PDF),
    (0, b"ITSF\x03\x00\x00\x00", "a Windows help file (CHM)", ""),
    (60, b"BOOKMOBI", "a Kindle e-book (MOBI)", "Export it as PDF and upload that."),
    (0, b"\xffWPC", "a WordPerfect document", _AS_DOCX),
    (0, b"#!AMR", "an AMR audio recording", _TO_AUDIO),
    (0, b"MThd\x00\x00\x00\x06", "a MIDI file", ""),
    (0, b"caff\x00\x01", "a Core Audio file (CAF)", _TO_AUDIO),
    (0, b".snd\x00\x00\x00", "a Sun audio file (AU)", _TO_AUDIO),
    (0, b"wvpk", "a WavPack audio file", _TO_AUDIO),
    (0, b"0&\xb2u\x8ef\xcf\x11", "a Windows Media file (WMA or WMV)", _TO_MP4),
    (0, b"FLV\x01", "a Flash video (FLV)", _TO_MP4),
    (0, b"\x00\x00\x01\xba", "an MPEG video (MPEG-PS)", _TO_MP4),
    (0, b"\x00\x00\x01\xb3", "an MPEG video", _TO_MP4),
    (0, b"L\x00\x00\x00\x01\x14\x02\x00", "a Windows shortcut (LNK)", ""),
]

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _sniff_binary(src: _Source) -> str | None:
    """The media type of a binary format, None when the content should be read as text."""
    h = src.head
    if h.startswith(b"%PDF-"):
        return PDF
    if h.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return _sniff_zip(src)
    if h.startswith(_OLE_MAGIC):
        return _sniff_ole(src)
    if h.startswith((b"{\\rtf", b"\xef\xbb\xbf{\\rtf")):
        return RTF
    media_type = _sniff_media(src)
    if media_type is not None:
        return media_type
    binary = b"\x00" in h[:4096]
    for offset, magic, what, advice in _REFUSED_MAGIC:
        if h.startswith(magic, offset) and (binary or not _printable(magic) or magic == b"%!PS"):
            raise _refuse(what, advice)
    if h.startswith(b"MZ") and (b"\x00" in h[2:64] or h.startswith(b"PE\x00\x00", _u32(h, 0x3C))):
        raise _refuse("a Windows program (EXE or DLL)")
    if _is_bmp(h):
        raise _refuse("a BMP image", _SCAN)
    pdf_at = h.find(b"%PDF-", 0, 1024)
    if pdf_at > 0 and h[pdf_at + 5 : pdf_at + 6].isdigit():
        return PDF  # readers accept a PDF whose header follows up to 1 KiB of junk
    return None


def _printable(magic: bytes) -> bool:
    """A signature prose could start with; it counts only in a file with NULs in it."""
    return all(0x20 <= byte < 0x7F or byte == 0x0A for byte in magic)


def _u16(b: bytes, at: int) -> int:
    return int.from_bytes(b[at : at + 2], "little")


def _u32(b: bytes, at: int) -> int:
    return int.from_bytes(b[at : at + 4], "little")


def _is_bmp(h: bytes) -> bool:
    return (
        h.startswith(b"BM")
        and h[6:10] == b"\x00" * 4
        and _u32(h, 14) in (12, 40, 52, 56, 64, 108, 124)
    )


# --- ZIP packages ------------------------------------------------------------------------------

_MEMBER_CAP = 1024 * 1024

_OFFICE = "application/vnd.openxmlformats-officedocument."
_MS = "application/vnd.ms-"
_OASIS = "application/vnd.oasis.opendocument."

# Main-part content types in [Content_Types].xml: a media type, or (what, advice) to refuse.
_OOXML_MAIN: dict[str, str | tuple[str, str]] = {
    _OFFICE + "wordprocessingml.document.main+xml": DOCX,
    _OFFICE + "presentationml.presentation.main+xml": PPTX,
    _OFFICE + "spreadsheetml.sheet.main+xml": XLSX,
    _MS + "word.document.macroenabled.main+xml": ("a macro-enabled Word document (DOCM)", _AS_DOCX),
    _OFFICE + "wordprocessingml.template.main+xml": ("a Word template (DOTX)", _AS_DOCX),
    _MS + "word.template.macroenabledtemplate.main+xml": ("a Word template (DOTM)", _AS_DOCX),
    _MS + "powerpoint.presentation.macroenabled.main+xml": (
        "a macro-enabled PowerPoint presentation (PPTM)",
        _AS_PPTX,
    ),
    _OFFICE + "presentationml.slideshow.main+xml": ("a PowerPoint slide show (PPSX)", _AS_PPTX),
    _MS + "powerpoint.slideshow.macroenabled.main+xml": (
        "a PowerPoint slide show (PPSM)",
        _AS_PPTX,
    ),
    _OFFICE + "presentationml.template.main+xml": ("a PowerPoint template (POTX)", _AS_PPTX),
    _MS + "excel.sheet.macroenabled.main+xml": ("a macro-enabled Excel workbook (XLSM)", _AS_XLSX),
    _MS + "excel.sheet.binary.macroenabled.main": ("a binary Excel workbook (XLSB)", _AS_XLSX),
    _OFFICE + "spreadsheetml.template.main+xml": ("an Excel template (XLTX)", _AS_XLSX),
    _MS + "visio.drawing.main+xml": ("a Visio drawing (VSDX)", _SCAN),
    _MS + "package.xps-fixeddocumentsequence+xml": ("an XPS document", _AS_PDF),
}

# The `mimetype` entry of an ODF package (or EPUB): a media type, or (what, advice) to refuse.
_ODF: dict[str, str | tuple[str, str]] = {
    ODT: ODT,
    _OASIS + "text-template": ("an OpenDocument text template (OTT)", _AS_ODT),
    _OASIS + "text-master": ("an OpenDocument master document (ODM)", _AS_ODT),
    _OASIS + "spreadsheet": ("an OpenDocument spreadsheet (ODS)", _AS_XLSX),
    _OASIS + "presentation": ("an OpenDocument presentation (ODP)", _AS_PPTX),
    _OASIS + "graphics": ("an OpenDocument drawing (ODG)", _SCAN),
    _OASIS + "formula": ("an OpenDocument formula (ODF)", ""),
    _OASIS + "base": ("an OpenDocument database (ODB)", ""),
    "application/epub+zip": ("an e-book (EPUB)", "Export it as PDF and upload that."),
}

# Conventional part names, used only when the head is all there is to go on.
_OOXML_PART_HINTS = {
    "word/document.xml": DOCX,
    "ppt/presentation.xml": PPTX,
    "xl/workbook.xml": XLSX,
}


def _sniff_zip(src: _Source) -> str:
    if src.head.startswith(b"PK\x05\x06"):
        raise _refuse("an empty ZIP archive")
    file = src.seekable()
    if file is None:
        members = dict(_zip_local_members(src.head))
        return _classify_zip(list(members), members.get, complete_listing=False)
    try:
        with zipfile.ZipFile(file) as zf:
            return _classify_zip(
                zf.namelist(), lambda name: _zip_member(zf, name), complete_listing=True
            )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise _refuse("a damaged or incomplete ZIP archive", "Upload the file again.") from exc


def _zip_member(zf: zipfile.ZipFile, name: str) -> bytes | None:
    try:
        with zf.open(name) as member:
            return member.read(_MEMBER_CAP)
    except (KeyError, RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error, EOFError):
        return None  # missing, encrypted, or compressed in a way zipfile cannot read


def _zip_local_members(head: bytes) -> Iterator[tuple[str, bytes | None]]:
    """Walk the local file headers inside the head: each name, and the (possibly cut) data of
    the few members the classification reads."""
    pos = 0
    for _ in range(1000):
        if not head.startswith(b"PK\x03\x04", pos) or pos + 30 > len(head):
            return
        flags, method = _u16(head, pos + 6), _u16(head, pos + 8)
        csize = _u32(head, pos + 18)
        nlen, xlen = _u16(head, pos + 26), _u16(head, pos + 28)
        raw_name = head[pos + 30 : pos + 30 + nlen]
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        start = pos + 30 + nlen + xlen
        sized = not flags & 0x08 and csize != 0xFFFFFFFF
        end = start + csize if sized else len(head)
        data = None
        if name.lower() in ("mimetype", "[content_types].xml", "meta-inf/manifest.xml"):
            data = _inflate(head[start:end], method) if not flags & 0x01 else None
        yield name, data
        if sized:
            pos = end
        else:  # sizes follow the data; the next header is the next signature
            found = head.find(b"PK\x03\x04", start)
            if found < 0:
                return
            pos = found


def _inflate(data: bytes, method: int) -> bytes | None:
    if method == 0:
        return data[:_MEMBER_CAP]
    if method == 8:
        try:
            return zlib.decompressobj(-15).decompress(data, _MEMBER_CAP)
        except zlib.error:
            return None
    return None


def _classify_zip(
    names: list[str], read: Callable[[str], bytes | None], *, complete_listing: bool
) -> str:
    by_lower = {name.lower(): name for name in names}
    if "mimetype" in by_lower:
        mimetype = (read(by_lower["mimetype"]) or b"")[:200].decode("ascii", "replace").strip()
        if mimetype:
            return _decide(_ODF.get(mimetype.lower()), f"a ZIP-based package ({mimetype})")
    if "[content_types].xml" in by_lower:
        content_types = read(by_lower["[content_types].xml"]) or b""
        found = {
            m.decode("ascii", "replace").strip().lower()
            for m in re.findall(rb"ContentType\s*=\s*[\"']([^\"']+)[\"']", content_types)
        }
        for main, decision in _OOXML_MAIN.items():
            if main in found:
                return _decide(decision, "")
        if complete_listing and found:
            raise _refuse("an Office Open XML package of an unrecognised kind")
    if "meta-inf/manifest.xml" in by_lower:
        manifest = read(by_lower["meta-inf/manifest.xml"]) or b""
        root = re.search(rb"<manifest:file-entry\b[^>]*full-path=\"/\"[^>]*>", manifest)
        if root:
            m = re.search(rb"media-type=\"([^\"]+)\"", root.group(0))
            mimetype = m.group(1).decode("ascii", "replace") if m else ""
            if mimetype:
                return _decide(_ODF.get(mimetype.lower()), f"a ZIP-based package ({mimetype})")
    if not complete_listing:
        for part, media_type in _OOXML_PART_HINTS.items():
            if part in by_lower:
                return media_type
    if "index/document.iwa" in by_lower or "index.zip" in by_lower:
        raise _refuse(
            "an Apple iWork document (Pages, Numbers or Keynote)",
            "Export it as DOCX, XLSX, PPTX or PDF and upload that.",
        )
    if "androidmanifest.xml" in by_lower:
        raise _refuse("an Android app (APK)")
    if "meta-inf/manifest.mf" in by_lower:
        raise _refuse("a Java archive (JAR)")
    raise _refuse("a ZIP archive", _UNPACK)


def _decide(decision: str | tuple[str, str] | None, unknown: str) -> str:
    if isinstance(decision, str):
        return decision
    if decision is None:
        raise _refuse(unknown)
    raise _refuse(*decision)


# --- OLE2 compound files -----------------------------------------------------------------------

_ENDOFCHAIN = 0xFFFFFFFE
_NOSTREAM = 0xFFFFFFFF
_MAXREGSECT = 0xFFFFFFFA
_MSI_CLSID_TAIL = b"\x10\x0c\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"


class _Corrupt(Exception):
    """The compound file's structures contradict themselves."""


class _OleEntry:
    __slots__ = ("name", "start", "size")

    def __init__(self, name: str, start: int, size: int) -> None:
        self.name, self.start, self.size = name, start, size


def _sniff_ole(src: _Source) -> str:
    try:
        entries, root_clsid, sector_size = _ole_root_entries(src)
    except _OutOfReach:
        entries, root_clsid, sector_size = _ole_names_in_head(src.head), b"", 0
    except (_Corrupt, struct.error, IndexError) as exc:
        raise _refuse(
            "a damaged Microsoft compound file (an older Office format)", "Upload the file again."
        ) from exc
    if any(name.startswith("__substg1.0_") for name in entries) or (
        "__properties_version1.0" in entries
    ):
        return MSG
    if "worddocument" in entries:
        if sector_size and _word_encrypted(src, entries["worddocument"], sector_size):
            raise _refuse("a password-protected Word document (DOC)", _UNLOCK)
        return DOC
    if "encryptedpackage" in entries:
        raise _refuse("a password-protected Office document", _UNLOCK)
    if "workbook" in entries or "book" in entries:
        raise _refuse("an Excel 97-2003 workbook (XLS)", _AS_XLSX)
    if "powerpoint document" in entries:
        raise _refuse("a PowerPoint 97-2003 presentation (PPT)", _AS_PPTX)
    if "visiodocument" in entries:
        raise _refuse("a Visio drawing (VSD)", _SCAN)
    if "quill" in entries:
        raise _refuse("a Publisher document (PUB)", _AS_PDF)
    if root_clsid[1:] == _MSI_CLSID_TAIL:
        raise _refuse("a Windows Installer package (MSI)")
    raise _refuse("a Microsoft compound file (an older Office or Windows format)")


def _ole_root_entries(src: _Source) -> tuple[dict[str, _OleEntry], bytes, int]:
    """The entries directly under the root storage, by lower-cased name (names in a compound
    file compare case-insensitively), with the root's CLSID and the sector size.

    Reads the header, then only the directory sectors and FAT sectors the root's children need.
    """
    header = src.read_at(0, 512)
    if len(header) < 512 or _u16(header, 0x1C) != 0xFFFE:
        raise _Corrupt
    shift = _u16(header, 0x1E)
    if shift not in (9, 12):
        raise _Corrupt
    sector_size = 1 << shift
    per_sector = sector_size // 4
    difat = list(struct.unpack_from("<109I", header, 0x4C))
    next_difat, difat_left = _u32(header, 0x44), _u32(header, 0x48)
    fat_sectors: dict[int, bytes] = {}

    def sector(number: int) -> bytes:
        if number > _MAXREGSECT:
            raise _Corrupt
        data = src.read_at((number + 1) * sector_size, sector_size)
        if len(data) != sector_size:
            raise _Corrupt
        return data

    def next_in_chain(number: int) -> int:
        nonlocal next_difat, difat_left
        index, slot = divmod(number, per_sector)
        while index >= len(difat):
            if difat_left <= 0 or next_difat > _MAXREGSECT:
                raise _Corrupt
            entries = struct.unpack(f"<{per_sector}I", sector(next_difat))
            difat.extend(entries[:-1])
            next_difat, difat_left = entries[-1], difat_left - 1
        if index not in fat_sectors:
            fat_sectors[index] = sector(difat[index])
        return _u32(fat_sectors[index], slot * 4)

    chain = [_u32(header, 0x30)]
    per_dir_sector = sector_size // 128
    dir_sectors: dict[int, bytes] = {}

    def entry(index: int) -> bytes:
        if src.size is not None and index * 128 >= src.size:
            raise _Corrupt  # an index no file this size could hold
        position, slot = divmod(index, per_dir_sector)
        while len(chain) <= position:
            following = next_in_chain(chain[-1])
            if following == _ENDOFCHAIN or len(chain) > 1 << 16:
                raise _Corrupt
            chain.append(following)
        number = chain[position]
        if number not in dir_sectors:
            dir_sectors[number] = sector(number)
        return dir_sectors[number][slot * 128 : slot * 128 + 128]

    root = entry(0)
    if root[0x42] != 5:
        raise _Corrupt
    found: dict[str, _OleEntry] = {}
    pending, seen = [_u32(root, 0x4C)], set[int]()
    while pending:
        index = pending.pop()
        if index == _NOSTREAM:
            continue
        if index in seen or len(seen) > 10_000:
            raise _Corrupt
        seen.add(index)
        raw = entry(index)
        name_length = min(_u16(raw, 0x40), 64)
        name = raw[: max(name_length - 2, 0)].decode("utf-16-le", "replace")
        found[name.lower()] = _OleEntry(name, _u32(raw, 0x74), _u32(raw, 0x78))
        pending += [_u32(raw, 0x44), _u32(raw, 0x48)]
    return found, root[0x50:0x60], sector_size


def _ole_names_in_head(head: bytes) -> dict[str, _OleEntry]:
    """Best effort without a seekable file: directory entry names the head happens to hold
    (entries sit on 128-byte boundaries), at any depth."""
    found: dict[str, _OleEntry] = {}
    for name in (
        "__substg1.0_",
        "__properties_version1.0",
        "WordDocument",
        "EncryptedPackage",
        "Workbook",
        "Book",
        "PowerPoint Document",
        "VisioDocument",
        "Quill",
    ):
        needle = name.encode("utf-16-le") + (b"" if name.endswith("_") else b"\x00\x00")
        at = head.find(needle)
        while at >= 0 and at % 128:
            at = head.find(needle, at + 1)
        if at >= 0:
            found[name.lower()] = _OleEntry(name, 0, 0)
    return found


def _word_encrypted(src: _Source, entry: _OleEntry, sector_size: int) -> bool:
    """Whether the Word binary's FIB says the document is encrypted (fEncrypted, bit 8 of the
    flags at 0x0A). Streams under 4 KiB live in the mini stream; those are not checked."""
    if entry.size < 4096 or entry.start > _MAXREGSECT:
        return False
    try:
        fib = src.read_at((entry.start + 1) * sector_size, 12)
    except _OutOfReach:
        return False
    return len(fib) == 12 and _u16(fib, 0) == 0xA5EC and bool(_u16(fib, 0x0A) & 0x0100)


# --- audio and video ---------------------------------------------------------------------------


def _sniff_media(src: _Source) -> str | None:
    h = src.head
    if (
        h.startswith(b"ID3")
        and len(h) >= 10
        and h[3] in (2, 3, 4)
        and h[4] != 0xFF
        and (not any(b & 0x80 for b in h[6:10]))
    ):
        return _after_id3(src)
    if h.startswith(b"fLaC") and len(h) > 4 and h[4] & 0x7F == 0:
        return "audio/flac"
    binary = b"\x00" in h[:4096]  # text never holds a NUL; these containers always do early
    if h[:4] in (b"RIFF", b"RF64", b"BW64") and len(h) >= 12 and binary:
        form = h[8:12]
        if form == b"WAVE":
            return "audio/wav"
        if form == b"AVI ":
            raise _refuse("an AVI video", _TO_MP4)
        if form == b"WEBP":
            raise _refuse("a WebP image", _SCAN)
        raise _refuse(f"a RIFF file ({form.decode('latin-1').strip()})")
    if h.startswith(b"FORM") and h[8:12] in (b"AIFF", b"AIFC"):
        raise _refuse("an AIFF audio file", _TO_AUDIO)
    if h.startswith(b"OggS\x00"):
        return _sniff_ogg(h)
    if h[4:8] == b"ftyp":
        return _sniff_ftyp(src)
    if h[4:8] in (b"moov", b"mdat", b"wide", b"pnot") and _u32be(h, 0) >= 8 and binary:
        return "video/quicktime"  # QuickTime from before the ftyp box
    if h.startswith(b"\x1a\x45\xdf\xa3"):
        return _sniff_ebml(h)
    if binary and _mpeg_ts(h):
        raise _refuse("an MPEG transport stream (such as camcorder MTS video)", _TO_MP4)
    if h[:2] != b"\xff\xfe":  # a UTF-16 byte order mark also starts like a frame sync
        if _frames_follow(src, 0, _adts_frame_length):
            return "audio/aac"
        if _frames_follow(src, 0, _mpeg_frame_length):
            return "audio/mpeg"
    return None


def _u32be(b: bytes, at: int) -> int:
    return int.from_bytes(b[at : at + 4], "big")


def _after_id3(src: _Source) -> str:
    h = src.head
    size = (h[6] << 21) | (h[7] << 14) | (h[8] << 7) | h[9]
    end = 10 + size + (10 if h[5] & 0x10 else 0)
    try:
        following = src.read_at(end, 4096)
    except _OutOfReach:
        return "audio/mpeg"  # a long tag (cover art) hides the audio; ID3 means MP3 nearly always
    start = len(following) - len(following.lstrip(b"\x00"))  # padding past the declared size
    if following.startswith(b"fLaC", start):
        return "audio/flac"
    if _frames_follow(src, end + start, _adts_frame_length):
        return "audio/aac"
    return "audio/mpeg"


_MPEG1_RATES = (44100, 48000, 32000)
_SAMPLE_RATES = {3: _MPEG1_RATES, 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_BITRATES = {  # kbit/s by (MPEG-1?, layer bits); layer bits 3 = I, 2 = II, 1 = III
    (True, 3): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 1): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 3): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 1): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}


def _mpeg_frame_length(h: bytes) -> tuple[int, bytes] | None:
    """The length of the MPEG audio frame whose header starts `h`, and the header bits every
    frame of the stream shares."""
    if len(h) < 4 or h[0] != 0xFF or h[1] & 0xE0 != 0xE0:
        return None
    version, layer = (h[1] >> 3) & 3, (h[1] >> 1) & 3
    bitrate_index, rate_index = h[2] >> 4, (h[2] >> 2) & 3
    if version == 1 or layer == 0 or bitrate_index in (0, 15) or rate_index == 3 or h[3] & 3 == 2:
        return None
    mpeg1 = version == 3
    bitrate = _BITRATES[(mpeg1, layer)][bitrate_index] * 1000
    rate = _SAMPLE_RATES[version][rate_index]
    padding = (h[2] >> 1) & 1
    if layer == 3:
        length = (12 * bitrate // rate + padding) * 4
    elif layer == 1 and not mpeg1:
        length = 72 * bitrate // rate + padding
    else:
        length = 144 * bitrate // rate + padding
    return length, bytes([h[1], h[2] & 0x0C])


def _adts_frame_length(h: bytes) -> tuple[int, bytes] | None:
    if len(h) < 7 or h[0] != 0xFF or h[1] & 0xF6 != 0xF0 or (h[2] >> 2) & 0x0F > 12:
        return None
    length = ((h[3] & 3) << 11) | (h[4] << 3) | (h[5] >> 5)
    return (length, bytes([h[1] & 0xF6, h[2] & 0xFC])) if length >= 7 else None


def _frames_follow(
    src: _Source, at: int, frame: Callable[[bytes], tuple[int, bytes] | None]
) -> bool:
    """Two consecutive, consistent frames from `at`: one alone is too easy to meet by chance."""
    try:
        first = frame(src.read_at(at, 8))
        if first is None:
            return False
        second = frame(src.read_at(at + first[0], 8))
    except _OutOfReach:
        return False
    return second is not None and second[1] == first[1]


def _sniff_ogg(h: bytes) -> str:
    pos, codecs_seen = 0, []
    for _ in range(8):  # the first pages of an Ogg file begin its logical streams
        if not h.startswith(b"OggS", pos) or pos + 27 > len(h):
            break
        segments = h[pos + 26]
        body = pos + 27 + segments
        codecs_seen.append(h[body : body + 8])
        if not h[pos + 5] & 0x02:  # not a beginning-of-stream page: the headers are over
            break
        pos = body + sum(h[pos + 27 : body])
    audio = (b"OpusHead", b"\x01vorbis", b"Speex   ", b"\x7fFLAC")
    if any(c.startswith(b"\x80theora") for c in codecs_seen):
        raise _refuse("an Ogg video (Theora)", _TO_MP4)
    if any(c.startswith(audio) for c in codecs_seen):
        return "audio/ogg"
    raise _refuse("an Ogg file of an unrecognised kind", _TO_AUDIO)


_M4A_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
_M4V_BRANDS = {b"M4V ", b"M4VH", b"M4VP", b"F4V ", b"F4P "}
_ISO_BRANDS = {
    b"isom",
    b"iso2",
    b"iso3",
    b"iso4",
    b"iso5",
    b"iso6",
    b"iso7",
    b"iso8",
    b"iso9",
    b"mp41",
    b"mp42",
    b"mp71",
    b"avc1",
    b"dash",
    b"MSNV",
    b"NDAS",
    b"mmp4",
    b"XAVC",
    b"3gp4",
    b"3gp5",
    b"3gp6",
    b"3gp7",
    b"3gp8",
    b"3gp9",
    b"3g2a",
    b"3g2b",
    b"3g2c",
    b"3ge6",
    b"3ge7",
    b"3gg6",
}
_IMAGE_BRANDS = {
    b"heic",
    b"heix",
    b"hevc",
    b"hevx",
    b"heim",
    b"heis",
    b"mif1",
    b"msf1",
    b"avif",
    b"avis",
    b"jp2 ",
    b"jpx ",
    b"crx ",
}


def _sniff_ftyp(src: _Source) -> str:
    h = src.head
    box_end = min(max(_u32be(h, 0), 16), len(h), 1024)
    major = h[8:12]
    brands = {major} | {h[i : i + 4] for i in range(16, box_end - 3, 4)}
    if major == b"qt  ":
        return "video/quicktime"
    if major in _IMAGE_BRANDS:
        raise _refuse("a HEIC, AVIF or similar image", _SCAN)
    if major in _M4A_BRANDS:
        return "audio/mp4"
    if major in _M4V_BRANDS:
        return "video/mp4"
    if brands & (_ISO_BRANDS | _M4A_BRANDS | _M4V_BRANDS):
        handlers = _mp4_handlers(src)
        if b"soun" in handlers and b"vide" not in handlers:
            return "audio/mp4"
        return "video/mp4"
    if b"qt  " in brands:
        return "video/quicktime"
    if brands & _IMAGE_BRANDS:
        raise _refuse("a HEIC, AVIF or similar image", _SCAN)
    raise _refuse(f"an ISO media file of an unrecognised kind ({major.decode('latin-1')})")


def _mp4_handlers(src: _Source) -> set[bytes]:
    """The handler types (b"soun", b"vide", ...) of the tracks, read from box headers only; an
    empty set when the movie box is out of reach or the structure is odd."""
    budget = [64]
    end = src.size if src.size is not None else 1 << 62
    handlers: set[bytes] = set()
    try:
        for kind, start, stop in _boxes(src, 0, end, budget):
            if kind != b"moov":
                continue
            for trak, trak_start, trak_stop in _boxes(src, start, stop, budget):
                if trak != b"trak":
                    continue
                for mdia, mdia_start, mdia_stop in _boxes(src, trak_start, trak_stop, budget):
                    if mdia != b"mdia":
                        continue
                    for hdlr, hdlr_start, _ in _boxes(src, mdia_start, mdia_stop, budget):
                        if hdlr == b"hdlr":
                            handlers.add(src.read_at(hdlr_start + 8, 4))
            break
    except _OutOfReach:
        return set()
    return handlers


def _boxes(
    src: _Source, start: int, end: int, budget: list[int]
) -> Iterator[tuple[bytes, int, int]]:
    pos = start
    while pos + 8 <= end and budget[0] > 0:
        budget[0] -= 1
        header = src.read_at(pos, 16)
        if len(header) < 8:
            return
        size, kind = _u32be(header, 0), header[4:8]
        payload = pos + 8
        if size == 1:
            if len(header) < 16:
                return
            size, payload = int.from_bytes(header[8:16], "big"), pos + 16
        elif size == 0:
            size = end - pos
        if size < payload - pos:
            return
        yield kind, payload, min(pos + size, end)
        pos += size


def _sniff_ebml(h: bytes) -> str:
    try:
        doc_type, track_types = _ebml_doc_type_and_tracks(h)
    except (IndexError, ValueError):
        doc_type, track_types = "", set()
    if doc_type == "webm":
        if 2 in track_types and 1 not in track_types:
            return "audio/webm"
        return "video/webm"
    if doc_type == "matroska":
        return "video/x-matroska"
    raise _refuse("an EBML (Matroska-like) file of an unrecognised kind", _TO_MP4)


_EBML_HEADER, _DOC_TYPE, _SEGMENT = 0x1A45DFA3, 0x4282, 0x18538067
_TRACKS, _TRACK_ENTRY, _TRACK_TYPE, _CLUSTER = 0x1654AE6B, 0xAE, 0x83, 0x1F43B675


def _ebml_doc_type_and_tracks(h: bytes) -> tuple[str, set[int]]:
    eid, start, size = _ebml_element(h, 0)
    if eid != _EBML_HEADER or size < 0:
        raise ValueError
    doc_type = ""
    for child, child_start, child_size in _ebml_children(h, start, start + size):
        if child == _DOC_TYPE:
            doc_type = h[child_start : child_start + child_size].rstrip(b"\x00").decode("ascii")
    track_types: set[int] = set()
    eid, start, size = _ebml_element(h, start + size)
    if eid != _SEGMENT:
        return doc_type, track_types
    segment_end = len(h) if size < 0 else min(start + size, len(h))
    for child, child_start, child_size in _ebml_children(h, start, segment_end):
        if child == _CLUSTER or child_size < 0:
            break
        if child != _TRACKS:
            continue
        for entry, at, length in _ebml_children(h, child_start, child_start + child_size):
            if entry != _TRACK_ENTRY:
                continue
            for field, value_at, value_length in _ebml_children(h, at, at + length):
                if field == _TRACK_TYPE:
                    track_types.add(int.from_bytes(h[value_at : value_at + value_length], "big"))
        break
    return doc_type, track_types


def _ebml_children(h: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    pos = start
    while pos < min(end, len(h)):
        eid, data_start, size = _ebml_element(h, pos)
        yield eid, data_start, size
        if size < 0:
            return
        pos = data_start + size


def _ebml_element(h: bytes, pos: int) -> tuple[int, int, int]:
    """(ID, data start, data size or -1 when unknown) of the element at `pos`."""
    eid, id_length = _ebml_vint(h, pos, keep_marker=True)
    size, size_length = _ebml_vint(h, pos + id_length, keep_marker=False)
    if size == (1 << (7 * size_length)) - 1:
        size = -1
    return eid, pos + id_length + size_length, size


def _ebml_vint(h: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int]:
    first = h[pos]
    if first == 0:
        raise ValueError
    length = 9 - first.bit_length()
    if pos + length > len(h):
        raise IndexError
    value = first if keep_marker else first & (0xFF >> length)
    for byte in h[pos + 1 : pos + length]:
        value = value << 8 | byte
    return value, length


def _mpeg_ts(h: bytes) -> bool:
    for offset, stride in ((0, 188), (4, 192)):
        positions = range(offset, min(len(h), offset + 4 * stride), stride)
        if len(positions) >= 3 and all(h[p] == 0x47 for p in positions):
            return True
    return False


# --- text formats ------------------------------------------------------------------------------

_CSV_EXTENSIONS = {".csv": ",;\t", ".tsv": "\t"}
_MARKDOWN_EXTENSIONS = {".md", ".markdown", ".mdown", ".mkd", ".mkdn", ".mdwn", ".mdtext"}
_HTML_EXTENSIONS = {".html", ".htm", ".xhtml"}
_TEXT_EXTENSIONS = {".txt", ".text"}
_SAMPLE = 16 * 1024
_CSV_SAMPLE = 8 * 1024
_CSV_ROWS = 100
_MARKDOWN_SAMPLE = 8 * 1024

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
# C0 controls that do not occur in text; tab, line feed, vertical tab, form feed, carriage
# return, ESC and SUB (a DOS end-of-file marker) do.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x1A), *range(0x1C, 0x20)])
_CONTROL_CHARS = re.compile("[\x00-\x08\x0e-\x19\x1c-\x1f]")


def _extension(filename: str | None) -> str:
    name = sanitise_filename(filename)
    if not name or "." not in name.lstrip("."):
        return ""
    return "." + name.rsplit(".", 1)[1].lower()


def _sniff_text(src: _Source, ext: str) -> str:
    text = _decode(src.head)
    if text is None:
        raise _unrecognised()
    if text.startswith("WEBVTT") and (len(text) == 6 or text[6] in " \t\r\n"):
        return VTT
    body = text.lstrip()
    if not body:
        if src.complete:
            raise UnsupportedMediaType("The file holds only blank space, no text.")
        return TEXT
    if _is_srt(body):
        return SRT
    markup = _markup(body)
    if markup == "html":
        return HTML
    if markup == "xml":
        raise _refuse("an XML file", "Save it as PDF, DOCX or plain text and upload that.")
    if markup == "svg":
        raise _refuse("an SVG image", _SCAN)
    if markup == "word-xml":
        raise _refuse("a Word 2003 XML document", _AS_DOCX)
    if _is_email(text, lax=ext == ".eml"):
        return EML
    if markup == "fragment":
        if ext in _MARKDOWN_EXTENSIONS:
            return MARKDOWN
        return TEXT if ext in _TEXT_EXTENSIONS else HTML
    cut = not src.complete
    if ext in _CSV_EXTENSIONS and _is_csv(text, _CSV_EXTENSIONS[ext], cut=cut, lenient=True):
        return CSV
    if ext in _MARKDOWN_EXTENSIONS:
        return MARKDOWN
    if ext in _HTML_EXTENSIONS and re.search(r"<[A-Za-z/!]", text[:_SAMPLE]):
        return HTML
    if ext in _TEXT_EXTENSIONS:
        return TEXT
    if _is_csv(text, ",;\t", cut=cut, lenient=False):
        return CSV
    if _is_markdown(body):
        return MARKDOWN
    return TEXT


def _decode(data: bytes) -> str | None:
    """The head as text, or None when it is not text. A character cut by the end of the head is
    dropped. Text in a legacy single-byte or double-byte encoding comes back as Latin-1, which
    keeps the ASCII structure the classification looks at."""
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), None)
    if encoding is None:
        encoding = _wide_encoding(data) or "utf-8"
    else:
        data = data[len(next(bom for bom, name in _BOMS if name == encoding)) :]
    if encoding != "utf-8":
        text = codecs.getincrementaldecoder(encoding)("replace").decode(data, final=False)
        sample = text[:_SAMPLE]
        if len(_CONTROL_CHARS.findall(sample)) * 1000 > len(sample):
            return None
        if sample.count("\ufffd") * 100 > len(sample):
            return None
        return text
    if (len(data) - len(data.translate(None, _CONTROL_BYTES))) * 1000 > len(data):
        return None
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _wide_encoding(data: bytes) -> str | None:
    """UTF-16 or UTF-32 without a byte order mark, recognised by where ASCII text puts its
    zero bytes."""
    sample = data[:4096]
    sample = sample[: len(sample) // 4 * 4]
    if len(sample) < 8 or sample.count(0) * 4 < len(sample):
        return None

    def zeros(offset: int, step: int) -> float:
        return sample[offset::step].count(0) / (len(sample) // step)

    if zeros(2, 4) > 0.95 and zeros(3, 4) > 0.95 and zeros(0, 4) < 0.1:
        return "utf-32-le"
    if zeros(0, 4) > 0.95 and zeros(1, 4) > 0.95 and zeros(3, 4) < 0.1:
        return "utf-32-be"
    if zeros(1, 2) > 0.5 and zeros(0, 2) < 0.1:
        return "utf-16-le"
    if zeros(0, 2) > 0.5 and zeros(1, 2) < 0.1:
        return "utf-16-be"
    return None


_SRT_TIMING = re.compile(
    r"[ \t]*\d+:\d{2}:\d{2}[,.]\d{1,3}[ \t]*-->[ \t]*\d+:\d{2}:\d{2}[,.]\d{1,3}", re.ASCII
)


def _is_srt(body: str) -> bool:
    lines = body[:1024].splitlines()
    return (
        len(lines) >= 2
        and re.fullmatch(r"\d+", lines[0].strip(), re.ASCII) is not None
        and _SRT_TIMING.match(lines[1]) is not None
    )


_COMMENT = re.compile(r"<!--.*?-->\s*", re.DOTALL)
_WHATWG_TAGS = re.compile(
    r"<(head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p)[\s>/]", re.IGNORECASE
)


def _markup(body: str) -> str | None:
    """What markup the text opens with: "html" (a document), "fragment" (tags an HTML sniffer
    would take for HTML, but Markdown may open with too), "xml", "svg", "word-xml", or None."""
    pos = 0
    while body.startswith("<!--", pos):
        comment = _COMMENT.match(body, pos)
        if not comment:
            break
        pos = comment.end()
    start = body[pos : pos + 2048].lower()
    if start.startswith("<?xml"):
        if re.search(r"<\?mso-application\s+progid=[\"']word\.document", start):
            return "word-xml"
        root = re.search(r"<(?![?!/])([a-z_][\w.:-]*)", start)
        root_name = root.group(1).rsplit(":", 1)[-1] if root else ""
        if "<!doctype html" in start or root_name == "html":
            return "html"
        return "svg" if root_name == "svg" else "xml"
    if re.match(r"<!doctype\s+html|<html[\s>]", start):
        return "html"
    if start.startswith("<svg"):
        return "svg"
    if _WHATWG_TAGS.match(start) or (pos and start.startswith("<")):
        return "fragment"
    return None


_HEADER_FIELD = re.compile(r"([!-9;-~]+):")
_EMAIL_FIELDS = {
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "received",
    "mime-version",
    "message-id",
    "return-path",
    "reply-to",
    "sender",
    "delivered-to",
    "content-type",
    "content-transfer-encoding",
    "in-reply-to",
    "references",
    "x-mailer",
    "user-agent",
    "dkim-signature",
    "authentication-results",
    "x-original-to",
    "thread-topic",
    "importance",
}
# Fields that prose with a "Subject:" or "Date:" line does not have.
_EMAIL_MARKERS = {
    "from",
    "received",
    "return-path",
    "message-id",
    "mime-version",
    "delivered-to",
    "dkim-signature",
}


def _is_email(text: str, *, lax: bool) -> bool:
    lines = text[:_SAMPLE].split("\n")
    if lines and lines[0].startswith("From "):  # an mbox separator line
        lines = lines[1:]
    fields: set[str] = set()
    count = 0
    for line in lines[:500]:
        line = line.rstrip("\r")
        if not line.strip():
            break
        if line[0] in " \t":
            if not count:
                return False
            continue
        match = _HEADER_FIELD.match(line)
        if not match:
            return False
        count += 1
        name = match.group(1).lower()
        if name in _EMAIL_FIELDS:
            fields.add(name)
    if lax:
        return bool(fields)
    return len(fields) >= 2 and bool(fields & _EMAIL_MARKERS)


def _is_csv(text: str, delimiters: str, *, cut: bool, lenient: bool) -> bool:
    """Whether the text parses as delimited rows with a consistent column count (two or more).

    Lenient (the filename says CSV): nine rows in ten share the column count. Strict (content
    alone): every row does, there are at least three (five with two columns), and they do not
    read like prose: delimiters are not mostly followed by a space, fields are not sentences.
    """
    sample = text[:_CSV_SAMPLE]
    cut = cut or len(text) > len(sample)
    if not lenient and sample.count("\n") < 3:
        return False
    first_line = sample.split("\n", 1)[0]
    for delimiter in delimiters:
        if delimiter not in first_line:
            continue
        prose_like = sample.count(delimiter + " ") * 2 >= sample.count(delimiter)
        if not lenient and delimiter != "\t" and prose_like:
            continue  # ", " is how prose uses a comma
        rows = _csv_rows(sample, delimiter, cut=cut)
        if not rows:
            continue
        counts = [len(row) for row in rows]
        columns = max(set(counts), key=counts.count)
        if columns < 2:
            continue
        if lenient:
            if counts.count(columns) * 10 >= len(counts) * 9:
                return True
            continue
        if len(rows) < (3 if columns > 2 else 5) or any(c != columns for c in counts):
            continue
        if sample.count(" ") > 4 * columns * len(rows):
            continue  # more than four spaces a field: sentences, not values
        return True
    return False


def _csv_rows(sample: str, delimiter: str, *, cut: bool) -> list[list[str]]:
    """Up to `_CSV_ROWS` complete, non-blank records; [] when the sample does not parse."""
    rows: list[list[str]] = []
    try:
        for row in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter):
            if row and (len(row) > 1 or row[0].strip()):
                rows.append(row)
                if len(rows) > _CSV_ROWS:
                    return rows[:-1]  # every row kept was followed by another: complete
    except csv.Error:
        return []
    if cut and rows:
        rows.pop()  # the head may end inside the last record
    return rows


# Line-start patterns match after a "\n" put before the sample: a literal is found fast, where
# MULTILINE "^" would be tried at every position.
_MARKDOWN_STRONG = (
    re.compile(r"\n#{1,6}[ \t]+\S"),
    re.compile(r"\n {0,3}(?:```|~~~)"),
    re.compile(r"\[[^\]\n]+\]\([^)\s]+[^)\n]*\)"),
    re.compile(r"\n\|?[ \t]*:?-{3,}:?[ \t]*\|"),
)
_MARKDOWN_WEAK = (
    re.compile(r"\n {0,3}[-*+][ \t]+\S"),
    re.compile(r"\*\*[^*\n]+\*\*"),
    re.compile(r"\n>[ \t]?\S"),
    re.compile(r"\n(?:=+|-+)[ \t]*\r?\n"),
    re.compile(r"`[^`\n]+`"),
)


def _is_markdown(body: str) -> bool:
    """Two kinds of Markdown syntax, one of them a heading, code fence, link or table."""
    if body.startswith("#!"):
        return False  # a script
    sample = "\n" + body[:_MARKDOWN_SAMPLE]
    strong = sum(1 for pattern in _MARKDOWN_STRONG if pattern.search(sample))
    if not strong:
        return False
    return strong + sum(1 for pattern in _MARKDOWN_WEAK if pattern.search(sample)) >= 2


# --- filenames ---------------------------------------------------------------------------------

_MAX_NAME_BYTES = 255
_MAX_EXTENSION_BYTES = 32
_INVISIBLE = {
    "\u200e",
    "\u200f",
    "\ufeff",
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
}


def sanitise_filename(name: str | None) -> str | None:
    """The client's filename fit to keep as metadata: the base name only, without control or
    bidirectional-override characters, NFC-normalised, whitespace collapsed, at most 255 UTF-8
    bytes with the extension kept. None when nothing usable is left. Never use it as a path."""
    if name is None:
        return None
    name = "".join(
        " " if ch.isspace() else ch
        for ch in unicodedata.normalize("NFC", name)
        if ch.isspace() or (unicodedata.category(ch) not in ("Cc", "Cs") and ch not in _INVISIBLE)
    )
    parts = [" ".join(part.split()) for part in re.split(r"[/\\]", name)]
    name = next((part for part in reversed(parts) if part), "")
    if name in ("", ".", ".."):
        return None
    if len(name.encode("utf-8")) <= _MAX_NAME_BYTES:
        return name
    stem, dot, extension = name.rpartition(".")
    if not stem or len(extension.encode("utf-8")) > _MAX_EXTENSION_BYTES:
        stem, dot, extension = name, "", ""
    budget = _MAX_NAME_BYTES - len((dot + extension).encode("utf-8"))
    cut = len(stem.encode("utf-8")[:budget].decode("utf-8", "ignore"))
    while 0 < cut < len(stem) and unicodedata.category(stem[cut]).startswith("M"):
        cut -= 1  # keep a letter and its combining marks together, or drop them together
    return stem[:cut].rstrip() + dot + extension
