"""Dates as students write them: English and Hungarian, with and without a year."""

from __future__ import annotations

from datetime import date

import pytest

from grader.dates import find_date_matches, find_dates, parse_date

OCT28 = date(2020, 10, 28)
NOV3 = date(2020, 11, 3)
NOV24 = date(2020, 11, 24)
TARGETS = [OCT28, NOV3, NOV24]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-10-28", OCT28),
        ("2020.10.28.", OCT28),
        ("2020.10.28", OCT28),
        ("2020. 10. 28.", OCT28),
        ("2020/10/28", OCT28),
        ("10.28", OCT28),
        ("10.28.", OCT28),
        ("11.03.", NOV3),
        ("Oct 28", OCT28),
        ("Oct. 28", OCT28),
        ("October 28, 2020", OCT28),
        ("October 28 2020", OCT28),
        ("October 28th", OCT28),
        ("28 Oct", OCT28),
        ("28 October 2020", OCT28),
        ("28th of October", OCT28),
        ("okt. 28", OCT28),
        ("okt.28.", OCT28),
        ("október 28.", OCT28),
        ("Október 28-án", OCT28),
        ("oktober 28", OCT28),
        ("2020. október 28.", OCT28),
        ("2020. okt. 28.", OCT28),
        ("nov. 3", NOV3),
        ("Nov 3rd", NOV3),
        ("november 24", NOV24),
        ("november 24-i", NOV24),
        ("November 24, 2020", NOV24),
        ("28/10", OCT28),
        ("03/11", NOV3),
        ("28/10/2020", OCT28),
        ("28.10.2020", OCT28),
        ("28-10-2020", OCT28),
        ("3.11.2020", NOV3),
        ("  '2020-11-24'  ", NOV24),
    ],
)
def test_parse_date_forms(text: str, expected: date) -> None:
    assert parse_date(text, 2020) == expected


@pytest.mark.parametrize(
    "text",
    ["", "hello", "9.4 °C", "2020-13-01", "2020-02-30", "31/11", "Oct 2020", "12345", "1 day"],
)
def test_parse_date_rejects(text: str) -> None:
    assert parse_date(text, 2020) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-10-27", date(2020, 10, 27)),
        ("2020-10-27 00:00:00", date(2020, 10, 27)),
        ("2020-10-27T13:00", date(2020, 10, 27)),
        ("2020-10-27T00:00:00Z", date(2020, 10, 27)),
        ("20201027", date(2020, 10, 27)),
        ("27.10.2020", date(2020, 10, 27)),
        ("1999/01/05", date(1999, 1, 5)),
        ("Oct 28", None),  # no year given and none written: not a full date
        ("10.28.", None),
        ("20201332", None),
    ],
)
def test_parse_full_dates_without_context_year(text: str, expected: date | None) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2020-10-28,9.4", [OCT28]),
        ("| 1 day | 2020. október 28. | 9,4 °C |", [OCT28]),
        ("Prediction for Oct 28: 9.4 C, for Nov 3: 10.1 C", [OCT28, NOV3]),
        ("tomorrow (28/10) it will be 9.4", [OCT28]),
        ("1 week: nov. 3 -> 10.2", [NOV3]),
        ("the value 2020 is not a date, nor is 3.14159", []),
        ("2020-11-03 11.3", [NOV3]),  # 11.3 is a number next to a full date
        ("version 10.28.5 released", []),
        ("-9.4 degrees", []),
        ("id,2020-11-24,2.5", [NOV24]),
    ],
)
def test_find_dates_in_lines(line: str, expected: list[date]) -> None:
    assert [d for d, _ in find_dates(line, 2020, prefer=TARGETS)] == expected


def test_spans_point_at_the_date_text() -> None:
    text = "first line\nForecast: október 28. -> 9,4 °C\n2020/11/24 2.5"
    found = find_dates(text, 2020)
    assert [d for d, _ in found] == [OCT28, NOV24]
    assert [text[a:b] for _, (a, b) in found] == ["október 28.", "2020/11/24"]


def test_weak_numeric_dates_depend_on_preferred_dates() -> None:
    line = "10.28. 9.4"
    assert [d for d, _ in find_dates(line, 2020, prefer=TARGETS)] == [OCT28]
    # without preferred dates both read as dates (9.4 is September 4)
    assert [d for d, _ in find_dates(line, 2020)] == [OCT28, date(2020, 9, 4)]
    matches = find_date_matches(line, 2020)
    assert [m.weak for m in matches] == [True, True]
    assert not any(m.has_year for m in matches)


def test_yearless_dates_need_a_year() -> None:
    assert find_dates("Oct 28 and 2020-11-03") == [(NOV3, (11, 21))]


def test_year_from_context_is_used() -> None:
    assert find_dates("Oct 28", 2021) == [(date(2021, 10, 28), (0, 6))]
