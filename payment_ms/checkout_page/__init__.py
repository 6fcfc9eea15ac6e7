"""The mock provider's hosted checkout page (public: the payer's browser reaches it, no token)."""
