"""The assistant: ``chat`` (Assistant: tool calls, rate limit, history budget), ``llm``
(an OpenAI-compatible chat-completions client), ``rules`` (the offline interpreter),
``tools`` (the tools and their JSON Schemas), ``images`` (image checks)."""

__all__: list[str] = []
