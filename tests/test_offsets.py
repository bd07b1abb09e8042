"""Offset maps between the identifiable and the de-identified text, both ways."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from service.deid.service import render

TEXT = "Ros rang Kettlewick General on 07700 900123 about the pilot."


def test_positions_convert_both_ways() -> None:
    spans = [(0, 3, "[Participant 17]"), (9, 27, "[Trust A]"), (31, 43, "[Phone number]")]
    rendered = render(TEXT, spans)
    assert rendered.text == "[Participant 17] rang [Trust A] on [Phone number] about the pilot."
    offsets = rendered.offsets
    pilot = TEXT.index("pilot")
    moved = offsets.to_deidentified(pilot)
    assert rendered.text[moved : moved + 5] == "pilot"
    assert offsets.to_identifiable(moved) == pilot
    # A range over a replaced span covers the whole replacement, and back.
    start, end = offsets.to_deidentified(9), offsets.to_deidentified(27, end=True)
    assert rendered.text[start:end] == "[Trust A]"
    assert (offsets.to_identifiable(start), offsets.to_identifiable(end, end=True)) == (9, 27)
    # Inside a replacement, a position goes to its start (or its end for a range's end).
    assert offsets.to_deidentified(12) == start
    assert offsets.to_deidentified(12, end=True) == end


@given(st.data())
def test_untouched_text_keeps_its_place(data: st.DataObject) -> None:
    text = data.draw(st.text(min_size=1, max_size=200))
    cuts = sorted(data.draw(st.sets(st.integers(0, len(text)), max_size=6)))
    spans = [(a, b, "[X]") for a, b in zip(cuts[::2], cuts[1::2], strict=False) if a < b]
    rendered = render(text, spans)
    covered = {i for a, b, _ in spans for i in range(a, b)}
    for position in range(len(text)):
        if position in covered:
            continue
        moved = rendered.offsets.to_deidentified(position)
        assert rendered.text[moved] == text[position]
        assert rendered.offsets.to_identifiable(moved) == position
