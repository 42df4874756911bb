"""fabserver's FDM slicer: STL → G-code for Marlin 2 and Klipper printers."""

import gc

from .plugin import FdmPlugin

# What is loaded by now (trimesh, scipy, shapely, numpy: several hundred thousand
# objects) lives as long as the process. Out of the cyclic collector's reach, it
# is no longer walked by every full collection nor by the one at interpreter exit:
# 0.15 s of a command-line plan. Objects that die later are still freed as usual.
gc.freeze()

__all__ = ["FdmPlugin"]
