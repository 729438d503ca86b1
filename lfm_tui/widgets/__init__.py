"""The dashboard's widgets, one file each; each draws from a RunSession when asked."""
