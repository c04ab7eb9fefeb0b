"""The watchlist: named symbol lists on disk, a table model, and its sort/filter proxy."""
