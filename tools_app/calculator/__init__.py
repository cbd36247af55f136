"""The reference calculator: tools, resources and prompts with a persisted history (a Django app)."""
