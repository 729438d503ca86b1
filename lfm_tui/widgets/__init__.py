"""The dashboard's widgets, one file each; each draws the plain values it is handed (no session)."""
