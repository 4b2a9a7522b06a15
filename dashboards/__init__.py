"""The web dashboard and Kibana saved objects."""
