"""capacity: school-place capacity planning."""
__version__ = "0.1.0"
