"""The terminal app: a Textual face on the core. The only package that imports textual."""
