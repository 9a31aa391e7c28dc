"""The database: opening, checking and migrating it; timestamps; the values its columns hold; the one writer of attempts."""
