"""normalise identities: numbers and partner keys stored before every input was normalised

Before issue 11 item 1 was fixed, a personal number typed with other Unicode digits (fullwidth,
Arabic-Indic …) was encrypted and hashed as typed, so a child could be stored twice in a municipality (and
paid twice), and partner keys (session codes, card numbers, partner person ids) could be stored in a
spelling the normalised channels no longer send. This data migration runs the repair of
:mod:`apn.identity_repair` over every tenant: numbers re-encrypted and re-hashed in ASCII digits, people who
turn out to be one merged into the older row (the same session twice is counted once), partner keys folded
unless the folded key is taken (then left and reported). No schema change.

The keys come from the app's configuration (``PNR_ENCRYPTION_KEY``, ``PNR_HASH_KEY``): run it with the
installation's settings. ``flask people renormalise`` runs the same repair again.

Revision ID: 0007_normalise_identities
Revises: 0006_association_person_name
Create Date: 2026-12-04 12:00:00

"""
import logging

from alembic import op

# revision identifiers, used by Alembic.
revision = '0007_normalise_identities'
down_revision = '0006_association_person_name'
branch_labels = None
depends_on = None

logger = logging.getLogger("alembic.runtime.migration")


def upgrade():
    from apn.identity_repair import renormalise

    report = renormalise(op.get_bind())
    logger.info("0007 identity repair: %s", report.summary())


def downgrade():
    """Nothing to undo: the repair changes data only, and putting the old spellings back (or splitting a
    merged person again) would bring back the double count it removed. The schema is that of 0006."""
