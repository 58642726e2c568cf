"""Inputs: gpiozero switches, the access filter, pin factories and simulation."""
