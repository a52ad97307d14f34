"""Adapting to group shift: ARM (CML, BN, LL), its baselines, and the digits group-shift datasets."""
