"""Model ladder, construction from shards' vocabulary, parameter and FLOP accounting."""
