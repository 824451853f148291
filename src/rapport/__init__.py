"""rapport: self-hostable customer-data and agentic personalization platform."""

__version__ = "0.1.0"
__all__ = ["__version__"]
