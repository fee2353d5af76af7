"""Seed dialects: thin adapters that speak each seed document's API over the native services.

An adapter parses the seed's request, calls the same service as the native endpoint, and renders
the seed's response shape. No behaviour lives here: state words and field names only.
"""
