"""What customers say: their comments, filtered, tagged by admin-defined keyword rules, counted."""
