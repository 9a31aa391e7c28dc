"""Speaking to OpenAI-compatible servers: HTTP client, retry policies, embedded llama.cpp."""
