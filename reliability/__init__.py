"""Reliability and security evidence: bad input, policy, faults and load, with figures (python -m reliability)."""
