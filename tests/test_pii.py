"""Every PII rule in ru, bg and en, and the near-misses that must survive untouched."""

from __future__ import annotations

import pytest

from pipeline.cleaning.pii import iban_ok, luhn_ok

MASKED = [
    # e-mail
    ("ru", "Пишите мне на ivan.petrov@mail.ru, жду ответа", "<EMAIL>", "ivan.petrov"),
    ("bg", "Пишете ми на maria_ivanova@abv.bg, моля", "<EMAIL>", "maria_ivanova"),
    ("en", "Contact me at john.smith+cx@gmail.com please", "<EMAIL>", "john.smith"),
    # phones
    ("ru", "Перезвоните +7 (912) 345-67-89 после обеда", "<PHONE>", "345-67-89"),
    ("ru", "мой номер 89123456789, жду звонка", "<PHONE>", "89123456789"),
    ("ru", "звоните 8 912 345 67 89 в любое время", "<PHONE>", "912 345"),
    ("bg", "Обадете ми се на 0888 123 456 следобед", "<PHONE>", "0888"),
    ("bg", "Телефонът ми е +359 88 123 4567", "<PHONE>", "+359"),
    ("bg", "Офисът в София: 02 987 6543", "<PHONE>", "987 6543"),
    ("en", "Call me back on 07911 123456 today", "<PHONE>", "07911"),
    ("en", "My number is +44 20 7946 0958", "<PHONE>", "7946"),
    ("en", "reach me at +1 (415) 555-0132", "<PHONE>", "555-0132"),
    ("ru", "тел. № +7 912 345-67-89, звоните", "<PHONE>", "345-67-89"),
    ("en", "Phone #: +1 212 555 0199 anytime", "<PHONE>", "555 0199"),
    ("en", "phone # (212) 555-0199 after 5", "<PHONE>", "555-0199"),
    # payment cards (Luhn-valid)
    ("ru", "С карты 4111 1111 1111 1111 списали дважды", "<CARD>", "4111"),
    ("bg", "Картата ми 5500-0000-0000-0004 беше таксувана", "<CARD>", "5500"),
    ("en", "charged card 378282246310005 twice", "<CARD>", "378282246310005"),
    # IBAN (mod-97 valid)
    ("bg", "Върнете парите по IBAN BG80 BNBG 9661 1020 3456 78", "<IBAN>", "BNBG"),
    ("en", "refund to GB82 WEST 1234 5698 7654 32 please", "<IBAN>", "WEST"),
    ("ru", "реквизиты DE89370400440532013000 для возврата", "<IBAN>", "DE89"),
    ("en", "refund to GB82 WEST 1234 5698 7654 32 ASAP", "<IBAN>", "WEST"),
    ("en", "GB82WEST12345698765432 ASAP!", "<IBAN>", "GB82WEST"),
    ("bg", "IBAN BG80 BNBG 9661 1020 3456 78 2 пъти ви писах", "<IBAN>", "BNBG"),
    ("bg", "сметка bg80bnbg96611020345678 моля", "<IBAN>", "bnbg"),
    # URLs
    ("ru", "смотрите тут https://volta.ru/orders/123?x=1 ничего нет", "<URL>", "volta.ru"),
    ("bg", "на www.example.bg/help няма информация", "<URL>", "example.bg"),
    ("en", "the page volta.co.uk/returns is broken", "<URL>", "volta.co.uk"),
    # mentions
    ("ru", "@volta_support ответьте уже", "<MENTION>", "volta_support"),
    ("bg", "@VoltaBG защо никой не отговаря?", "<MENTION>", "VoltaBG"),
    ("en", "cc @john_doe this is the third time", "<MENTION>", "john_doe"),
]

UNTOUCHED = [
    ("ru", "Заказ № 123456789 от 12.03.2024 на сумму 15 000 руб"),
    ("ru", "номер заказа 89123456789, доставка 14:30"),
    ("ru", "договор 7701234567 от 01.02.2025, сумма 4 590 ₽"),
    ("ru", "трек-номер 80012345678901 не отслеживается"),
    ("ru", "карта 4276 3800 1234 5670 (не та)"),  # fails Luhn: a typo or a made-up number, not a card
    ("bg", "поръчка 100234567, цена 1 299 лв, 12.03.2024 в 10:30"),
    ("bg", "Платих 2 499,99 лв. на 05.06.2025"),
    ("bg", "товарителница 6201234567 още не е обработена"),
    ("en", "order #40012345678 placed 2024-03-12 for $1,299.00"),
    ("en", "ticket 4455667788 still open since 3/4/2025"),
    ("en", "The price was 1299 and then 2 499 USD"),
    ("en", "email me later, or use the e-mail form"),
    ("en", "5 stars @ 10:30 today"),
]


@pytest.mark.parametrize(("lang", "text", "placeholder", "secret"), MASKED)
def test_pii_is_masked(cleaner, lang, text, placeholder, secret):
    result = cleaner(text)
    assert placeholder in result.text
    assert secret not in result.text
    assert sum(result.pii.values()) >= 1


@pytest.mark.parametrize(("lang", "text"), UNTOUCHED)
def test_near_misses_are_not_masked(cleaner, lang, text):
    result = cleaner(text)
    assert "<" not in result.text, result.text
    assert result.pii == {}


def test_placeholders_stay_single_tokens_in_sentences(cleaner):
    result = cleaner("Пишите на ivan@mail.ru. Или звоните +7 912 345-67-89.")
    assert result.sentences == ["Пишите на <EMAIL>.", "Или звоните <PHONE>."]


def test_checksums():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("BG80BNBG96611020345678") and not iban_ok("BG81BNBG96611020345678")
