"""A local, seeded replica of the sources narcwatch crawls, served on 127.0.0.1."""
