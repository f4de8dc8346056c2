"""The `slmscale` command. Thin: each stage module parses flags and calls the library."""
