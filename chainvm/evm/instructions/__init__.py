"""Opcode bodies, grouped by family. Each takes (frame, stack, pc) and returns the next pc.

Static gas and stack bounds are checked by the interpreter loop from the
fork's table; a body charges only dynamic gas.
"""
