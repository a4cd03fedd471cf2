"""avis — customer satisfaction right after each interaction, with honest numbers."""

__version__ = "0.1.0"
