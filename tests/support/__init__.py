"""Test and benchmark support (``spikeloom.testing``): seeded stimulus, the cocotb
harnesses and bus helpers, the job protocol between pytest and cocotb.

Imported by tests/, bench/ and the cocotb modules; nothing in the library
imports it.
"""
