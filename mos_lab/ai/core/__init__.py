"""What every part of ``mos_lab.ai`` shares: ``types`` (requests, results, provenance,
cancel tokens), ``errors``, ``backend`` (the one-method Backend protocol), ``validate``
(request and result checks) and ``audioio`` (audio conforming, decoding and export)."""

__all__: list[str] = []
