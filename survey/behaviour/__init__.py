"""What accounts do: loyalty from transactional measures and what predicts what."""
