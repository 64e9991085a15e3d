"""Textual app: screens and widgets only; reads stats snapshots, sends commands."""
