"""The counting contract (ARCHITECTURE.md "Counting contract"): every service answers the same
stats query with rows of {metric, population?, period?, station?, value}."""
