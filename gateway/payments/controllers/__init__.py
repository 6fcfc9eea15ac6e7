"""The payment routes of the gateway, one module per audience: the payer (``payer``), admins
(``admin``) and the providers' callbacks (``providers``)."""
