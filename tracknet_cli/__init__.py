"""tracknet: train, evaluate, run and ship ball-tracking models for racket-sports video."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tracknet-cli")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
