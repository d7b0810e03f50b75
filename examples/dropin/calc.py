"""A module with a bug, for the drop-in review app to find."""


def add(a, b):
    return a - b


def mul(a, b):
    return a * b
