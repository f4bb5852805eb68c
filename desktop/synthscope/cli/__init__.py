"""Headless commands built on the sampling, engine and session layers (never imports Qt)."""
