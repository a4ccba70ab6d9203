"""Texts written by jobs for people to read later, in both of the application's languages.

A nightly job runs in neither reader's language, so a text it writes (an alert's detail, a
proposal's reason) is rendered in English and in Chinese and stored as both; each reader is shown
their own (`bilingual`)."""

from collections.abc import Callable

from django.utils.translation import get_language, override


def in_both(render: Callable[[], object]) -> tuple[str, str]:
    """(English, Chinese) of a text: `render` is called under each language."""
    with override("en"):
        english = str(render())
    with override("zh-hans"):
        chinese = str(render())
    return english, chinese


def bilingual(english: str, chinese: str) -> str:
    """The stored text in the reader's language (English where no Chinese was stored)."""
    return chinese if chinese and (get_language() or "").startswith("zh") else english
