"""Manifests, token shards, interleaved sequences, and the packed training loader."""
