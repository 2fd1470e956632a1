import pytest

from providers.codes import extract_code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Your WhatsApp code is 482-913", "482913"),
        ("<#> 482913 is your Telegram code", "482913"),
        ("G-482913 is your Google verification code.", "482913"),
        ("Your Discord verification code: 5531", "5531"),
        ("Your code is 123 456. Don't share it.", "123456"),
        ("Balance 1,250.00 updated, code 778812", "778812"),
        ("Your Discord code is 553311, valid for ten minutes. Do not share it.", "553311"),
        ("Use 8812.", "8812"),
        ("Paid 2,500.00 then 12.5000", ""),
        ("Welcome! No code here.", ""),
        ("", ""),
    ],
)
def test_it_extracts_codes(text, code):
    assert extract_code(text) == code
