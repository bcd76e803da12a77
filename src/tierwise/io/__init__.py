"""Input and output: CRM export presets and the loaders that quarantine bad rows."""
