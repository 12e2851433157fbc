"""GlobeCo Order Generation Service: investment models and exact integer rebalancing."""

__version__ = "0.1.0"
