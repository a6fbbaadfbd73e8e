"""The casework service: beneficiaries, cases and their records, and casework counts."""
