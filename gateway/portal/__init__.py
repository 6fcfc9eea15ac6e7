"""The partner portal: a partner's own endpoint, deliveries and API tokens, reached through a link an
operator issues; and the partners' pull feed ``GET /partner/v1/events``."""
