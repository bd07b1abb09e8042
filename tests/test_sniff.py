"""Media types from content: real files made here (python-docx, openpyxl, python-pptx, fpdf2,
LibreOffice, ffmpeg), compound files built byte by byte, and text in several encodings."""

from __future__ import annotations

import gzip
import io
import random
import shutil
import sqlite3
import struct
import subprocess
import tarfile
import zipfile
from pathlib import Path

import docx
import olefile
import openpyxl
import pptx
import pytest
from fpdf import FPDF

from service.extraction import sniff
from service.extraction.sniff import UnsupportedMediaType, sanitise_filename

HEAD = sniff.HEAD_SIZE


class CountingFile(io.BytesIO):
    """A seekable file over bytes that counts what is read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def sniff_bytes(data: bytes, filename: str | None = None, *, seekable: bool = True) -> str:
    """Sniff as the upload path does: the first 64 KiB, the size, and ranged reads on demand."""
    return sniff.sniff(
        data[:HEAD],
        filename=filename,
        size=len(data),
        open_seekable=(lambda: io.BytesIO(data)) if seekable else None,
    )


def refusal(data: bytes, filename: str | None = None, *, seekable: bool = True) -> str:
    with pytest.raises(UnsupportedMediaType) as caught:
        sniff_bytes(data, filename, seekable=seekable)
    return caught.value.reason


# --- sample files --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("office")
    document = docx.Document()
    document.add_heading("Interview 7", level=1)
    document.add_paragraph("The participant described the clinic's waiting room.")
    document.save(folder / "sample.docx")

    workbook = openpyxl.Workbook()
    workbook.active.append(["participant", "site", "minutes"])
    workbook.active.append(["P07", "North", 42])
    workbook.save(folder / "sample.xlsx")

    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[0])
    slide.shapes.title.text = "Findings"
    presentation.save(folder / "sample.pptx")

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(0, 10, "Field notes, day one")
    pdf.output(str(folder / "sample.pdf"))

    return {p.suffix[1:]: p.read_bytes() for p in folder.iterdir()}


@pytest.fixture(scope="module")
def converted(
    samples: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, bytes]:
    """DOC, ODT and RTF, converted by LibreOffice Writer from the DOCX sample. (Only Writer is
    installed, so spreadsheets and presentations in other formats are built by hand below.)"""
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed: cannot make DOC, ODT and RTF samples")
    folder = tmp_path_factory.mktemp("converted")
    profile = tmp_path_factory.mktemp("soffice-profile")
    out: dict[str, bytes] = {}
    for source, target in [("docx", "doc"), ("docx", "odt"), ("docx", "rtf")]:
        path = folder / f"sample.{source}"
        path.write_bytes(samples[source])
        subprocess.run(
            [
                soffice,
                f"-env:UserInstallation={profile.as_uri()}",
                "--headless",
                "--convert-to",
                target,
                "--outdir",
                str(folder / target),
                str(path),
            ],
            check=True,
            capture_output=True,
            timeout=180,
        )
        out[target] = (folder / target / f"sample.{target}").read_bytes()
    return out


def ffmpeg(tmp_path: Path, name: str, *args: str, seconds: float = 1) -> bytes:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed: cannot make audio and video samples")
    tone = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    path = tmp_path / name
    subprocess.run(
        ["ffmpeg", "-y", "-loglevel", "error", *tone, *args, str(path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return path.read_bytes()


def rezip(
    data: bytes,
    *,
    replace: dict[str, bytes] | None = None,
    first: dict[str, bytes] | None = None,
    last: dict[str, bytes] | None = None,
) -> bytes:
    """The package rewritten, with members replaced, and stored members added before or after."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for name, content in (first or {}).items():
            target.writestr(name, content, zipfile.ZIP_STORED)
        for info in source.infolist():
            content = (replace or {}).get(info.filename, source.read(info))
            target.writestr(info.filename, content, zipfile.ZIP_DEFLATED)
        for name, content in (last or {}).items():
            target.writestr(name, content, zipfile.ZIP_STORED)
    return out.getvalue()


# --- compound files built byte by byte -------------------------------------------------------

ENDOFCHAIN, FREESECT, FATSECT, DIFSECT, NOSTREAM = (
    0xFFFFFFFE,
    0xFFFFFFFF,
    0xFFFFFFFD,
    0xFFFFFFFC,
    0xFFFFFFFF,
)


def compound_file(
    streams: dict[str, bytes], *, root_clsid: bytes = b"\x00" * 16, gap: int = 0
) -> bytes:
    """A version 3 OLE2 compound file (512-byte sectors) whose root storage holds `streams`.

    Streams are padded to 4 KiB so they live in regular sectors; the directory follows them,
    then the FAT, then the DIFAT, so a large stream puts the directory far from the head and
    its FAT sector past the 109 the header lists. `gap` free sectors between the directory and
    the FAT put the FAT far from a directory that lies in the head.
    """
    sectors: list[bytes] = []
    fat_links: list[tuple[int, int]] = []  # (first sector, count) of each chain
    starts = {}
    for name, data in streams.items():
        data = data.ljust(4096, b"\x00")
        count = -(-len(data) // 512)
        starts[name] = (len(sectors), len(data))
        fat_links.append((len(sectors), count))
        sectors += [data[i * 512 : (i + 1) * 512].ljust(512, b"\x00") for i in range(count)]

    def entry(
        name: str,
        kind: int,
        *,
        right: int = NOSTREAM,
        child: int = NOSTREAM,
        start: int = ENDOFCHAIN,
        size: int = 0,
        clsid: bytes = b"\x00" * 16,
    ) -> bytes:
        raw = name.encode("utf-16-le") + b"\x00\x00"
        return struct.pack(
            "<64sHBBIII16sIQQIQ",
            raw,
            len(raw),
            kind,
            1,
            NOSTREAM,
            right,
            child,
            clsid,
            0,
            0,
            0,
            start,
            size,
        )

    names = list(streams)
    directory = entry("Root Entry", 5, child=1 if names else NOSTREAM, clsid=root_clsid)
    for index, name in enumerate(names, start=1):
        right = index + 1 if index < len(names) else NOSTREAM
        directory += entry(name, 2, right=right, start=starts[name][0], size=starts[name][1])
    directory = directory.ljust(-(-len(directory) // 512) * 512, b"\x00")
    dir_start, dir_count = len(sectors), len(directory) // 512
    fat_links.append((dir_start, dir_count))
    sectors += [directory[i * 512 : (i + 1) * 512] for i in range(dir_count)]
    sectors += [bytes(512)] * gap

    fat_count = 1
    while True:
        difat_count = max(0, -(-(fat_count - 109) // 127))
        if fat_count * 128 >= len(sectors) + fat_count + difat_count:
            break
        fat_count += 1
    fat = [FREESECT] * (fat_count * 128)
    for first, count in fat_links:
        for i in range(first, first + count - 1):
            fat[i] = i + 1
        fat[first + count - 1] = ENDOFCHAIN
    fat_start = len(sectors)
    fat_locations = list(range(fat_start, fat_start + fat_count))
    for i in fat_locations:
        fat[i] = FATSECT
    difat_start = fat_start + fat_count
    for i in range(difat_start, difat_start + difat_count):
        fat[i] = DIFSECT
    packed = struct.pack(f"<{len(fat)}I", *fat)
    sectors += [packed[i * 512 : (i + 1) * 512] for i in range(fat_count)]
    rest = fat_locations[109:]
    for k in range(difat_count):
        chunk = rest[k * 127 : (k + 1) * 127]
        following = difat_start + k + 1 if k + 1 < difat_count else ENDOFCHAIN
        sectors.append(struct.pack("<128I", *chunk, *[FREESECT] * (127 - len(chunk)), following))

    listed = fat_locations[:109]
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        bytes.fromhex("d0cf11e0a1b11ae1"),
        b"\x00" * 16,
        0x3E,
        3,
        0xFFFE,
        9,
        6,
        b"\x00" * 6,
        0,
        fat_count,
        dir_start,
        0,
        4096,
        ENDOFCHAIN,
        0,
        difat_start if difat_count else ENDOFCHAIN,
        difat_count,
    ) + struct.pack("<109I", *listed, *[FREESECT] * (109 - len(listed)))
    return header + b"".join(sectors)


def fib(*, encrypted: bool = False) -> bytes:
    """The start of a Word binary's WordDocument stream: wIdent and the flags word."""
    return struct.pack("<HHHHHH", 0xA5EC, 0x00C1, 0, 0, 0, 0x0100 if encrypted else 0)


MSG_STREAMS = {
    "__substg1.0_0037001F": "Interview schedule".encode("utf-16-le"),
    "__substg1.0_1000001F": "Dear participant, ...".encode("utf-16-le"),
    "__properties_version1.0": b"\x00" * 32,
}


def test_the_compound_file_builder_makes_files_olefile_reads() -> None:
    data = compound_file({"WordDocument": fib(), "Data": b"\x01" * 10_000})
    with olefile.OleFileIO(io.BytesIO(data)) as ole:
        assert sorted(ole.listdir()) == [["Data"], ["WordDocument"]]
        assert ole.openstream("WordDocument").read(2) == b"\xec\xa5"


# --- office documents and PDF ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("pdf", sniff.PDF), ("docx", sniff.DOCX), ("xlsx", sniff.XLSX), ("pptx", sniff.PPTX)],
)
@pytest.mark.parametrize("seekable", [True, False], ids=["seekable", "head-only"])
def test_office_documents_and_pdf(
    samples: dict[str, bytes], kind: str, expected: str, seekable: bool
) -> None:
    assert sniff_bytes(samples[kind], f"sample.{kind}", seekable=seekable) == expected


def test_every_media_type_returned_is_supported(samples: dict[str, bytes]) -> None:
    for data in samples.values():
        assert sniff_bytes(data) in sniff.SUPPORTED


def test_pdf_after_junk_and_rtf() -> None:
    assert sniff_bytes(b"\r\n\x00junk from a mail gateway\n%PDF-1.7\n%\xe2\xe3\n") == sniff.PDF
    assert sniff_bytes(b"{\\rtf1\\ansi\\deff0 {\\fonttbl{\\f0 Times;}} Hello \\par}") == sniff.RTF
    assert sniff_bytes(b"\xef\xbb\xbf{\\rtf1\\ansi Hello}") == sniff.RTF


def test_libreoffice_formats(converted: dict[str, bytes]) -> None:
    assert sniff_bytes(converted["doc"], "interview.doc") == sniff.DOC
    assert sniff_bytes(converted["odt"], "interview.odt") == sniff.ODT
    assert sniff_bytes(converted["odt"], "interview.odt", seekable=False) == sniff.ODT
    assert sniff_bytes(converted["rtf"], "interview.doc") == sniff.RTF


MANIFEST_NS = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"


def odf_package(mimetype: str | None, *, root_type: str | None = None) -> bytes:
    """A minimal OpenDocument package: `mimetype` stored first, a manifest, a content part."""
    root = root_type or mimetype
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        if mimetype is not None:
            package.writestr("mimetype", mimetype, zipfile.ZIP_STORED)
        package.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<manifest:manifest xmlns:manifest="{MANIFEST_NS}">'
            f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{root}"/>'
            '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
            "</manifest:manifest>",
        )
        package.writestr("content.xml", "<office:document-content/>")
    return out.getvalue()


def test_opendocument_kinds() -> None:
    ods = odf_package("application/vnd.oasis.opendocument.spreadsheet")
    reason = refusal(ods, "codes.odt")
    assert reason.startswith("This looks like an OpenDocument spreadsheet (ODS)")
    assert "Save it as XLSX" in reason
    assert "(ODS)" in refusal(ods, seekable=False)
    assert "(ODP)" in refusal(odf_package("application/vnd.oasis.opendocument.presentation"))
    assert sniff_bytes(odf_package(sniff.ODT)) == sniff.ODT
    without_mimetype = odf_package(None, root_type=sniff.ODT)
    assert sniff_bytes(without_mimetype) == sniff.ODT


def test_doc_larger_than_the_head(converted: dict[str, bytes]) -> None:
    big = converted["doc"] + bytes(HEAD)  # trailing bytes past the last sector are ignored
    assert sniff_bytes(big) == sniff.DOC
    assert sniff_bytes(big, seekable=False) == sniff.DOC  # its directory lies in the head


def test_outlook_message() -> None:
    assert sniff_bytes(compound_file(MSG_STREAMS), "message.msg") == sniff.MSG


def test_compound_file_kinds_refused() -> None:
    encrypted = compound_file({"EncryptionInfo": b"\x04\x00", "EncryptedPackage": b"\x00"})
    assert "password-protected" in refusal(encrypted, "secret.docx")
    assert "password-protected Word" in refusal(
        compound_file({"WordDocument": fib(encrypted=True)})
    )
    summary = {"\x05SummaryInformation": b"\xfe\xff", "\x05DocumentSummaryInformation": b"\xfe\xff"}
    xls = compound_file({**summary, "Workbook": b"\x09\x08\x10\x00"})
    assert "Save it as XLSX" in refusal(xls, "budget.xls")
    ppt = compound_file({**summary, "Current User": b"\x00", "PowerPoint Document": b"\x00"})
    assert "Save it as PPTX" in refusal(ppt, "slides.ppt")
    assert "compound file" in refusal(compound_file({"Contents": b"\x00"}))
    assert "damaged" in refusal(bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 600)


def test_a_large_compound_file_costs_a_few_small_reads() -> None:
    # 8 MiB before the directory: its FAT sector is past the 109 the header lists (DIFAT).
    data = compound_file({"WordDocument": fib(), "Data": bytes(8 * 1024 * 1024)})
    assert data[0x48:0x4C] != b"\x00\x00\x00\x00"  # the file has a DIFAT sector
    file = CountingFile(data)
    media_type = sniff.sniff(data[:HEAD], size=len(data), open_seekable=lambda: file)
    assert media_type == sniff.DOC
    assert file.bytes_read <= 64 * 1024


def test_compound_file_from_the_head_alone() -> None:
    # Directory in the head, FAT past it: the names found in the head decide.
    many = {f"__substg1.0_{n:04X}001F": b"x" for n in range(6)}
    msg = compound_file({**MSG_STREAMS, **many}, gap=200)
    assert sniff_bytes(msg, seekable=False) == sniff.MSG
    assert sniff_bytes(msg) == sniff.MSG
    doc = compound_file({"WordDocument": fib(), **{f"Stream{n}": b"x" for n in range(6)}}, gap=200)
    assert sniff_bytes(doc, seekable=False) == sniff.DOC
    # Directory past the head: nothing can be known, and the caller is told to look inside.
    far = compound_file({"WordDocument": fib(), "Data": bytes(200_000)})
    assert "compound file" in refusal(far, seekable=False)
    assert sniff.needs_container_look(far[:HEAD])
    assert sniff_bytes(far) == sniff.DOC


# --- ZIP packages ----------------------------------------------------------------------------


def test_lying_extensions(samples: dict[str, bytes]) -> None:
    assert sniff_bytes(samples["pdf"], "report.docx") == sniff.PDF
    assert sniff_bytes(samples["docx"], "notes.txt") == sniff.DOCX
    exe = bytearray(512)
    exe[0:2], exe[0x3C:0x40], exe[0x80:0x84] = b"MZ", struct.pack("<I", 0x80), b"PE\x00\x00"
    reason = refusal(bytes(exe), "report.pdf")
    assert reason.startswith("This looks like a Windows program")
    assert "Accepted: PDF, Word (DOCX, DOC)" in reason


def test_zips_that_are_not_office_documents(samples: dict[str, bytes]) -> None:
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("transcripts/p01.txt", "hello")
    assert "a ZIP archive" in refusal(plain.getvalue(), "transcripts.docx")

    epub = io.BytesIO()
    with zipfile.ZipFile(epub, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip", zipfile.ZIP_STORED)
        archive.writestr("META-INF/container.xml", "<container/>")
    assert "(EPUB)" in refusal(epub.getvalue())
    assert "(EPUB)" in refusal(epub.getvalue(), seekable=False)

    assert "empty ZIP" in refusal(b"PK\x05\x06" + bytes(18))
    assert "damaged" in refusal(b"PK\x03\x04" + bytes(HEAD + 100))


def test_macro_enabled_word_is_refused(samples: dict[str, bytes]) -> None:
    with zipfile.ZipFile(io.BytesIO(samples["docx"])) as package:
        types = package.read("[Content_Types].xml")
    main = b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
    macro = types.replace(main, b"application/vnd.ms-word.document.macroEnabled.main+xml")
    assert macro != types
    docm = rezip(samples["docx"], replace={"[Content_Types].xml": macro})
    assert "(DOCM)" in refusal(docm, "minutes.docx")


def test_office_package_larger_than_the_head(samples: dict[str, bytes]) -> None:
    noise = random.Random(7).randbytes(3 * 1024 * 1024)
    # The media first: the head holds no part that tells what the package is.
    media_first = rezip(samples["docx"], first={"word/media/image1.bin": noise})
    file = CountingFile(media_first)
    head = media_first[:HEAD]
    media_type = sniff.sniff(head, size=len(media_first), open_seekable=lambda: file)
    assert media_type == sniff.DOCX
    assert file.bytes_read <= 64 * 1024  # the central directory and [Content_Types].xml
    assert sniff.needs_container_look(head)
    assert "ZIP archive" in refusal(media_first, seekable=False)

    # The media last: local headers in the head are enough, as the upload's early check sees.
    for kind, expected in [("docx", sniff.DOCX), ("xlsx", sniff.XLSX), ("pptx", sniff.PPTX)]:
        media_last = rezip(samples[kind], last={"media/big.bin": noise[:200_000]})
        assert sniff.sniff(media_last[:HEAD]) == expected  # size unknown, nothing to seek


def test_streamed_zip_with_data_descriptors(samples: dict[str, bytes]) -> None:
    class Unseekable(io.RawIOBase):
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b: bytes) -> int:  # type: ignore[override]
            self.data += b
            return len(b)

    sink = Unseekable()
    with (
        zipfile.ZipFile(io.BytesIO(samples["pptx"])) as source,
        zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            with target.open(info.filename, "w") as member:
                member.write(source.read(info))
        with target.open("ppt/media/big.bin", "w") as member:
            member.write(random.Random(1).randbytes(100_000))
    data = bytes(sink.data)
    assert data[6] & 0x08  # sizes follow the data
    assert sniff_bytes(data, seekable=False) == sniff.PPTX
    assert sniff_bytes(data) == sniff.PPTX


# --- audio and video -------------------------------------------------------------------------

MEDIA = [
    ("tone.mp3", ["-c:a", "libmp3lame"], "audio/mpeg"),
    ("bare.mp3", ["-c:a", "libmp3lame", "-id3v2_version", "0", "-write_xing", "0"], "audio/mpeg"),
    ("tone.wav", [], "audio/wav"),
    ("tone.flac", [], "audio/flac"),
    ("opus.ogg", ["-c:a", "libopus"], "audio/ogg"),
    ("vorbis.ogg", ["-c:a", "libvorbis"], "audio/ogg"),
    ("tone.m4a", ["-c:a", "aac"], "audio/mp4"),
    ("tone.aac", ["-c:a", "aac"], "audio/aac"),
    ("audio-only.mp4", ["-c:a", "aac", "-f", "mp4"], "audio/mp4"),
    ("audio-only.webm", ["-c:a", "libopus"], "audio/webm"),
]
VIDEO = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", "-shortest"]
MEDIA += [
    ("video.mp4", [*VIDEO, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"], "video/mp4"),
    (
        "video.mov",
        [*VIDEO, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"],
        "video/quicktime",
    ),
    ("video.webm", [*VIDEO, "-c:v", "libvpx", "-c:a", "libopus"], "video/webm"),
    ("video.mkv", [*VIDEO, "-c:v", "libx264", "-c:a", "aac"], "video/x-matroska"),
]


@pytest.mark.parametrize(("name", "args", "expected"), MEDIA, ids=[m[0] for m in MEDIA])
def test_audio_and_video(tmp_path: Path, name: str, args: list[str], expected: str) -> None:
    data = ffmpeg(tmp_path, name, *args)
    assert sniff_bytes(data, "recording.txt") == expected
    assert expected in sniff.SUPPORTED


def test_mp4_tracks_past_the_head(tmp_path: Path) -> None:
    # ffmpeg writes the movie box after the media: the tracks are read through ranged reads.
    data = ffmpeg(tmp_path, "long.mp4", "-c:a", "aac", "-b:a", "256k", "-f", "mp4", seconds=4)
    assert len(data) > HEAD and data.find(b"moov") > HEAD
    file = CountingFile(data)
    assert sniff.sniff(data[:HEAD], size=len(data), open_seekable=lambda: file) == "audio/mp4"
    assert file.bytes_read <= 32 * 1024
    assert sniff_bytes(data, seekable=False) == "video/mp4"  # the brand alone says no more


def test_audio_with_long_id3_tag(tmp_path: Path) -> None:
    tone = ffmpeg(tmp_path, "bare.mp3", "-c:a", "libmp3lame", "-id3v2_version", "0")
    size = 100_000  # a tag with cover art, longer than the head
    syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    data = b"ID3\x04\x00\x00" + syncsafe + bytes(size) + tone
    assert sniff_bytes(data) == "audio/mpeg"
    assert sniff_bytes(data, seekable=False) == "audio/mpeg"


# --- text ------------------------------------------------------------------------------------

NOTES = "Interview notes: the participant, a naïve café owner, said “it’s fine” – twice.\n" * 3


def test_text_in_several_encodings() -> None:
    for encoding in ["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-32", "cp1252"]:
        assert sniff_bytes(NOTES.encode(encoding)) == sniff.TEXT, encoding
    assert sniff_bytes("Notes: naïve café, déjà vu.\n".encode("latin-1")) == sniff.TEXT
    assert sniff_bytes(NOTES.encode("utf-16-le")) == sniff.TEXT  # no byte order mark
    assert sniff_bytes("会議のメモ。参加者は満足していた。\n".encode("shift_jis")) == sniff.TEXT


def test_utf16_with_bom_and_cp1252_csv() -> None:
    rows = "participant,site,quote\nP01,Nord,“gut”\nP02,Süd,naïve\nP03,Ost,café\n"
    assert sniff_bytes(rows.encode("utf-16"), "codes.csv") == sniff.CSV
    assert sniff_bytes(rows.encode("cp1252"), "codes.csv") == sniff.CSV
    assert sniff_bytes(rows.encode("cp1252")) == sniff.CSV


def cut_mid_character(text: str) -> bytes:
    """`text` in UTF-8, shifted so that the head ends inside a multi-byte character."""
    for pad in range(64):
        data = ("x" * pad + text).encode()
        try:
            data[:HEAD].decode("utf-8")
        except UnicodeDecodeError:
            return data
    raise AssertionError("no shift cuts a character")


def test_head_cut_in_the_middle_of_a_character() -> None:
    data = cut_mid_character("Grüße aus €uropa, sagte sie.\n" * 5000)
    assert data[: HEAD - 3].decode("utf-8")  # only the last character is cut
    assert sniff.sniff(data[:HEAD], size=len(data)) == sniff.TEXT
    assert sniff.sniff(data[:HEAD], filename="notes.md", size=len(data)) == sniff.MARKDOWN

    rows = cut_mid_character(
        "id;name;city\n" + "".join(f"{i};Zoë Ångström;€ Köln\n" for i in range(6000))
    )
    assert sniff.sniff(rows[:HEAD], filename="people.csv") == sniff.CSV
    assert sniff.sniff(rows[:HEAD]) == sniff.CSV


def test_csv_versus_prose() -> None:
    table = b"participant,site,minutes\nP01,North,42\nP02,South,37\nP03,East,51\n"
    prose = (
        b"We met at the library, which was quiet. She spoke slowly, carefully, and at length.\n"
        b"Afterwards, I wrote these notes, mostly from memory.\n"
        b"Nothing, she said, had changed since the spring.\n"
    )
    assert sniff_bytes(table, "codes.csv") == sniff.CSV
    assert sniff_bytes(table) == sniff.CSV
    assert sniff_bytes(table, "codes.txt") == sniff.TEXT  # the name chooses among text formats
    assert sniff_bytes(table.replace(b",", b"\t"), "codes.tsv") == sniff.CSV
    assert sniff_bytes(prose, "notes.csv") == sniff.TEXT
    assert sniff_bytes(prose) == sniff.TEXT
    same_shape = b"Yes, she said, twice.\nNo, he said, once.\nWell, they said, never.\n" * 3
    assert sniff_bytes(same_shape) == sniff.TEXT
    assert sniff_bytes(b"one,two\n", "pair.CSV") == sniff.CSV


def test_markdown() -> None:
    doc = b"# Codebook\n\nSee [the protocol](protocol.md).\n\n- trust\n- access\n"
    assert sniff_bytes(doc) == sniff.MARKDOWN
    assert sniff_bytes(doc, "codebook.txt") == sniff.TEXT
    assert sniff_bytes(b"Plain notes without markup.\n", "notes.md") == sniff.MARKDOWN
    assert sniff_bytes(b"# just a comment\nkey = value\n") == sniff.TEXT
    assert sniff_bytes(b"#!/bin/sh\n# Build\necho `date` [x](y)\n") == sniff.TEXT


def test_prose_that_starts_like_a_signature() -> None:
    for start in [
        b"The wide river",
        b"RIFF notes: tension",
        b"MZ is her initials",
        b"ID3 = 4",
        b"GIF89a was the format",
        b"PK said hello",
        b"OggS? no",
        b"BM interview",
    ]:
        assert sniff_bytes(start + b" and the rest of a line.\nAnother line.\n") == sniff.TEXT
    readme = b'<div align="center">\n\n# Study site\n\n</div>\n'
    assert sniff_bytes(readme, "README.md") == sniff.MARKDOWN
    assert sniff_bytes(readme) == sniff.HTML


def test_markup_email_and_subtitles() -> None:
    page = b"<!DOCTYPE html>\n<html><head><title>Notes</title></head><body>Hi</body></html>"
    assert sniff_bytes(page, "notes.txt") == sniff.HTML
    assert (
        sniff_bytes(b"<?xml version='1.0'?>\n<html xmlns='http://www.w3.org/1999/xhtml'/>")
        == sniff.HTML
    )
    assert "an XML file" in refusal(b"<?xml version='1.0' encoding='UTF-8'?>\n<codes/>")
    assert "SVG" in refusal(b"<svg xmlns='http://www.w3.org/2000/svg'></svg>")

    email = (
        b"Return-Path: <a@example.org>\r\nReceived: from mx.example.org\r\n"
        b"From: Ana <a@example.org>\r\nTo: b@example.org\r\nSubject: Consent form\r\n"
        b"Date: Mon, 3 Jun 2024 10:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSigned.\r\n"
    )
    assert sniff_bytes(email, "consent.txt") == sniff.EML
    assert sniff_bytes(b"Subject: my thoughts\nDate: Tuesday\n\nIt went well.\n") == sniff.TEXT

    vtt = "\ufeffWEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHallo\n".encode()
    assert sniff_bytes(vtt, "captions.txt") == sniff.VTT
    srt = b"1\n00:00:01,000 --> 00:00:02,000\nHello\n\n2\n00:00:02,500 --> 00:00:04,000\nBye\n"
    assert sniff_bytes(srt) == sniff.SRT
    assert sniff_bytes(b"\xef\xbb\xbf" + srt.replace(b"\n", b"\r\n"), "a.txt") == sniff.SRT


# --- refused and empty -----------------------------------------------------------------------


def test_other_binaries_are_refused_by_name(tmp_path: Path) -> None:
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as archive:
        info = tarfile.TarInfo("notes.txt")
        info.size = 5
        archive.addfile(info, io.BytesIO(b"hello"))
    database = tmp_path / "study.db"
    with sqlite3.connect(database) as connection:
        connection.execute("create table t (x)")
    cases = {
        "PNG image": b"\x89PNG\r\n\x1a\n" + bytes(100),
        "JPEG image": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(100),
        "gzip": gzip.compress(b"hello"),
        "7-Zip": b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(100),
        "RAR": b"Rar!\x1a\x07\x01\x00" + bytes(100),
        "tar archive": tar.getvalue(),
        "SQLite": database.read_bytes(),
        "Linux program": b"\x7fELF\x02\x01\x01" + bytes(100),
        "AVI": b"RIFF\x00\x10\x00\x00AVI LIST" + bytes(100),
        "Outlook mailbox": b"!BDN" + bytes(100),
    }
    for what, data in cases.items():
        assert what in refusal(data, "interview.pdf"), what


def test_unrecognised_binary_and_empty_files() -> None:
    noise = random.Random(3).randbytes(5000)
    assert refusal(noise).startswith("The file's format was not recognised. Accepted: PDF")
    assert refusal(b"\x00" * 1000).startswith("The file's format was not recognised")
    with pytest.raises(UnsupportedMediaType, match=r"^The file is empty\.$"):
        sniff.sniff(b"", size=0)
    with pytest.raises(UnsupportedMediaType, match=r"^The file is empty\.$"):
        sniff.sniff(b"")
    assert "blank space" in refusal(b" \r\n\t \n")


def test_reasons_list_every_accepted_format() -> None:
    for name in sniff.SUPPORTED.values():
        label = name.split(" (")[-1].rstrip(")")
        assert label in sniff.ACCEPTED_FORMATS, name
    error = UnsupportedMediaType("Nope.")
    assert error.reason == str(error) == "Nope."


def test_needs_container_look() -> None:
    assert sniff.needs_container_look(b"PK\x03\x04rest")
    assert sniff.needs_container_look(bytes.fromhex("d0cf11e0a1b11ae1"))
    assert not sniff.needs_container_look(b"MZ\x90\x00")
    assert not sniff.needs_container_look(b"%PDF-1.7")


# --- filenames -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\a.pdf", "a.pdf"),
        ("\\\\server\\share\\Interview 3.docx", "Interview 3.docx"),
        ("re\x00port\x07.pdf", "report.pdf"),
        ("  my\t\tnotes \n final.txt ", "my notes final.txt"),
        ("e\u0301tude.txt", "\u00e9tude.txt"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("notes/", "notes"),
        (None, None),
        ("", None),
        (".", None),
        ("..", None),
        ("a/..", None),
        ("/", None),
        ("\x00\x01", None),
        (".hidden", ".hidden"),
    ],
)
def test_sanitise_filename(given: str | None, kept: str | None) -> None:
    assert sanitise_filename(given) == kept


def test_sanitise_filename_caps_at_255_bytes_keeping_the_extension() -> None:
    long = sanitise_filename("a" * 400 + ".pdf")
    assert long is not None and len(long.encode()) == 255 and long.endswith(".pdf")
    wide = sanitise_filename("é" * 200 + ".docx")
    assert wide is not None and len(wide.encode()) <= 255 and wide.endswith("é.docx")
    marks = sanitise_filename("\u0915\u093f" * 60 + ".txt")  # letter + vowel sign
    assert marks is not None and len(marks.encode()) <= 255 and marks.endswith("\u093f.txt")
    no_extension = sanitise_filename("b" * 300)
    assert no_extension == "b" * 255
    odd_extension = sanitise_filename("c." + "d" * 300)
    assert odd_extension is not None and len(odd_extension.encode()) == 255
