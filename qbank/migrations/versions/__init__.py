"""Revision scripts, oldest first: 0001 the baseline, then one per schema change."""
