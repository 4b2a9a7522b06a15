"""Spiders: one per site family, the profile-driven spider, and site profiles (YAML)."""
