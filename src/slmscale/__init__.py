"""slmscale: train speech language models and measure how they scale."""

__version__ = "0.1.0"
