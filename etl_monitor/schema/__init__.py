"""Tables as data, and setup(): creating, attaching and migrating the schema."""
