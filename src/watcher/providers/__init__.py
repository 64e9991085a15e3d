"""LLM backends behind one interface."""
