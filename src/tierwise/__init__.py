"""tierwise: an open-source sales segmentation engine."""

__version__ = "0.1.0"
