"""Speaking to OpenAI-compatible servers: the HTTP client, the retry policies, the embedded llama.cpp server."""
