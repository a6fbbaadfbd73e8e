"""Request and response models: *Create / *Update inputs (extra fields refused), *Read outputs."""
