"""Serializer helpers shared by the REST API and live events."""

import copy


class CachedFieldsMixin:
    """Build a ModelSerializer's fields once per class instead of once per object.

    DRF introspects the model for every serializer instance; live events serialize
    one object at a time on the hot path (every inbound message), where that
    introspection was about a third of the processing time. Only for serializers
    whose fields do not depend on the context or the instance.
    """

    def get_fields(self):
        cls = type(self)
        cached = cls.__dict__.get("_cached_fields")
        if cached is None:
            cached = super().get_fields()
            cls._cached_fields = cached
        return copy.deepcopy(cached)
