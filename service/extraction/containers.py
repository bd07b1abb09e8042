"""Checks on ZIP-based documents (DOCX, PPTX, XLSX, ODT) before any parser opens them.

A .docx is a ZIP of XML parts, and each parser trusts it: a member that inflates a
thousand-fold (a zip bomb), a member named "../x" (path traversal, should anything unpack it),
or an XML part with a DTD whose entities expand exponentially ("billion laughs") all pass
straight through. Every member is read here, as a stream, once: that bounds the work by the
declared sizes and finds corrupt members (bad CRC) before a parser does.

Pictures (by extension) are not searched: no parser here reads them as XML, and SVG files
from drawing programs routinely carry entity declarations.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path, PurePosixPath

from service.extraction.engine import MIB, ExtractionFailed, Limits

# Members smaller than this cannot hold a bomb worth the name, and well-compressed XML can
# legitimately shrink more than a hundred-fold, so the ratio test starts here.
_RATIO_MIN_BYTES = 1 * MIB
_MAX_MEMBERS = 20_000
_CHUNK = 1 * MIB

# Entity declarations (how an entity-expansion bomb is built), in UTF-8 or any ASCII-compatible
# encoding, UTF-16 LE and UTF-16 BE; and a DOCTYPE with an internal subset ("[...]"), where
# they would be declared. A DOCTYPE naming only an external DTD is allowed: OpenOffice 2-3 wrote
# one into every ODT manifest and PowerPoint for Mac into its printer settings (an Apple plist),
# and none of the parsers used here loads external DTDs.
_ENTITY_MARKERS = ["<!ENTITY".encode(encoding) for encoding in ("ascii", "utf-16-le", "utf-16-be")]
_INTERNAL_SUBSET = [
    re.compile(rb"<!DOCTYPE[^>\[]{0,4096}\["),
    re.compile("<!DOCTYPE".encode("utf-16-le") + rb"(?:[^>\[]\x00){0,4096}\[\x00"),
    re.compile("<!DOCTYPE".encode("utf-16-be") + rb"(?:\x00[^>\[]){0,4096}\x00\["),
]
_OVERLAP = 2 * 4096 + 64  # enough to see a whole DOCTYPE that straddles two chunks
_DRIVE = re.compile(r"^[A-Za-z]:")
# fmt: off
_PICTURES = frozenset({
    ".bmp", ".emf", ".emz", ".gif", ".jpeg", ".jpg", ".png", ".svg",
    ".svgz", ".tif", ".tiff", ".wdp", ".webp", ".wmf", ".wmz",
})
# fmt: on


def check_zip(path: Path, *, limits: Limits, name: str) -> None:
    """Raise ExtractionFailed unless `path` is a ZIP that is safe to hand to a parser.

    `name` is the format as the researcher knows it, e.g. "Word document (.docx)".
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            _check_directory(members, limits=limits, name=name)
            for member in members:
                suffix = PurePosixPath(member.filename).suffix.lower()
                if not member.is_dir() and suffix not in _PICTURES:
                    _scan(archive, member, name=name)
    except zipfile.BadZipFile as exc:
        raise ExtractionFailed(
            f"The {name} is damaged: it is stored as a ZIP package, and that package could not "
            "be read (perhaps the upload was cut short). Re-save it and upload it again."
        ) from exc
    except (zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as exc:
        raise ExtractionFailed(
            f"The {name} uses a ZIP feature we cannot read (for example encryption or an "
            "unusual compression method); re-save it from its program and upload it again."
        ) from exc


def _check_directory(members: list[zipfile.ZipInfo], *, limits: Limits, name: str) -> None:
    if len(members) > _MAX_MEMBERS:
        raise ExtractionFailed(
            f"The {name} contains {len(members):,} parts, far more than a real document has; "
            "it was not opened."
        )
    total = 0
    for member in members:
        _check_name(member.filename, name=name)
        total += member.file_size
        compressed = max(member.compress_size, 1)
        ratio = member.file_size / compressed
        if member.file_size > _RATIO_MIN_BYTES and ratio > limits.max_compression_ratio:
            raise ExtractionFailed(
                f"The {name} contains a part that would unpack to {ratio:,.0f} times its stored "
                "size, which is how a zip bomb is built; it was not opened. If the file is "
                "genuine, re-save it from its program and upload it again."
            )
    if total > limits.max_unpacked_bytes:
        raise ExtractionFailed(
            f"The {name} would unpack to {total / MIB:,.0f} MiB, more than the "
            f"{limits.max_unpacked_bytes / MIB:,.0f} MiB we open for one file; it may be a zip "
            "bomb. Split the document, or compress its pictures, and upload it again."
        )


def _check_name(filename: str, *, name: str) -> None:
    normalised = filename.replace("\\", "/")
    parts = PurePosixPath(normalised).parts
    if normalised.startswith("/") or _DRIVE.match(normalised) or ".." in parts:
        raise ExtractionFailed(
            f"The {name} contains a part named {filename!r} that points outside the document "
            "(a path-traversal attack); it was not opened."
        )


def _scan(archive: zipfile.ZipFile, member: zipfile.ZipInfo, *, name: str) -> None:
    """Read one member as a stream, looking for entity declarations and internal DTDs."""
    tail = b""
    with archive.open(member) as stream:
        while chunk := stream.read(_CHUNK):
            window = tail + chunk
            if any(marker in window for marker in _ENTITY_MARKERS) or any(
                pattern.search(window) for pattern in _INTERNAL_SUBSET
            ):
                raise ExtractionFailed(
                    f"The {name} contains XML that declares its own entities (part "
                    f"{member.filename!r}). Office documents do not need that, and it is how "
                    "an XML entity-expansion bomb is built; the file was not opened."
                )
            tail = window[-_OVERLAP:]
