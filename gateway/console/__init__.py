"""The operator console: server-rendered pages for admin users (their normal login)."""
