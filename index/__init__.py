"""The store: interface, backends, query language, change detection, alert rules."""
