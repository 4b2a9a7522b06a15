"""Route modules: login, analyst pages, admin pages, the JSON API."""
