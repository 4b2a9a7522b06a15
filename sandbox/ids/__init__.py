"""Identifiers the sandbox plants in pages: wallets, onion v3 names, CAS numbers, PGP keys.

Each module generates *and* validates its format so the tests can prove that every
identifier the ground truth calls valid really is, and every decoy really is not. These
validators are private to the sandbox: the product's own validators live in
``extract/`` and are written independently, so one cannot hide the other's bug.
"""
