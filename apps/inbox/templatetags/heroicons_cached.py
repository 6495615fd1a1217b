"""heroicons' template tags (heroicons 2.14), each icon built once per process.

The library's tags read the icon from its zip (cached), then deep-copy the SVG tree,
set the attributes and serialise it again on every call: about 0.17 ms an icon, eight
on every conversation page. The same tags here keep the finished markup per (name,
size, attributes); config/settings.py TEMPLATES names this module as the "heroicons"
library, so the templates keep `{% load heroicons %}` and the library's tag names."""

from __future__ import annotations

from functools import lru_cache

from django import template
from heroicons.templatetags import heroicons as library

register = template.Library()

_TAGS = {"micro": library.heroicon_micro, "mini": library.heroicon_mini,
         "outline": library.heroicon_outline, "solid": library.heroicon_solid}
_SIZES = {"micro": 16, "mini": 20, "outline": 24, "solid": 24}


@lru_cache(maxsize=512)
def _icon(style: str, name: str, size, attrs: tuple) -> str:
    return _TAGS[style](name, size=size, **dict(attrs))


def _tag(style: str):
    def tag(name: str, *, size: int | None = _SIZES[style], **attrs: object) -> str:
        try:
            return _icon(style, name, size, tuple(sorted(attrs.items())))
        except TypeError:  # an attribute value that cannot be a key: built as the library builds it
            return _TAGS[style](name, size=size, **attrs)

    tag.__name__ = f"heroicon_{style}"
    return tag


for _style in _TAGS:
    register.simple_tag(_tag(_style), name=f"heroicon_{_style}")
