"""Instant Jam: ``instant`` (InstantJam: skeleton -> orchestration -> audio with a timeout
and a fallback per phase), ``phases`` (the phases and their fallbacks), ``merge`` (parts
into one score)."""

__all__: list[str] = []
