"""Distributor labels: realistic samples of each format in every scanner variant, a
round-trip property, and hostile text that must only ever be refused cleanly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kosh.purchasing.barcode import EOT, GS, RS, BarcodeError, decode, encode_ecia

# DigiKey's 2D label (ECIA format 06): customer part (here DigiKey's own PN), MPN, the
# customer's PO, DigiKey's sales order and invoice, date code, lot, packing list, country,
# quantity, and DigiKey's internal pick / part / load ids and padding.
DIGIKEY = (
    f"[)>{RS}06{GS}P296-1395-1-ND{GS}1PLM358DR{GS}KPO-000123{GS}1K71234567{GS}10K84323232"
    f"{GS}9D2312{GS}1TTI23120AB{GS}11K1{GS}4LCN{GS}Q250{GS}11ZPICK{GS}12Z4566577"
    f"{GS}13Z123456{GS}20Z000000000000000000000000000000{RS}{EOT}"
)
# Mouser's label: PO, PO line, MPN, quantity, invoice, country, manufacturer; some Mouser
# labels scan with a stray leading '>'.
MOUSER = (
    f">[)>{RS}06{GS}KPO-000123{GS}14K001{GS}1PGRM188R71H104KA93D{GS}Q4000{GS}11K067890123"
    f"{GS}4LJP{GS}1VMurata{RS}{EOT}"
)
LCSC = (
    "{pbn:PICK2305230044,on:SO2305231208,pc:C25804,pm:0603WAF1002T5E,qty:100,"
    "mc:,cc:1,pdi:83012371,hp:0}"
)


def test_digikey_label() -> None:
    label = decode(DIGIKEY)
    assert label.format == "ecia"
    assert label.customer_part == "296-1395-1-ND"
    assert label.mpn == "LM358DR"
    assert label.po == "PO-000123"
    assert label.supplier_order == "71234567"
    assert label.date_code == "2312"
    assert label.lot == "TI23120AB"
    assert label.country == "CN"
    assert label.qty == 250
    assert label.part_keys() == ["LM358DR", "296-1395-1-ND"]


def test_mouser_label_with_leading_character() -> None:
    label = decode(MOUSER)
    assert (label.po, label.po_line, label.mpn, label.qty) == (
        "PO-000123",
        "001",
        "GRM188R71H104KA93D",
        4000,
    )
    assert (label.country, label.manufacturer) == ("JP", "Murata")


def test_lcsc_label() -> None:
    label = decode(LCSC)
    assert label.format == "lcsc"
    assert (label.supplier_sku, label.mpn, label.qty) == ("C25804", "0603WAF1002T5E", 100)
    assert (label.supplier_order, label.lot) == ("SO2305231208", "PICK2305230044")


def _variants(text: str) -> list[str]:
    caret = text.replace(RS, "^^").replace(GS, "^]").replace(EOT, "^D")
    angle = text.replace(RS, "<RS>").replace(GS, "<GS>").replace(EOT, "<EOT>")
    curly = text.replace(RS, "{RS}").replace(GS, "{GS}").replace(EOT, "{EOT}")
    pictures = text.replace(RS, "␞").replace(GS, "␝").replace(EOT, "␄")
    no_envelope_rs = text.replace(f"[)>{RS}06", "[)>06").removesuffix(f"{RS}{EOT}")
    trailing_newline = text + "\r\n"
    return [text, caret, angle, curly, pictures, no_envelope_rs, trailing_newline]


@pytest.mark.parametrize("sample", [DIGIKEY, MOUSER])
def test_every_scanner_variant_reads_the_same(sample: str) -> None:
    expected = decode(sample)
    for variant in _variants(sample):
        assert decode(variant) == expected, variant


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "not a distributor label"),
        ("hello", "not a distributor label"),
        (f"[)>{RS}05{GS}P1", "format 06"),
        ("[)>06P296-1395-1-NDQ250", "separators"),  # a scanner dropped every GS
        (f"[)>{RS}06{GS}Q12x{RS}{EOT}", "not a whole number"),
        (f"[)>{RS}06{GS}Q99999999999{RS}{EOT}", "not a whole number"),
        (f"[)>{RS}06{GS}Q0{RS}{EOT}", "out of range"),
        (f"[)>{RS}06{GS}Q-5{RS}{EOT}", "not a whole number"),
        (f"[)>{RS}06{GS}pabc{RS}{EOT}", "data identifier"),
        (f"[)>{RS}06{GS}P\x00{RS}{EOT}", "NUL"),
        (f"[)>{RS}06{GS}Pab\x07c{RS}{EOT}", "control character"),
        ("{qty:5}", "without part number"),
        ("{pc:C1,qty:1e9}", "not a whole number"),
        ("{nonsense}", "without a name"),
        ("[)>" + "x" * 5000, "longer than"),
    ],
)
def test_malformed_labels_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(BarcodeError) as caught:
        decode(text)
    assert reason in caught.value.reason


_value = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="^<>{}[]␞␝␄"),
    min_size=1,
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(
    mpn=_value,
    customer=_value,
    po=_value,
    lot=_value,
    qty=st.integers(min_value=1, max_value=1_000_000_000),
    date_code=st.from_regex(r"\A[0-9]{4}\Z"),
    country=st.sampled_from(["CN", "US", "DE", "JP", "TW", "MY"]),
    variant=st.integers(min_value=0, max_value=6),
)
def test_round_trip_in_any_variant(
    mpn: str,
    customer: str,
    po: str,
    lot: str,
    qty: int,
    date_code: str,
    country: str,
    variant: int,
) -> None:
    text = encode_ecia(
        [
            ("P", customer),
            ("1P", mpn),
            ("K", po),
            ("1T", lot),
            ("10D", date_code),
            ("4L", country),
            ("Q", str(qty)),
        ]
    )
    label = decode(_variants(text)[variant])
    assert (label.customer_part, label.mpn, label.po, label.lot) == (customer, mpn, po, lot)
    assert (label.qty, label.date_code, label.country) == (qty, date_code, country)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400) | st.builds(lambda s: "[)>\x1e06\x1d" + s, st.text(max_size=200)))
def test_any_text_is_decoded_or_refused_never_crashes(text: str) -> None:
    try:
        label = decode(text)
    except BarcodeError:
        return
    assert label.qty is None or 1 <= label.qty <= 1_000_000_000
    for _, value in label.fields:
        assert len(value) <= 100
        assert not any(ord(c) < 32 for c in value)
