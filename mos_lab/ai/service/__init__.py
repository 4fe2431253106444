"""The generation service: ``generation`` (GenerationService: bounded queue, concurrency
limit, deadlines, cancel, retries, fallbacks, validation, provenance), ``jobs`` (a job and
its future), ``pool`` (loaded models under a memory limit), ``ratelimit`` and ``_runner``
(calls under a deadline)."""

__all__: list[str] = []
