"""What crosses the HTTP boundary between gateway, payment_ms and the dispatcher.

msgspec Structs: Litestar validates them natively and they (de)serialise several times faster
than pydantic models, which matters on the checkout hot path. Strict types: ``true`` is not an
amount and ``10.5`` is not an integer.
"""

from shared.contracts.console import *
from shared.contracts.deliveries import *
from shared.contracts.partners import *
from shared.contracts.payments import *
from shared.contracts.types import *
