"""cnncli: image filters and exact PyTorch-parity CNN calculators for the terminal."""

__version__ = "0.1.0"
