"""queuecast simulator: a faithful fake of Genesys Cloud with a contact-center world and fault injection.

Never imports ``proxy``: the truth is computed independently of the code it judges.
"""

from .settings import SimSettings

__all__ = ["SimSettings"]
