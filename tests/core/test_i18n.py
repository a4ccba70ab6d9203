"""The Simplified Chinese catalogue: complete for the code as it is, compiled, and served.

The completeness test re-extracts the messages the way a developer would (`makemessages`), but
into a scratch copy of the catalogue, and fails if that leaves anything untranslated or fuzzy:
a new string without a translation fails CI instead of showing English to Chinese users.

Why a copy of the source tree too: when run from a directory that has a `locale/` folder,
`makemessages` appends that folder to LOCALE_PATHS and writes the catalogue of every file below
it there, whatever settings say. Run from the real project it would rewrite the committed .po.
So the source (only what `makemessages` reads: .py, .html, .txt) is copied next to the scratch
catalogue, and GRIDCOLLECT_LOCALE_DIR (config/settings/test.py) points LOCALE_PATHS at it.
"""

import gettext
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

BASE_DIR = Path(settings.BASE_DIR)
LANGUAGE = "zh_Hans"
PO = BASE_DIR / "locale" / LANGUAGE / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")

# Folders whose strings do not belong in the catalogue (tools, vendored assets, tests).
IGNORED = [".venv", "static", "bench", "tests"]
EXTRACTED_SUFFIXES = {".py", ".html", ".txt"}  # makemessages' defaults for the "django" domain


def require_gettext(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"GNU gettext is not installed (missing {', '.join(missing)}); CI installs it")


def copy_sources(destination: Path) -> None:
    """Copy the files makemessages would read, leaving out locale/ and the ignored folders."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped_folders = {"__pycache__", *IGNORED, "locale"} if Path(directory) == BASE_DIR else {"__pycache__"}

        def skipped(name: str) -> bool:
            path = Path(directory, name)
            if name.startswith(".") or name in skipped_folders:
                return True
            return not path.is_dir() and path.suffix not in EXTRACTED_SUFFIXES

        return {name for name in names if skipped(name)}

    shutil.copytree(BASE_DIR, destination, ignore=ignore)


def msgfmt_statistics(po: Path) -> str:
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", os.devnull, str(po)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr + result.stdout


def test_catalogue_is_complete_for_the_code(tmp_path):
    require_gettext("xgettext", "msgmerge", "msguniq", "msgfmt")
    locale_dir = tmp_path / "locale"
    scratch_po = locale_dir / LANGUAGE / "LC_MESSAGES" / "django.po"
    scratch_po.parent.mkdir(parents=True)
    shutil.copy2(PO, scratch_po)
    source = tmp_path / "src"
    copy_sources(source)

    ignores = [arg for folder in IGNORED for arg in ("-i", f"{folder}/*")]
    command = [sys.executable, "manage.py", "makemessages", "-l", LANGUAGE, "--no-obsolete", "--no-location"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "GRIDCOLLECT_LOCALE_DIR": str(locale_dir)}
    result = subprocess.run(
        [*command, *ignores], cwd=source, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (source / "locale").exists(), "makemessages wrote outside the scratch catalogue"

    statistics = msgfmt_statistics(scratch_po)
    fix = f"run `make messages` and translate the new or changed entries of {PO.relative_to(BASE_DIR)}"
    assert "untranslated" not in statistics, f"{statistics.strip()}: {fix}"
    assert "fuzzy" not in statistics, f"{statistics.strip()}: {fix}"
    assert "translated message" in statistics, statistics


def test_committed_catalogue_has_no_untranslated_or_fuzzy_entries():
    require_gettext("msgfmt")
    statistics = msgfmt_statistics(PO)
    assert "untranslated" not in statistics, statistics
    assert "fuzzy" not in statistics, statistics


def test_compiled_catalogue_matches_the_po(tmp_path):
    require_gettext("msgfmt")
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(PO)], check=True, capture_output=True)
    with fresh.open("rb") as f:
        expected = gettext.GNUTranslations(f)._catalog
    with MO.open("rb") as f:
        committed = gettext.GNUTranslations(f)._catalog
    assert committed == expected, "django.mo is stale: run `python manage.py compilemessages -l zh_Hans -i .venv`"


@pytest.fixture
def restore_language():
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.mark.usefixtures("portfolio", "restore_language")
def test_manager_can_switch_the_interface_to_chinese_and_back(client, manager):
    with translation.override("zh-hans"):
        customers_zh = translation.gettext("Customers")
        manager_zh = translation.gettext("Manager")
    assert customers_zh != "Customers", "no Chinese translation of 'Customers' is loaded"
    client.force_login(manager)
    url = reverse("customers:list")

    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": url})
    assert response.status_code == 302
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert '<html lang="zh-hans">' in html
    assert f">{customers_zh}</a>" in html
    assert manager_zh in html
    assert ">Customers</a>" not in html

    response = client.post(reverse("set_language"), {"language": "en", "next": url})
    assert response.status_code == 302
    html = client.get(url).content.decode()
    assert '<html lang="en">' in html
    assert ">Customers</a>" in html
    assert f">{customers_zh}</a>" not in html
