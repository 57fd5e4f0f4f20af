"""A plugin whose modules fail to import (a missing dependency)."""
