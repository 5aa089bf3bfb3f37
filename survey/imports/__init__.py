"""Reading uploaded tables: CRM exports, benchmark figures and transactional measures."""
