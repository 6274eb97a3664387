"""The pairtui relay: orders edits, relays chat and presence, keeps edits safe."""
