"""Builders for real test files, one per format the archive extracts text from.

Every builder returns the file's bytes, so a test can write them where it likes or upload them
as they are; `save()` writes them into a directory. The builders use only the libraries the
service already depends on (fpdf2, Pillow, python-docx, python-pptx, openpyxl, pypandoc), plus
LibreOffice for `make_doc()`, which raises `FileNotFoundError` when `soffice` is missing.
"""

from __future__ import annotations

import csv
import io
import shutil
import struct
import subprocess
import tempfile
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

# A short interview excerpt reused by several builders, so tests can assert on the same words.
INTERVIEW = [
    "Interviewer: How did the new system change your ward rounds?",
    "Nurse: At first it slowed us down, because every drug chart had to be re-entered.",
    "Interviewer: And after the first month?",
    "Nurse: We got faster than on paper, honestly.",
]


def save(directory: Path, name: str, data: bytes) -> Path:
    """Write `data` to `directory/name` and return the path."""
    path = directory / name
    path.write_bytes(data)
    return path


# -- PDF ------------------------------------------------------------------------------------


def make_pdf(
    pages: Sequence[str], *, header: str | None = None, footer: str | None = None
) -> bytes:
    """A PDF with a text layer, one page per string.

    Within a page string, paragraphs are separated by blank lines; a paragraph starting with
    "# " is set as a large bold heading and one starting with "- " as a bulleted item.
    `header` and `footer` are repeated on every page; "{page}" in them is the page number.
    """
    from fpdf import FPDF

    class _Document(FPDF):
        def header(self) -> None:
            if header is not None:
                self.set_font("Helvetica", size=9)
                self.cell(0, 8, header.format(page=self.page_no()), align="C")
                self.ln(12)

        def footer(self) -> None:
            if footer is not None:
                self.set_y(-15)
                self.set_font("Helvetica", size=9)
                self.cell(0, 8, footer.format(page=self.page_no()), align="C")

    pdf = _Document(format="A4")
    pdf.set_auto_page_break(auto=True, margin=20)
    for page in pages:
        pdf.add_page()
        for paragraph in page.split("\n\n"):
            if paragraph.startswith("# "):
                pdf.set_font("Helvetica", style="B", size=18)
                pdf.multi_cell(0, 9, paragraph[2:], new_x="LMARGIN", new_y="NEXT")
            elif paragraph.startswith("- "):
                pdf.set_font("Helvetica", size=11)
                pdf.multi_cell(0, 6, "\x95 " + paragraph[2:], new_x="LMARGIN", new_y="NEXT")
            else:
                pdf.set_font("Helvetica", size=11)
                pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
    return bytes(pdf.output())


def make_scanned_pdf(text: str, *, pages: int = 1, extra_text_page: str | None = None) -> bytes:
    """A PDF whose pages are only a picture of `text` (no text layer), like a scan; `pages`
    copies of it. With `extra_text_page`, a last page with an ordinary text layer follows."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw, ImageFont

    # A4 at 150 dpi, with type large enough for Tesseract to read reliably.
    image = Image.new("L", (1240, 1754), color=255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=40)
    y = 150
    for line in text.splitlines():
        draw.text((120, y), line, fill=0, font=font)
        y += 52
    pdf = FPDF(format="A4")
    for _ in range(pages):
        pdf.add_page()
        pdf.image(image, x=0, y=0, w=210, h=297)
    if extra_text_page is not None:
        pdf.add_page()
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, extra_text_page)
    return bytes(pdf.output())


def make_encrypted_pdf(text: str = "Confidential minutes.", *, password: str = "secret") -> bytes:
    """A PDF that cannot be opened without a user password."""
    from fpdf import FPDF
    from fpdf.enums import EncryptionMethod

    pdf = FPDF()
    pdf.set_encryption(
        owner_password=password + "-owner",
        user_password=password,
        encryption_method=EncryptionMethod.AES_128,
    )
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


def make_truncated_pdf() -> bytes:
    """The first half of a valid PDF, as left by an interrupted download."""
    whole = make_pdf(["A page that was cut off halfway through the file."] * 3)
    return whole[: len(whole) // 2]


# -- Word processing ------------------------------------------------------------------------


def make_docx(paragraphs: Sequence[str], *, table: Sequence[Sequence[str]] | None = None) -> bytes:
    """A DOCX; "# " starts a Heading 1 paragraph and "- " a List Bullet paragraph."""
    import docx

    document = docx.Document()
    for paragraph in paragraphs:
        if paragraph.startswith("# "):
            document.add_heading(paragraph[2:], level=1)
        elif paragraph.startswith("- "):
            document.add_paragraph(paragraph[2:], style="List Bullet")
        else:
            document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _rezip(original: bytes, *, replace: dict[str, bytes], add: dict[str, bytes]) -> bytes:
    """Copy a ZIP, replacing some entries' content and appending new entries."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(original)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            target.writestr(info.filename, replace.get(info.filename, source.read(info)))
        for name, data in add.items():
            target.writestr(name, data)
    return out.getvalue()


def make_zip_bomb_docx(*, unpacked_mib: int = 50) -> bytes:
    """A valid-looking DOCX carrying a part that inflates ~1000-fold (zeros)."""
    return _rezip(
        make_docx(["Nothing to see here."]),
        replace={},
        add={"word/media/image1.bin": bytes(unpacked_mib * 1024 * 1024)},
    )


def make_xml_bomb_docx() -> bytes:
    """A DOCX whose document part is a 'billion laughs' entity-expansion bomb."""
    lol = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    ]
    bomb = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f"<!DOCTYPE w:document [{''.join(lol)}]>\n"
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>"
    ).encode()
    return _rezip(make_docx(["placeholder"]), replace={"word/document.xml": bomb}, add={})


def make_traversal_docx() -> bytes:
    """A DOCX with an entry that would be written outside the extraction directory."""
    return _rezip(make_docx(["Harmless text."]), replace={}, add={"../evil.sh": b"rm -rf ~\n"})


def make_doc(paragraphs: Sequence[str]) -> bytes:
    """A legacy Word 97 .doc, converted from a DOCX by LibreOffice."""
    soffice = shutil.which("soffice")
    if soffice is None:
        raise FileNotFoundError("soffice (LibreOffice) is needed to build a .doc file")
    with tempfile.TemporaryDirectory() as work:
        source = save(Path(work), "source.docx", make_docx(paragraphs))
        subprocess.run(
            [
                soffice,
                f"-env:UserInstallation=file://{work}/profile",
                "--headless",
                "--convert-to",
                "doc",
                "--outdir",
                work,
                str(source),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        return (Path(work) / "source.doc").read_bytes()


def make_odt(paragraphs: Sequence[str]) -> bytes:
    """An OpenDocument text file written by pandoc; "# " starts a heading."""
    import pypandoc

    markdown = "\n\n".join(paragraphs)
    with tempfile.TemporaryDirectory() as work:
        target = Path(work) / "document.odt"
        pypandoc.convert_text(markdown, "odt", format="markdown", outputfile=str(target))
        return target.read_bytes()


def make_rtf(paragraphs: Sequence[str]) -> bytes:
    """A hand-written RTF document, escaped the way Word writes it: Windows-1252 characters as
    \\'hh, anything else as \\uN followed by a \\'3f ("?") fallback."""

    def escape(text: str) -> str:
        out = []
        for char in text:
            if char in "\\{}":
                out.append("\\" + char)
            elif ord(char) < 128:
                out.append(char)
            else:
                try:
                    out.append(f"\\'{char.encode('cp1252')[0]:02x}")
                except UnicodeEncodeError:
                    code = ord(char) if ord(char) < 32768 else ord(char) - 65536
                    out.append(f"\\u{code}\\'3f")
        return "".join(out)

    body = "".join(f"\\pard {escape(p)}\\par\n" for p in paragraphs)
    return ("{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Times New Roman;}}\n" + body + "}").encode("ascii")


# -- E-mail ---------------------------------------------------------------------------------


def make_eml(
    *,
    subject: str,
    body: str,
    sender: str,
    to: str,
    html: str | None = None,
    attachments: dict[str, bytes] | None = None,
) -> bytes:
    """An RFC 822 message with a plain-text body, optionally an HTML alternative, and
    attachments (file name -> content)."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(datetime(2024, 3, 5, 9, 30, tzinfo=UTC))
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for name, content in (attachments or {}).items():
        message.add_attachment(
            content, maintype="application", subtype="octet-stream", filename=name
        )
    return bytes(message)


def make_msg(*, subject: str, body: str, sender: str, to: str) -> bytes:
    """An Outlook .msg: a compound (OLE) file holding MAPI properties.

    Only what a reader needs is written: the message class, subject, plain-text body and the
    transport headers (From/To/Subject/Date).
    """
    headers = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        "Date: Tue, 05 Mar 2024 09:30:00 +0000\r\n\r\n"
    )
    strings = {0x001A: "IPM.Note", 0x0037: subject, 0x007D: headers, 0x1000: body}
    ptyp_string = 0x001F
    # 32-byte header of the top-level properties stream, then one 16-byte entry per property.
    properties = bytearray(32)
    streams: dict[str, bytes] = {}
    for pid, value in sorted(strings.items()):
        encoded = value.encode("utf-16-le")
        tag = (pid << 16) | ptyp_string
        # The recorded size counts a terminating NUL that the stream itself leaves out.
        properties += struct.pack("<IIII", tag, 0x6, len(encoded) + 2, 0)
        streams[f"__substg1.0_{pid:04X}{ptyp_string:04X}"] = encoded
    streams["__properties_version1.0"] = bytes(properties)
    return _compound_file(streams)


def _compound_file(streams: dict[str, bytes]) -> bytes:
    """A version-3 compound file binary (MS-CFB) with the given streams under its root.

    Streams shorter than 4096 bytes go into the mini stream, as the format requires.
    """
    sector, mini_sector, cutoff = 512, 64, 4096
    free, end_of_chain, fat_mark = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
    names = sorted(streams, key=lambda n: (len(n), n.upper()))

    def pad(data: bytes, size: int) -> bytes:
        return data + bytes(-len(data) % size)

    # Mini stream: small streams in 64-byte mini sectors, chained in the mini FAT.
    mini_stream, mini_fat, mini_start = b"", [], {}
    for name in names:
        data = streams[name]
        if len(data) < cutoff:
            count = max(1, -(-len(data) // mini_sector))
            first = len(mini_fat)
            mini_start[name] = first
            mini_fat += [first + i + 1 for i in range(count - 1)] + [end_of_chain]
            mini_stream += pad(data or b"\x00", mini_sector)

    # Directory entries: root, then the streams as a balanced binary tree.
    def tree(ids: list[int]) -> tuple[int, dict[int, tuple[int, int]]]:
        if not ids:
            return free, {}
        middle = len(ids) // 2
        left, left_links = tree(ids[:middle])
        right, right_links = tree(ids[middle + 1 :])
        return ids[middle], {ids[middle]: (left, right), **left_links, **right_links}

    entry_ids = list(range(1, len(names) + 1))
    root_child, links = tree(entry_ids)

    # Sector layout: FAT | directory | mini FAT | mini stream | large streams.
    directory_sectors = -(-(len(names) + 1) * 128 // sector)
    mini_fat_sectors = -(-len(mini_fat) * 4 // sector)
    mini_stream_sectors = -(-len(mini_stream) // sector)
    large = {n: pad(streams[n], sector) for n in names if len(streams[n]) >= cutoff}
    data_sectors = (
        directory_sectors
        + mini_fat_sectors
        + mini_stream_sectors
        + sum(len(d) // sector for d in large.values())
    )
    fat_sectors = 1
    while fat_sectors * (sector // 4) < fat_sectors + data_sectors:
        fat_sectors += 1

    fat: list[int] = [fat_mark] * fat_sectors
    body = b""

    def chain(data: bytes) -> int:
        nonlocal body
        first = fat_sectors + len(body) // sector
        count = len(data) // sector
        fat.extend([first + i + 1 for i in range(count - 1)] + [end_of_chain])
        body += data
        return first

    def entry(name: str, kind: int, left: int, right: int, child: int, start: int, size: int):
        encoded = (name.encode("utf-16-le") + b"\x00\x00") if name else b""
        return (
            encoded.ljust(64, b"\x00")
            + struct.pack("<HBB3I", len(encoded), kind, 1, left, right, child)
            + bytes(16 + 4 + 16)
            + struct.pack("<IQ", start, size)
        )

    directory_start = fat_sectors
    body = bytes(directory_sectors * sector)  # filled in below, once start sectors are known
    fat.extend([directory_start + i + 1 for i in range(directory_sectors - 1)] + [end_of_chain])
    mini_fat_start = chain(pad(b"".join(struct.pack("<I", n) for n in mini_fat), sector))
    mini_stream_start = chain(pad(mini_stream, sector)) if mini_stream else end_of_chain
    large_start = {name: chain(data) for name, data in large.items()}

    entries = entry("Root Entry", 5, free, free, root_child, mini_stream_start, len(mini_stream))
    for entry_id, name in zip(entry_ids, names, strict=True):
        left, right = links[entry_id]
        start = mini_start[name] if name in mini_start else large_start[name]
        entries += entry(name, 2, left, right, free, start, len(streams[name]))
    entries = pad(entries, 128)
    while len(entries) < directory_sectors * sector:
        entries += entry("", 0, free, free, free, 0, 0)
    body = entries + body[len(entries) :]

    fat += [free] * (fat_sectors * (sector // 4) - len(fat))
    difat = list(range(fat_sectors)) + [free] * (109 - fat_sectors)
    header = (
        bytes.fromhex("D0CF11E0A1B11AE1")
        + bytes(16)
        + struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6)
        + bytes(6)
        + struct.pack("<IIII", 0, fat_sectors, directory_start, 0)
        + struct.pack("<IIIII", cutoff, mini_fat_start, mini_fat_sectors, end_of_chain, 0)
        + struct.pack("<109I", *difat)
    )
    return header + b"".join(struct.pack("<I", n) for n in fat) + body


# -- Slides, spreadsheets, tables -----------------------------------------------------------


def make_pptx(slides: Sequence[tuple[str, Sequence[str]]]) -> bytes:
    """A PPTX with one title-and-content slide per (title, bullet points) pair."""
    from pptx import Presentation

    presentation = Presentation()
    layout = presentation.slide_layouts[1]
    for title, bullets in slides:
        slide = presentation.slides.add_slide(layout)
        slide.shapes.title.text = title
        frame = slide.placeholders[1].text_frame
        frame.text = bullets[0] if bullets else ""
        for bullet in bullets[1:]:
            frame.add_paragraph().text = bullet
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()


def make_xlsx(sheets: dict[str, Sequence[Sequence[object]]]) -> bytes:
    """An XLSX with one worksheet per name, holding the given rows."""
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def make_csv(rows: Sequence[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


# -- Markup and plain text ------------------------------------------------------------------


def make_html(*, title: str, paragraphs: Sequence[str]) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<script>var tracking = 'not text';</script></head>"
        f"<body><h1>{title}</h1>{body}</body></html>"
    ).encode()


def make_markdown(*, title: str, paragraphs: Sequence[str], bullets: Sequence[str] = ()) -> bytes:
    parts = [f"# {title}", *paragraphs]
    if bullets:
        parts.append("\n".join(f"- {b}" for b in bullets))
    return ("\n\n".join(parts) + "\n").encode()


def make_text(text: str, *, encoding: str = "utf-8", bom: bool = False) -> bytes:
    """`text` encoded as asked; `bom` prepends the encoding's byte-order mark."""
    if encoding.lower().replace("_", "-") in ("utf-16", "utf-32"):
        return text.encode(encoding)  # Python writes a BOM for these
    data = text.encode(encoding)
    if bom:
        marks = {"utf-8": b"\xef\xbb\xbf", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}
        data = marks[encoding.lower()] + data
    return data


def make_vtt(cues: Sequence[tuple[float, float, str | None, str]]) -> bytes:
    """A WebVTT file; each cue is (start s, end s, speaker or None, text); speakers become
    `<v Name>` voice tags."""

    def stamp(seconds: float) -> str:
        millis = round(seconds * 1000)
        return f"{millis // 3600000:02}:{millis // 60000 % 60:02}:{millis // 1000 % 60:02}." + (
            f"{millis % 1000:03}"
        )

    blocks = ["WEBVTT", ""]
    for start, end, speaker, text in cues:
        voice = f"<v {speaker}>" if speaker else ""
        blocks += [f"{stamp(start)} --> {stamp(end)}", voice + text, ""]
    return "\n".join(blocks).encode()


def make_srt(cues: Sequence[tuple[float, float, str | None, str]]) -> bytes:
    """An SRT file; each cue is (start s, end s, speaker or None, text); speakers are written
    as a leading "Name: "."""

    def stamp(seconds: float) -> str:
        millis = round(seconds * 1000)
        return f"{millis // 3600000:02}:{millis // 60000 % 60:02}:{millis // 1000 % 60:02}," + (
            f"{millis % 1000:03}"
        )

    blocks = []
    for number, (start, end, speaker, text) in enumerate(cues, start=1):
        prefix = f"{speaker}: " if speaker else ""
        blocks.append(f"{number}\n{stamp(start)} --> {stamp(end)}\n{prefix}{text}\n")
    return "\n".join(blocks).encode()


def make_wav(seconds: float = 0.5, rate: int = 8000) -> bytes:
    """A mono 16-bit PCM WAV of silence."""
    frames = b"\x00\x00" * int(seconds * rate)
    header = b"RIFF" + struct.pack("<I", 36 + len(frames)) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return header + b"data" + struct.pack("<I", len(frames)) + frames
