"""manage.py makemessages — Django's command with two project defaults.

* Views import ``gettext_lazy as _lazy``; xgettext only knows Django's own keywords, so without
  ``--keyword=_lazy`` those strings would never reach locale/en/LC_MESSAGES/django.po.
* No fuzzy matching: a guessed translation of a similar msgid is wrong more often than not, and
  Django ignores fuzzy entries anyway; a new msgid stays empty until someone translates it.
"""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=_lazy"]
    msgmerge_options = [*makemessages.Command.msgmerge_options, "--no-fuzzy-matching"]
