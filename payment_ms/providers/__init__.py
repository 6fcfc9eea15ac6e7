"""Payment providers behind one interface (``base.Provider``): mock, stripe, cash."""
