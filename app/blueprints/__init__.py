"""One blueprint per area of Warble."""
