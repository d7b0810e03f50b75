"""Auto-instrumentation of LLM client libraries.

One instrumentor per library (``openai``, ``anthropic``), each a ``BaseInstrumentor``
registered under the ``opentelemetry_instrumentor`` entry point. They share what every LLM
call needs — the span and its official attributes, cost, metrics (:mod:`.llm_call`), stream
wrapping (:mod:`.streams`) and message content capture (:mod:`.messages`) — and differ only
in how they read their library's requests and responses.
"""
