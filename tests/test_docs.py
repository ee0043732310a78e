"""The documentation keeps up with the code: every setting is in config.toml, every command
in the README, and the README's layout map names every module."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import get_args, get_origin

import typer
from pydantic import BaseModel

from mailhub.cli import AREAS, app
from mailhub.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def setting_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted keys of every leaf setting; a list of sections counts as its items' keys."""
    keys = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        item = get_args(annotation)[0] if get_origin(annotation) is list else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys += setting_keys(annotation, f"{prefix}{name}.")
        elif isinstance(item, type) and issubclass(item, BaseModel):
            keys += [f"[[{name}]]", *setting_keys(item, f"{prefix}{name}[].")]
        else:
            keys.append(f"{prefix}{name}")
    return keys


def test_every_setting_is_documented_in_config_toml() -> None:
    text = (ROOT / "config.toml").read_text()
    missing = []
    for key in setting_keys(Settings):
        if key == "source":
            continue
        name = key.rsplit(".", 1)[-1]
        if name.startswith("[["):
            if not re.search(rf"^#?\s*{re.escape(name)}", text, re.MULTILINE):
                missing.append(key)
        elif not re.search(rf"^#?\s*{re.escape(name)}\s*=", text, re.MULTILINE):
            missing.append(key)
    assert missing == []


def test_every_command_is_in_the_readme() -> None:
    """Every command and every sub-command: `mailhub theme merge`, not only `mailhub theme`."""
    readme = (ROOT / "README.md").read_text()
    root = typer.main.get_command(app)
    context = type(root).context_class(root)
    names = []
    for name in root.list_commands(context):
        names.append(name)
        command = AREAS[name].load(name) if name in AREAS else None  # as when it runs
        if hasattr(command, "list_commands"):
            names += [f"{name} {sub}" for sub in command.list_commands(context)]
    assert {"init", "member", "member add", "theme merge", "run-due"} <= set(names)
    missing = [name for name in names if f"mailhub {name}" not in readme]
    assert missing == []


def test_layout_map_names_every_module() -> None:
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout") :]
    missing = [
        path.stem
        for path in (ROOT / "mailhub").rglob("*.py")
        if path.stem != "__init__"
        and "migrations" not in path.parts
        and path.stem != "__main__"
        and path.stem not in layout
    ]
    assert missing == []


def test_behind_postfix_shows_what_mailhub_mta_postfix_prints() -> None:
    """The README's config block gives the main.cf lines the README shows: the same lines
    (main_cf_lines) that tests/test_postfix.py runs a real Postfix on."""
    import tomllib

    from mailhub.config import from_mapping
    from mailhub.mta.postfix import listener, main_cf_lines

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Behind Postfix") : readme.index("### Signing, SPF")]
    toml_block = section.split("```toml\n", 1)[1].split("```", 1)[0]
    settings = from_mapping(tomllib.loads(textwrap.dedent(toml_block)))
    shown = section.split("```text\n", 1)[1].split("```", 1)[0]
    lines = [line.strip() for line in shown.splitlines() if line.strip()]
    assert lines == main_cf_lines(settings.postfix_maps, "hash")
    assert f"`lmtp:{listener(settings)}`" in section
