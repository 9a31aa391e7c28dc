"""The database: opening, checking, migrating it; its timestamps, values and attempts writer."""
