"""Decoding any upload or recording to mono float32, chunked streaming decode, typed errors, signal helpers, generated signals."""
