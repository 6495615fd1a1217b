"""The composer's emoji picker: the everyday set, and search by name in the agent's
language and in English, from the `emoji` library's data (Unicode's CLDR names)."""

from __future__ import annotations

from functools import cache

import emoji

# The set the picker opens with (a support team's everyday ones).
EVERYDAY = ["😀", "😂", "😊", "😍", "😉", "😎", "🤔", "😅", "😢", "😡", "👍", "👎", "👏", "🙏", "🙌",
            "💪", "👋", "🤝", "❤️", "🔥", "🎉", "✅", "❌", "⭐", "📦", "🚚", "💳", "📞", "⏰", "📍"]
MAX_RESULTS = 64
SKIN_TONES = {chr(code) for code in range(0x1F3FB, 0x1F400)}


def _language(code: str | None) -> str:
    code = (code or "en").split("-")[0].lower()
    return code if code in emoji.LANGUAGES else "en"


def _words(name: str) -> str:
    return name.strip(":").replace("_", " ").lower()


@cache
def _index(language: str) -> list[tuple[str, str, str]]:
    """(emoji, its name in `language`, its English name) for every fully qualified
    emoji without a skin tone, in Unicode's order."""
    if language != "en":
        emoji.config.load_language(language)
    rows = []
    for char, data in emoji.EMOJI_DATA.items():
        if data.get("status") != emoji.STATUS["fully_qualified"] or SKIN_TONES & set(char):
            continue
        english = _words(data.get("en", ""))
        rows.append((char, _words(data.get(language, "")) or english, english))
    return rows


def emoji_name(char: str, language: str | None) -> str:
    data = emoji.EMOJI_DATA.get(char) or emoji.EMOJI_DATA.get(char.replace("\ufe0f", "")) or {}
    lang = _language(language)
    if lang != "en":
        emoji.config.load_language(lang)
    return _words(data.get(lang) or data.get("en") or "") or char


def emoji_search(q: str, *, language: str | None) -> list[tuple[str, str]]:
    """(emoji, name) matching every word of `q` (in the language's names or English),
    at most MAX_RESULTS; the everyday set when `q` is empty."""
    lang = _language(language)
    words = q.lower().split()
    if not words:
        return [(char, emoji_name(char, lang)) for char in EVERYDAY]
    found = []
    for char, name, english in _index(lang):
        if all(word in name or word in english for word in words):
            found.append((char, name))
            if len(found) == MAX_RESULTS:
                break
    return found
