"""Leaders' digests."""
