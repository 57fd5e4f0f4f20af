"""A plugin that claims a name another distribution also claims."""
