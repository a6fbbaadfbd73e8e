"""A project's progress: the projects service counts its own targets, and the figures only the
cases service can count (casework within the project's coverage) are asked of it here."""
