"""Reading and writing image files (registry and formats land here)."""
