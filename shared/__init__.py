"""Gemini Tuning Pipeline: the library every Cloud Function ships with."""
