"""fc-emulator: an offline emulator of Alibaba Cloud Function Compute 2.0."""

__version__ = "0.1.0"
