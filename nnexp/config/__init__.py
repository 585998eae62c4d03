"""Hydra configuration: schemas, registration, composition and validation."""
