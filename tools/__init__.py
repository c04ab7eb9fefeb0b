"""Developer tools that are not part of the installed product: screenshots for the docs, the
GPU self-test run on a CUDA machine. Run from a checkout, e.g. ``python -m tools.NAME``."""
