"""Local model backends; heavy libraries load inside each backend, never at package import."""
