"""fabserver: a plugin-based CAM/slicing job server for a public fablab.

The core (this package, minus ``web``, ``store``, ``jobs`` and ``dispatch``) imports
neither Flask nor the database: designs, toolpath, estimate, preview, policy,
profiles and the plugin API are plain Python over numpy arrays.
"""

__version__ = "0.1.0"
