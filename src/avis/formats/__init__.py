"""Date and number formats that override Django's per language (settings.FORMAT_MODULE_PATH)."""
