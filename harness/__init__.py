"""Test harnesses: real local servers that tests/ and benchmarks/ start and stop.

- harness/llm_server.py: llama.cpp's OpenAI-compatible server with SmolLM2 (`make llm-server`
  installs it; `python -m harness.llm_server` runs one by hand);
- harness/chroma_server.py: a `chroma run` server on loopback.

Not part of the product: no package of it imports these (the import-linter contracts in
pyproject.toml check that). Like benchmarks/ and training/, it runs from the repository root.
"""
