"""The offline Markov chain: melodies and chords trained on first use from music21's Bach
chorales (or the user's files), cached as ``.npz``; the fast fallback that needs no torch.

``backend`` (:class:`~mos_lab.ai.models.markov.backend.MarkovBackend`), ``corpus`` (the
melodies it learns from).
"""

__all__: list[str] = []
