"""Extraction: the spaCy pipeline, its components, lexicons and validators."""
