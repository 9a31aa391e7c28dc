"""Reading a job back: the report, recipes compared, browse (Datasette, its plugin, word diff)."""
