"""Downloader middlewares: routing and the leak guard, evidence capture, sessions, politeness."""
