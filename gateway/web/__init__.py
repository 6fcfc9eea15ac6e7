"""What the operator console and the partner portal share: browser sessions and CSRF, security headers,
templates, static assets, HTML error pages and the typed reads of payment_ms both pages make."""
