"""`.env.example` names every variable the settings and gunicorn read, so an operator
copying it sees every knob there is."""

import ast
import re
from pathlib import Path

from loyaltysite import env

ROOT = Path(__file__).resolve().parent.parent
READERS = {name for name in dir(env) if name.startswith("env")}


def _variables_read(path: Path) -> set[str]:
    """The names passed to the env helpers (envstr("DEBUG", ...)) or to os.environ."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and node.args:
            function = node.func
            helper = isinstance(function, ast.Name) and function.id in READERS
            environ_get = (
                isinstance(function, ast.Attribute)
                and function.attr == "get"
                and ast.unparse(function.value) == "os.environ"
            )
            first = node.args[0]
            if (helper or environ_get) and isinstance(first, ast.Constant):
                names.add(first.value)
        elif (
            isinstance(node, ast.Subscript)
            and ast.unparse(node.value) == "os.environ"
            and isinstance(node.slice, ast.Constant)
        ):
            names.add(node.slice.value)
    return names


def _listed() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def test_the_parser_finds_the_settings_it_is_meant_to_find():
    found = _variables_read(ROOT / "loyaltysite" / "settings.py")
    assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DB_CONN_MAX_AGE"} <= found
    assert "WEB_CONCURRENCY" in _variables_read(ROOT / "gunicorn.conf.py")


def test_every_variable_the_settings_and_gunicorn_read_is_in_env_example():
    read = _variables_read(ROOT / "loyaltysite" / "settings.py")
    read |= _variables_read(ROOT / "gunicorn.conf.py")

    missing = sorted(read - _listed())
    assert not missing, f".env.example lacks {', '.join(missing)}"


def test_env_example_names_nothing_that_is_not_read():
    read = _variables_read(ROOT / "loyaltysite" / "settings.py")
    read |= _variables_read(ROOT / "gunicorn.conf.py")

    unknown = sorted(_listed() - read)
    assert not unknown, f".env.example sets {', '.join(unknown)}, which nothing reads"
