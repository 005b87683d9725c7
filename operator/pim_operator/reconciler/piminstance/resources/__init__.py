"""Pure builders: ``make_x(instance, ...)`` returns the desired child object as a dict.

They read nothing but their arguments, so they are unit-tested without a cluster, and the
handler only has to apply what they return.
"""
