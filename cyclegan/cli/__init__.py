"""Thin argparse front ends: each builds a config and calls the library."""
