"""The README's configuration table stays true: every setting, with its real default."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import SecretStr

from kosh.core.config import Settings

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| `(KOSH_[A-Z0-9_]+)` \| (`[^`]*`|\*unset\*) \| (.+) \|$")


def documented() -> dict[str, str]:
    rows: dict[str, str] = {}
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            name, default, meaning = match.groups()
            assert meaning.strip(), f"{name} has no meaning in the README"
            rows[name] = default.strip("`")
    return rows


def shown_default(value: object) -> str:
    """A default as the README writes it."""
    if value is None or value == "" or value == [] or value == {}:
        return "*unset*"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Path):
        return str(value) if value.is_absolute() else f"./{value}"
    return str(value)


def test_readme_lists_every_setting_with_its_default() -> None:
    actual = {
        f"KOSH_{name.upper()}": shown_default(field.get_default(call_default_factory=True))
        for name, field in Settings.model_fields.items()
    }
    rows = documented()

    missing = sorted(set(actual) - set(rows))
    unknown = sorted(set(rows) - set(actual))
    assert missing == [], f"add these settings to the README configuration table: {missing}"
    assert unknown == [], f"the README documents settings that do not exist: {unknown}"
    wrong = {name: (rows[name], actual[name]) for name in actual if rows[name] != actual[name]}
    assert wrong == {}, "README default != code default (readme, code)"


def test_docs_the_readme_points_to_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\((docs/[^)]+)\)", readme):
        assert (ROOT / target).is_file(), target
