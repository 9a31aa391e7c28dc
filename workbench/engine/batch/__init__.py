"""Batch files: pending requests as OpenAI Batch API JSONL, and their results read back."""
