"""Everything that reads from or writes to Label Studio."""
