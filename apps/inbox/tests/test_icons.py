"""The "heroicons" template library is the cached one: the same markup as heroicons'
own tags, built once per icon and attributes."""

from django.template import Context, Template
from heroicons.templatetags import heroicons as library

from apps.inbox.templatetags import heroicons_cached


def test_the_templates_heroicons_tags_give_the_library_s_markup_built_once():
    heroicons_cached._icon.cache_clear()
    template = Template('{% load heroicons %}{% heroicon_outline "face-smile" size=20 aria_hidden="true" %}'
                        '{% heroicon_solid "map-pin" class=css %}')
    first = template.render(Context({"css": "pin"}))
    again = template.render(Context({"css": "pin"}))

    assert first == again == (library.heroicon_outline("face-smile", size=20, aria_hidden="true")
                              + library.heroicon_solid("map-pin", **{"class": "pin"}))
    info = heroicons_cached._icon.cache_info()
    assert (info.misses, info.hits) == (2, 2)
