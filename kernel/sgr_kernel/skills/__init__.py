"""The skills API: the ``Skill`` contract (``base.py``) and the entry-point registry."""
