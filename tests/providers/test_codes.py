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
        ("Welcome! No code here.", ""),
        ("", ""),
    ],
)
def test_it_extracts_codes(text, code):
    assert extract_code(text) == code
