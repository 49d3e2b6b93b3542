"""Values and expressions: pixel types, geometry, images and the operations on them.

Nothing here reads files or runs an evaluation loop; ``io`` and ``evaluate``
build on this package, never the other way round.
"""
