"""Model servers: File → Connect to a model server…, and the addresses used before."""
