"""The message catalogue: every validation error a person can cause reads as a sentence,
with no regex, no pydantic wording, and numbers written as the pages write them."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Annotated, Any

import httpx
import pytest
from pydantic import BaseModel, Field, ValidationError

from kosh.core import messages
from kosh.core.types import CleanLine, Quantity
from kosh.production.schemas import JobCreate

RAW = re.compile(r"Input should|String should|should match|Field required|Value error|\^\[|\$'")


class Sample(BaseModel):
    qty: Quantity
    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")] = "A"
    odd: Annotated[str, Field(pattern=r"^x+$")] = "x"
    name: Annotated[str, Field(min_length=2, max_length=5)] = "ab"
    line: CleanLine = ""
    price: Decimal = Decimal(1)
    when: Annotated[str, Field()] = ""
    ratio: Annotated[int, Field(gt=0, lt=10)] = 1
    ratio_f: Annotated[float, Field(gt=0.5)] = 1.0
    flag: bool = False
    tags: Annotated[list[int], Field(max_length=2)] = []


def errors_for(**values: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        Sample.model_validate(values)
    return {str(e["loc"][0]): messages.for_error(e) for e in caught.value.errors()}


@pytest.mark.parametrize(
    ("values", "field", "expected"),
    [
        ({}, "qty", "Fill in this field."),
        ({"qty": "abc"}, "qty", "Enter a whole number, like 12."),
        ({"qty": 0}, "qty", "Enter 1 or more."),
        ({"qty": 2_000_000_000}, "qty", "Enter 1,000,000,000 or less."),
        ({"qty": 1, "code": "-x"}, "code", messages.CATALOGUE["code"]),
        ({"qty": 1, "odd": "y"}, "odd", "This value has characters that are not allowed here."),
        ({"qty": 1, "name": "a"}, "name", "Use at least 2 characters."),
        ({"qty": 1, "name": "abcdef"}, "name", "Use 5 characters or fewer."),
        ({"qty": 1, "line": "a\x00b"}, "line", "Must not contain control characters."),
        ({"qty": 1, "price": "ten"}, "price", "Enter a number, like 12.50."),
        ({"qty": 1, "ratio": 0}, "ratio", "Enter 1 or more."),
        ({"qty": 1, "ratio": 10}, "ratio", "Enter 9 or less."),
        ({"qty": 1, "ratio_f": 0.1}, "ratio_f", "Enter more than 0.5."),
        ({"qty": 1, "flag": "maybe"}, "flag", "Choose yes or no."),
        ({"qty": 1, "tags": [1, 2, 3]}, "tags", "Give 2 or fewer."),
        ({"qty": 1, "when": 5}, "when", "Enter text here."),
    ],
)
def test_each_rule_reads_as_a_sentence(values: dict[str, Any], field: str, expected: str) -> None:
    found = errors_for(**values)

    assert found[field] == expected
    assert not RAW.search(found[field])


def test_unknown_types_and_empty_value_errors_fall_back_to_a_plain_sentence() -> None:
    assert messages.for_error({"type": "something_new"}) == "This value is not valid here."
    assert messages.for_error({"type": "value_error", "msg": "Value error, "}) == (
        "This value is not valid here."
    )
    assert messages.for_error({"type": "value_error", "msg": "Value error, ends here!"}) == (
        "Ends here!"
    )


def test_numbers_are_written_as_the_pages_write_them() -> None:
    assert messages.format_number(1_000_000_000) == "1,000,000,000"
    assert messages.format_number(2.5) == "2.5"
    assert messages.format_number(Decimal("1234.50")) == "1,234.50"
    assert messages.format_number(3.0) == "3"
    assert messages.format_number(True) == "True"
    assert messages.format_number("n/a") == "n/a"


def test_the_job_number_rule_is_described_not_shown() -> None:
    with pytest.raises(ValidationError) as caught:
        JobCreate.model_validate(
            {"number": "-J 1", "assembly_part_number": "A", "qty": 1, "warehouse_id": 1}
        )

    found = [messages.for_error(e) for e in caught.value.errors()]
    assert found == [messages.CATALOGUE["code_slash"]]


def test_the_catalogue_the_pages_get_is_the_servers() -> None:
    assert json.loads(messages.catalogue_json()) == messages.CATALOGUE


async def test_api_answers_use_the_catalogue(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    # when a job is planned with a bad number and an impossible quantity
    response = await client.post(
        "/api/v1/jobs",
        json={"number": "-J 1", "assembly_part_number": "A", "qty": 0, "warehouse_id": 1},
        headers=admin_headers,
    )

    # then each field says what to do, in words
    assert response.status_code == 422
    errors = {e["loc"][-1]: e["msg"] for e in response.json()["errors"]}
    assert errors == {"number": messages.CATALOGUE["code_slash"], "qty": "Enter 1 or more."}
    assert not RAW.search(response.text)
